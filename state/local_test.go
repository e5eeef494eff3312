package state

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// localLog commits the checkpoints to partition 0 of a Local store in a
// fresh folder and returns the folder, the log's bytes and the offset of
// every record (plus the end offset).
func localLog(t *testing.T, cps []*Checkpoint) (dir string, data []byte, offsets []int64) {
	t.Helper()
	dir = t.TempDir()
	s, err := NewLocal(dir, LocalOptions{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	load(t, s, 0)
	offsets = []int64{fileHeaderLen}
	for _, cp := range cps {
		commit(t, s, 0, cp)
		offsets = append(offsets, s.LogBytes(0))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	data, err = os.ReadFile(logPath(dir, 0))
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(data)) != offsets[len(offsets)-1] {
		t.Fatalf("log is %d bytes, LogBytes said %d", len(data), offsets[len(offsets)-1])
	}
	return dir, data, offsets
}

func logPath(dir string, p int) string {
	return filepath.Join(dir, fmt.Sprintf(partFmt, p), logName)
}

// quietLocal opens a Local store whose warnings go to a counter, not the
// test output.
func quietLocal(t *testing.T, dir string, warnings *atomic.Int64) *Local {
	t.Helper()
	h := &countHandler{n: warnings}
	s, err := NewLocal(dir, LocalOptions{NoSync: true, Logger: slog.New(h)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

type countHandler struct{ n *atomic.Int64 }

func (h *countHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn && h.n != nil {
		h.n.Add(1)
	}
	return nil
}
func (h *countHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countHandler) WithGroup(string) slog.Handler      { return h }

// threeRecords returns three small checkpoints (each with cards, a drop and
// appends, so that every field is exercised) and the models before and after each.
func threeRecords() ([]*Checkpoint, []*model) {
	var cps []*Checkpoint
	models := []*model{newModel()}
	for seq := uint64(1); seq <= 3; seq++ {
		cp := &Checkpoint{Seq: seq, Offset: int64(seq) * 1000, Meta: fmt.Appendf(nil, "meta-%d", seq),
			Cards: []KV{
				{Key: fmt.Appendf(nil, "card-%d", seq), Value: bytes.Repeat([]byte{byte(seq)}, 40)},
				{Key: []byte("card-shared"), Value: fmt.Appendf(nil, "v%d", seq)},
			},
			Drops:   []string{fmt.Sprintf("list-%d", seq-1)},
			Appends: []Append{{List: fmt.Sprintf("list-%d", seq), Blob: fmt.Appendf(nil, "tap-%d-a", seq)}, {List: "all", Blob: fmt.Appendf(nil, "tap-%d-b", seq)}},
		}
		cps = append(cps, cp)
		m := newModel()
		for _, c := range cps {
			m.apply(c)
		}
		models = append(models, m)
	}
	return cps, models
}

// TestLocalTornTail cuts the log at every byte offset inside the last
// record, as a crash mid-write would: Load must return the state of the
// previous record, truncate the file there (with a warning), and accept the
// next commit.
func TestLocalTornTail(t *testing.T) {
	cps, models := threeRecords()
	dir, data, offsets := localLog(t, cps)
	last, end := offsets[2], offsets[3]
	if end-last < 20 {
		t.Fatalf("last record is only %d bytes", end-last)
	}
	path := logPath(dir, 0)
	for cut := last; cut <= end; cut++ {
		if err := os.WriteFile(path, data[:cut], filePerm); err != nil {
			t.Fatal(err)
		}
		var warnings atomic.Int64
		s := quietLocal(t, dir, &warnings)
		snap, err := s.Load(context.Background(), 0)
		if err != nil {
			t.Fatalf("cut at %d: Load: %v", cut, err)
		}
		want, wantSize, wantWarn := models[2], last, cut > last && cut < end
		if cut == end {
			want, wantSize = models[3], end
		}
		want.check(t, fmt.Sprintf("cut at %d", cut), snap)
		if got := s.LogBytes(0); got != wantSize {
			t.Errorf("cut at %d: LogBytes = %d, want %d", cut, got, wantSize)
		}
		if st, err := os.Stat(path); err != nil || st.Size() != wantSize {
			t.Errorf("cut at %d: file not truncated to %d: %v %v", cut, wantSize, st.Size(), err)
		}
		if (warnings.Load() > 0) != wantWarn {
			t.Errorf("cut at %d (last record %d..%d): %d warnings, want warning %v", cut, last, end, warnings.Load(), wantWarn)
		}
		if cut < end {
			// The sequence goes on from the recovered state.
			commit(t, s, 0, cps[2])
			if err := s.Release(0); err != nil {
				t.Fatal(err)
			}
			models[3].check(t, fmt.Sprintf("cut at %d, recommitted", cut), load(t, s, 0))
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLocalDamagedTail covers tails that are not a prefix of a record: the
// zero-filled or garbage space a crash can leave after the last good record.
func TestLocalDamagedTail(t *testing.T) {
	cps, models := threeRecords()
	dir, data, offsets := localLog(t, cps)
	lastRecord := data[offsets[2]:offsets[3]]
	cases := []struct {
		name string
		tail []byte
		want *model
	}{
		{"zeros", make([]byte, 4096), models[3]},
		{"ones", bytes.Repeat([]byte{0xff}, 100), models[3]},
		{"text", []byte("not a record at all, just some garbage that runs on"), models[3]},
		// The final record's payload damaged: indistinguishable from a torn
		// write, so the record before it is what survives.
		{"last record damaged", nil, models[2]},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img := append([]byte(nil), data...)
			if c.tail != nil {
				img = append(img, c.tail...)
			} else {
				img[len(img)-len(lastRecord)/2] ^= 0x40
			}
			if err := os.WriteFile(logPath(dir, 0), img, filePerm); err != nil {
				t.Fatal(err)
			}
			var warnings atomic.Int64
			s := quietLocal(t, dir, &warnings)
			c.want.check(t, c.name, load(t, s, 0))
			if warnings.Load() == 0 {
				t.Error("no warning logged for the dropped tail")
			}
		})
	}
}

// TestLocalCorruptMiddle flips every byte of the file header and of the
// first two records, one at a time: each must be ErrCorrupt naming the file
// and the offset of the damaged record, never a silent truncation.
func TestLocalCorruptMiddle(t *testing.T) {
	cps, _ := threeRecords()
	dir, data, offsets := localLog(t, cps)
	path := logPath(dir, 0)
	recordAt := func(i int64) int64 {
		if i < fileHeaderLen {
			return 0
		}
		for r := len(offsets) - 2; r >= 0; r-- {
			if i >= offsets[r] {
				return offsets[r]
			}
		}
		return 0
	}
	s := quietLocal(t, dir, nil)
	for i := int64(0); i < offsets[2]; i++ {
		img := append([]byte(nil), data...)
		img[i] ^= 0x01
		if err := os.WriteFile(path, img, filePerm); err != nil {
			t.Fatal(err)
		}
		_, err := s.Load(context.Background(), 0)
		var ce *CorruptError
		if !errors.Is(err, ErrCorrupt) || !errors.As(err, &ce) {
			t.Fatalf("byte %d flipped: Load = %v, want *CorruptError", i, err)
		}
		if ce.Path != path || ce.Offset != recordAt(i) {
			t.Fatalf("byte %d flipped: %v; want file %s offset %d", i, err, path, recordAt(i))
		}
		if !strings.Contains(err.Error(), path) {
			t.Fatalf("error %q does not name the file", err)
		}
	}
	// A failed Load does not keep the partition.
	if err := s.Commit(context.Background(), 0, cps[0]); !errors.Is(err, ErrFenced) {
		t.Errorf("Commit after failed Load = %v, want ErrFenced", err)
	}
}

// TestLocalStructuralCorruption covers logs whose records are intact but
// whose content is impossible.
func TestLocalStructuralCorruption(t *testing.T) {
	rec := func(seq uint64, full bool) []byte {
		return appendRecord(nil, &Checkpoint{Seq: seq, Full: full, Meta: []byte("m")})
	}
	header := appendFileHeader(nil)
	futurePayload := rec(1, false)
	futurePayload[frameHeaderLen] = 9 // record version 9
	refreshFrame(futurePayload)
	cases := []struct {
		name   string
		file   []byte
		reason string
	}{
		{"empty file", nil, "shorter than its"},
		{"bad magic", append([]byte("tapstatX"), header[8:]...), "bad magic"},
		{"format version", fileHeaderVersion(2), "unsupported log format version 2"},
		{"seq jump", concat(header, rec(1, false), rec(3, false)), "seq 3 follows seq 1"},
		{"seq repeat", concat(header, rec(1, false), rec(1, false)), "seq 1 follows seq 1"},
		{"seq zero", concat(header, rec(0, false)), "seq 0"},
		{"record version", concat(header, futurePayload, rec(2, false)), "unsupported record version 9"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.MkdirAll(filepath.Dir(logPath(dir, 0)), dirPerm); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(logPath(dir, 0), c.file, filePerm); err != nil {
				t.Fatal(err)
			}
			_, err := quietLocal(t, dir, nil).Load(context.Background(), 0)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), c.reason) {
				t.Fatalf("Load = %v, want ErrCorrupt with %q", err, c.reason)
			}
		})
	}
	// A Full record may start a file with any seq (the rewrite after an I/O
	// failure keeps the seq it had); after it the sequence must continue.
	dir := t.TempDir()
	_ = os.MkdirAll(filepath.Dir(logPath(dir, 0)), dirPerm)
	if err := os.WriteFile(logPath(dir, 0), concat(header, rec(7, true), rec(8, false)), filePerm); err != nil {
		t.Fatal(err)
	}
	if snap := load(t, quietLocal(t, dir, nil), 0); snap.Seq != 8 {
		t.Fatalf("seq = %d, want 8", snap.Seq)
	}
}

func concat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

// fileHeaderVersion returns a well-formed file header claiming version v.
func fileHeaderVersion(v uint32) []byte {
	h := binary.LittleEndian.AppendUint32([]byte(fileMagic), v)
	return binary.LittleEndian.AppendUint32(h, crc32.Checksum(h, castagnoli))
}

// refreshFrame recomputes a record's checksums after its payload was edited.
func refreshFrame(rec []byte) {
	binary.LittleEndian.PutUint32(rec[4:8], crc32.Checksum(rec[frameHeaderLen:], castagnoli))
	binary.LittleEndian.PutUint32(rec[8:12], crc32.Checksum(rec[0:8], castagnoli))
}

// TestLocalLeftoverTemp: a rewrite that crashed before its rename leaves
// log.tmp; Load ignores and removes it.
func TestLocalLeftoverTemp(t *testing.T) {
	cps, models := threeRecords()
	dir, _, _ := localLog(t, cps)
	tmp := filepath.Join(filepath.Dir(logPath(dir, 0)), tmpName)
	if err := os.WriteFile(tmp, []byte("half a rewrite"), filePerm); err != nil {
		t.Fatal(err)
	}
	models[3].check(t, "with leftover temp", load(t, quietLocal(t, dir, nil), 0))
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("leftover %s not removed: %v", tmp, err)
	}
}

// TestLocalLocked: the lock is per Store value, also within one process.
func TestLocalLocked(t *testing.T) {
	dir := t.TempDir()
	a, b := quietLocal(t, dir, nil), quietLocal(t, dir, nil)
	load(t, a, 0)
	_, err := b.Load(context.Background(), 0)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "p0000") {
		t.Fatalf("second Load = %v, want ErrLocked naming the folder", err)
	}
	load(t, b, 1) // other partitions are free
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	load(t, b, 0)
}

// TestLocalSyncFailure injects fsync failures: the Commit fails with
// ErrUnavailable, the retry of the same checkpoint succeeds, and the
// checkpoint is applied exactly once whether or not the failed attempt
// reached the file.
func TestLocalSyncFailure(t *testing.T) {
	cases := []struct {
		name   string
		failAt int  // the first sync call that fails (1-based, counted from the first Commit)
		fails  int  // how many sync calls fail in a row
		full   bool // the second commit is a Full
	}{
		{"append", 2, 1, false},
		{"rewrite", 2, 1, true},
		{"first commit", 1, 1, false},
		{"recovery rewrite", 2, 2, false}, // the retry's own recovery fails once more
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			s := quietLocal(t, dir, nil)
			var calls atomic.Int64
			s.syncHook = func(*os.File) error {
				n := calls.Add(1)
				if n >= int64(c.failAt) && n < int64(c.failAt+c.fails) {
					return errors.New("injected EIO")
				}
				return nil
			}
			load(t, s, 0)
			m := newModel()
			cp1 := &Checkpoint{Seq: 1, Appends: []Append{{List: "l", Blob: []byte("one")}}}
			cp2 := &Checkpoint{Seq: 2, Full: c.full, Appends: []Append{{List: "l", Blob: []byte("two")}}}
			steps := []*Checkpoint{cp1, cp2}
			failing := steps[1]
			if c.failAt == 1 {
				failing = steps[0]
			}
			for _, cp := range steps {
				err := s.Commit(context.Background(), 0, cp)
				if cp == failing {
					if !errors.Is(err, ErrUnavailable) {
						t.Fatalf("Commit(seq %d) with failing sync = %v, want ErrUnavailable", cp.Seq, err)
					}
					for retry := 0; err != nil && retry < 3; retry++ {
						err = s.Commit(context.Background(), 0, cp)
					}
				}
				if err != nil {
					t.Fatalf("Commit(seq %d): %v", cp.Seq, err)
				}
				m.apply(cp)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			reload(t, func() Store { return quietLocal(t, dir, nil) }, 0, m, "after injected failure")
		})
	}
}

// TestLocalLogBytes: the log grows by each record and shrinks on Full.
func TestLocalLogBytes(t *testing.T) {
	s := quietLocal(t, t.TempDir(), nil)
	if got := s.LogBytes(0); got != 0 {
		t.Fatalf("LogBytes of an unloaded partition = %d", got)
	}
	load(t, s, 0)
	g := newGen(9)
	var prev int64
	for seq := uint64(1); seq <= 5; seq++ {
		cp := g.next(seq, 0)
		commit(t, s, 0, cp)
		want := prev + int64(len(appendRecord(nil, cp)))
		if seq == 1 {
			want = fileHeaderLen + int64(len(appendRecord(nil, cp)))
		}
		if got := s.LogBytes(0); got != want {
			t.Fatalf("seq %d: LogBytes = %d, want %d", seq, got, want)
		}
		prev = want
	}
	full := &Checkpoint{Seq: 6, Full: true}
	commit(t, s, 0, full)
	if got, want := s.LogBytes(0), int64(fileHeaderLen+len(appendRecord(nil, full))); got != want {
		t.Fatalf("after Full: LogBytes = %d, want %d", got, want)
	}
}

// quietLogger discards log output.
func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
