package spill

import (
	"cmp"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

func compareInt(a, b *int64) int { return cmp.Compare(*a, *b) }

func decodeInt(rec []byte, v *int64) error {
	x, n := binary.Varint(rec)
	if n <= 0 || n != len(rec) {
		return errors.New("not one varint")
	}
	*v = x
	return nil
}

// TestMergeOrders merges sorted sections and sorted slices, some empty,
// with repeated values across sources, and requires every record once, in
// order.
func TestMergeOrders(t *testing.T) {
	f := createTestFile(t, openTestDir(t))
	r := rand.New(rand.NewPCG(7, 8))
	var all []int64
	run := func(n int) []int64 {
		s := make([]int64, n)
		for i := range s {
			s[i] = r.Int64N(1000) - 500
		}
		slices.Sort(s)
		all = append(all, s...)
		return s
	}
	var secs []Section
	for _, n := range []int{0, 1, 500, 3000, 7} {
		var recs [][]byte
		for _, v := range run(n) {
			recs = append(recs, binary.AppendVarint(nil, v))
		}
		secs = append(secs, writeSection(t, f, recs...))
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	mem := [][]int64{run(0), run(900), run(2)}
	m, err := NewMerge(compareInt, decodeInt, mem, secs)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var got []int64
	for {
		v, ok, err := m.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		got = append(got, *v)
	}
	slices.Sort(all)
	if !slices.Equal(got, all) {
		t.Fatalf("merged %d records, want %d in order (first difference at %d)", len(got), len(all), firstDiff(got, all))
	}
}

func firstDiff(a, b []int64) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestMergeDamagedRecord: a record its decoder refuses is a damaged run,
// reported with ErrCorrupt rather than skipped.
func TestMergeDamagedRecord(t *testing.T) {
	f := createTestFile(t, openTestDir(t))
	s := writeSection(t, f, binary.AppendVarint(nil, 1), []byte("not a varint at all"))
	f.Close()
	m, err := NewMerge(compareInt, decodeInt, nil, []Section{s})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if v, ok, err := m.Next(); err != nil || !ok || *v != 1 {
		t.Fatalf("first record = %v, %v, %v; want 1", v, ok, err)
	}
	if _, _, err := m.Next(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("damaged record: %v, want ErrCorrupt", err)
	}
}
