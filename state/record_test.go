package state

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// goldenCheckpoints is the fixture of the on-disk format: every field set,
// an empty value, a negative offset, a drop, a Full record after it.
func goldenCheckpoints() []*Checkpoint {
	return []*Checkpoint{
		{
			Seq: 1, Offset: 1234567, Meta: []byte("meta\x00blob"),
			Cards:   []KV{{Key: []byte("card:330200:0001"), Value: []byte("state-1")}, {Key: []byte("empty"), Value: nil}},
			Drops:   []string{"old"},
			Appends: []Append{{List: "taps:2025-03-03", Blob: []byte("tap-a")}, {List: "taps:2025-03-03", Blob: []byte("tap-b")}},
		},
		{Seq: 2, Offset: -1, Full: true, Cards: []KV{{Key: []byte("k"), Value: []byte("v")}}},
	}
}

func goldenLog() []byte {
	b := appendFileHeader(nil)
	for _, cp := range goldenCheckpoints() {
		b = appendRecord(b, cp)
	}
	return b
}

// TestLogFormatGolden pins the byte layout of the log: a change to the
// encoding must be deliberate (a new version) because logs written by the
// old binary must stay readable. Regenerate with -update.
func TestLogFormatGolden(t *testing.T) {
	path := filepath.Join("testdata", "log_v1.golden")
	got := goldenLog()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("encoding changed:\n got %x\nwant %x", got, want)
	}
	// And the golden file reads back as the fixture.
	res, err := replay(bytes.NewReader(want), int64(len(want)), path)
	if err != nil || res.tornAt != -1 || res.good != int64(len(want)) {
		t.Fatalf("replay of golden log: %+v, %v", res, err)
	}
	m := newModel()
	for _, cp := range goldenCheckpoints() {
		m.apply(cp)
	}
	m.check(t, "golden", res.snap)
}

// TestPayloadRoundTrip encodes and decodes checkpoints field by field.
func TestPayloadRoundTrip(t *testing.T) {
	cases := append(goldenCheckpoints(),
		&Checkpoint{Seq: 1<<64 - 1, Offset: -1 << 63},
		&Checkpoint{Seq: 7, Offset: 1<<63 - 1, Full: true, Drops: []string{"a", "b"}},
	)
	g := newGen(77)
	for seq := uint64(1); seq <= 20; seq++ {
		cases = append(cases, g.next(seq, 5))
	}
	for _, cp := range cases {
		payload := appendPayload(nil, cp)
		if len(payload) != payloadSize(cp) {
			t.Errorf("seq %d: payloadSize %d, encoded %d", cp.Seq, payloadSize(cp), len(payload))
		}
		var got Checkpoint
		if err := decodePayload(payload, &got); err != nil {
			t.Fatalf("seq %d: decode: %v", cp.Seq, err)
		}
		if !sameCheckpoint(&got, cp) {
			t.Errorf("seq %d: round trip\n got %+v\nwant %+v", cp.Seq, got, *cp)
		}
		// Every strict prefix fails cleanly.
		for n := range len(payload) {
			if err := decodePayload(payload[:n], &got); err == nil {
				t.Fatalf("seq %d: prefix of %d/%d bytes decoded", cp.Seq, n, len(payload))
			}
		}
		if err := decodePayload(append(payload, 0), &got); !errors.Is(err, errTrailingBytes) {
			t.Errorf("seq %d: trailing byte: %v", cp.Seq, err)
		}
	}
}

// sameCheckpoint compares checkpoints treating nil and empty slices alike.
func sameCheckpoint(a, b *Checkpoint) bool {
	norm := func(cp *Checkpoint) Checkpoint {
		n := Checkpoint{Seq: cp.Seq, Offset: cp.Offset, Full: cp.Full, Meta: append([]byte{}, cp.Meta...)}
		for _, e := range cp.Cards {
			n.Cards = append(n.Cards, KV{Key: append([]byte{}, e.Key...), Value: append([]byte{}, e.Value...)})
		}
		n.Drops = append(n.Drops, cp.Drops...)
		for _, a := range cp.Appends {
			n.Appends = append(n.Appends, Append{List: a.List, Blob: append([]byte{}, a.Blob...)})
		}
		return n
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

// FuzzDecodePayload: the record decoder never panics, and whatever it
// accepts encodes back to a payload that decodes to the same checkpoint.
func FuzzDecodePayload(f *testing.F) {
	for _, cp := range goldenCheckpoints() {
		f.Add(appendPayload(nil, cp))
	}
	g := newGen(5)
	for seq := uint64(1); seq <= 5; seq++ {
		f.Add(appendPayload(nil, g.next(seq, 3)))
	}
	f.Add([]byte{})
	f.Add([]byte{1, 0, 1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, payload []byte) {
		var cp Checkpoint
		if err := decodePayload(payload, &cp); err != nil {
			return
		}
		enc := appendPayload(nil, &cp)
		if len(enc) != payloadSize(&cp) {
			t.Fatalf("payloadSize %d, encoded %d", payloadSize(&cp), len(enc))
		}
		var again Checkpoint
		if err := decodePayload(enc, &again); err != nil {
			t.Fatalf("re-encoded payload does not decode: %v", err)
		}
		if !sameCheckpoint(&cp, &again) {
			t.Fatalf("round trip differs:\n%+v\n%+v", cp, again)
		}
	})
}

// FuzzReplay: replaying arbitrary log bytes never panics; a log it accepts
// replays the same after its torn tail is cut off, and its snapshot written
// as one Full record replays to the same snapshot.
func FuzzReplay(f *testing.F) {
	log := goldenLog()
	f.Add(log)
	f.Add(log[:len(log)-3])
	f.Add(append(append([]byte{}, log...), make([]byte, 40)...))
	f.Add(appendFileHeader(nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := replay(bytes.NewReader(data), int64(len(data)), "fuzz")
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		if res.good > int64(len(data)) || (res.tornAt != -1 && res.tornAt != res.good) || (res.tornAt == -1 && res.good != int64(len(data))) {
			t.Fatalf("inconsistent result: good %d, torn at %d, size %d", res.good, res.tornAt, len(data))
		}
		cut := data[:res.good]
		again, err := replay(bytes.NewReader(cut), int64(len(cut)), "fuzz")
		if err != nil || again.tornAt != -1 {
			t.Fatalf("replay of the truncated log: torn at %d, %v", again.tornAt, err)
		}
		if !reflect.DeepEqual(normSnap(again.snap), normSnap(res.snap)) {
			t.Fatal("truncated log replays differently")
		}
		if res.snap.Seq == 0 {
			return
		}
		full := appendRecord(appendFileHeader(nil), res.snap.fullCheckpoint())
		compact, err := replay(bytes.NewReader(full), int64(len(full)), "fuzz")
		if err != nil || compact.tornAt != -1 {
			t.Fatalf("replay of the compacted log: %v", err)
		}
		if !reflect.DeepEqual(normSnap(compact.snap), normSnap(res.snap)) {
			t.Fatal("compacted log replays differently")
		}
	})
}

// normSnap makes nil and empty byte slices compare equal.
func normSnap(s *Snapshot) Snapshot {
	n := Snapshot{Seq: s.Seq, Offset: s.Offset, Meta: append([]byte{}, s.Meta...), Cards: map[string][]byte{}, Lists: map[string][][]byte{}}
	for k, v := range s.Cards {
		n.Cards[k] = append([]byte{}, v...)
	}
	for k, l := range s.Lists {
		for _, b := range l {
			n.Lists[k] = append(n.Lists[k], append([]byte{}, b...))
		}
	}
	return n
}
