package stream

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/tapsettle/tapsettle/transit"
)

// The service's own decoders read what a state store hands back on restore:
// a Redis shared by several teams, or a log a disk damaged, may hold
// anything. They must reject what they did not write, never panic, and
// accept exactly what they did write.

// FuzzCheckpointMeta: decodeMeta accepts a blob only if encodeMeta gives
// it back byte for byte from what was decoded.
func FuzzCheckpointMeta(f *testing.F) {
	f.Add(encodeMeta(nil, nil, func(b []byte) []byte { return b }))
	f.Add(encodeMeta(nil, []transit.Day{testDay, testDay + 1}, func(b []byte) []byte { return append(b, "engine"...) }))
	f.Add([]byte{metaVersion, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{metaVersion + 1, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		pending, em, err := decodeMeta(b)
		if err != nil {
			return
		}
		again := encodeMeta(nil, pending, func(dst []byte) []byte { return append(dst, em...) })
		if !bytes.Equal(again, b) {
			t.Fatalf("decodeMeta(%x) = %v, %x; encoding that gives %x", b, pending, em, again)
		}
	})
}

// FuzzSegRefs: parseSegRefs accepts a blob only if appendBinary gives it
// back byte for byte from the references decoded.
func FuzzSegRefs(f *testing.F) {
	sum := sha256.Sum256([]byte("segment"))
	refs := []segRef{
		{Name: segmentName(3, 12, "9f2c"), SHA256: hex.EncodeToString(sum[:])},
		{Name: segmentName(0, 1, "ab"), SHA256: hex.EncodeToString(sum[:]), Undated: true},
		{Name: segmentName(1, 7, "cd"), SHA256: hex.EncodeToString(sum[:]), Policy: "sha256:" + hex.EncodeToString(sum[:])},
		{Name: segmentName(1, 8, "cd"), SHA256: hex.EncodeToString(sum[:]), Undated: true, Policy: "sha256:00"},
	}
	var two []byte
	for i := range refs {
		two = refs[i].appendBinary(two)
	}
	f.Add(two)
	f.Add(two[:len(two)-1])
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := parseSegRefs([][]byte{b})
		if err != nil {
			return
		}
		var again []byte
		for i := range got {
			again = got[i].appendBinary(again)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("parseSegRefs(%x) = %+v; encoding that gives %x", b, got, again)
		}
	})
}

// TestSegRefsRejectDamage names the damage each rejected blob has, so a
// restore from a damaged store fails with a reason instead of settling a
// day against references that were never written.
func TestSegRefsRejectDamage(t *testing.T) {
	sum := sha256.Sum256([]byte("segment"))
	ref := segRef{Name: segmentName(1, 2, "cd"), SHA256: hex.EncodeToString(sum[:])}
	good := ref.appendBinary(nil)
	badFlag := bytes.Clone(good)
	badFlag[len(badFlag)-1] = 4
	withPolicy := segRef{Name: ref.Name, SHA256: ref.SHA256, Policy: "sha256:ab"}
	priced := withPolicy.appendBinary(nil)
	for _, tc := range []struct {
		name string
		blob []byte
	}{
		{"truncated", good[:len(good)-1]},
		{"length past the end", append([]byte{200}, good[1:]...)},
		{"unknown flag", badFlag},
		{"good then garbage", append(bytes.Clone(good), 7)},
		{"policy truncated", priced[:len(priced)-1]},
		{"policy flag without a policy", append(bytes.Clone(good[:len(good)-1]), refHasPolicy)},
		{"empty policy", append(bytes.Clone(good[:len(good)-1]), refHasPolicy, 0)},
		{"policy not a fingerprint", append(bytes.Clone(good[:len(good)-1]), refHasPolicy, 3, 'a', '|', 'b')},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if refs, err := parseSegRefs([][]byte{tc.blob}); err == nil {
				t.Fatalf("parseSegRefs accepted %x as %+v", tc.blob, refs)
			}
		})
	}
	refs, err := parseSegRefs([][]byte{good, good})
	if err != nil || len(refs) != 2 || refs[1] != ref {
		t.Fatalf("two blobs of one reference each: %+v, %v", refs, err)
	}
	refs, err = parseSegRefs([][]byte{append(bytes.Clone(priced), good...)})
	if err != nil || len(refs) != 2 || refs[0] != withPolicy || refs[1] != ref {
		t.Fatalf("a reference naming its book, then one of an earlier build: %+v, %v", refs, err)
	}
}
