package settlement

import (
	"testing"

	"github.com/tapsettle/tapsettle/internal/fixture"
	"github.com/tapsettle/tapsettle/transit"
)

// TestSortKeysAgreeWithComparePriced: where two rows' sort keys differ,
// they order the rows as ComparePriced does, so a sort that consults the
// rows only on equal keys is ComparePriced's order. The rows share a few
// times and tap_ids that differ early, late (past the key's 16 bytes) or
// not at all.
func TestSortKeysAgreeWithComparePriced(t *testing.T) {
	rows := append(fixtureAllRows(), fixture.Synth(300, 11)...)
	ids := []string{"a", "b", "ab", "0123456789abcdef", "0123456789abcdeg", "0123456789abcdef-1", "0123456789abcdef-2", "110100-0000224176"}
	for i := range rows {
		r := &rows[i]
		r.Time = fixture.At(10, i%3, 0)
		r.ID = fixture.ID[transit.TapID](ids[i%len(ids)])
	}
	sign := func(c int) int { return min(max(c, -1), 1) }
	decided := 0
	for i := range rows {
		for j := range rows {
			a, b := keyOf(&rows[i], 0), keyOf(&rows[j], 0)
			k := compareKeys(&a, &b)
			if k == 0 {
				continue
			}
			decided++
			if want := sign(ComparePriced(&rows[i], &rows[j])); sign(k) != want {
				t.Fatalf("rows %d and %d: keys compare %d, ComparePriced %d", i, j, k, want)
			}
		}
	}
	if decided < len(rows)*len(rows)/2 {
		t.Fatalf("the keys decided only %d of %d comparisons", decided, len(rows)*len(rows))
	}
}

// TestValidPaddedFollowsTransit: validPadded accepts an identifier's
// array exactly when transit's Set would have stored it, byte by byte,
// and refuses bytes after the padding begins.
func TestValidPaddedFollowsTransit(t *testing.T) {
	for c := range 256 {
		raw := []byte{'a', byte(c), 'b'}
		var id transit.TapID
		ok := id.Set(raw) == nil
		var arr transit.TapID
		copy(arr[:], raw)
		if got := validPadded(arr[:], true); got != ok {
			t.Errorf("byte %#x: validPadded %v, TapID.Set accepts: %v", c, got, ok)
		}
	}
	var empty, tail transit.Code
	copy(tail[:], "ab\x00\x00x")
	for _, v := range []struct {
		b        []byte
		required bool
		want     bool
	}{{empty[:], true, false}, {empty[:], false, true}, {tail[:], false, false}, {tail[:2], false, true}} {
		if got := validPadded(v.b, v.required); got != v.want {
			t.Errorf("validPadded(%q, %v) = %v, want %v", v.b, v.required, got, v.want)
		}
	}
}
