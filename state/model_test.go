package state

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// model is the reference the stores are checked against: the meaning of a
// checkpoint written out plainly, independent of Snapshot.apply and of both
// backends.
type model struct {
	seq    uint64
	offset int64
	meta   []byte
	cards  map[string][]byte
	lists  map[string][][]byte
}

func newModel() *model {
	return &model{cards: map[string][]byte{}, lists: map[string][][]byte{}}
}

func (m *model) apply(cp *Checkpoint) {
	if cp.Full {
		m.cards = map[string][]byte{}
		m.lists = map[string][][]byte{}
	}
	for _, e := range cp.Cards {
		m.cards[string(e.Key)] = slices.Clone(e.Value)
	}
	for _, d := range cp.Drops {
		delete(m.lists, d)
	}
	for _, a := range cp.Appends {
		m.lists[a.List] = append(m.lists[a.List], slices.Clone(a.Blob))
	}
	m.seq, m.offset, m.meta = cp.Seq, cp.Offset, slices.Clone(cp.Meta)
}

// check fails t unless snap holds exactly the model's state. Nil and empty
// byte slices are equal: Redis cannot tell them apart.
func (m *model) check(t testing.TB, what string, snap *Snapshot) {
	t.Helper()
	if snap == nil {
		t.Fatalf("%s: nil snapshot", what)
	}
	if snap.Cards == nil || snap.Lists == nil {
		t.Errorf("%s: snapshot maps must be non-nil (cards %v, lists %v)", what, snap.Cards == nil, snap.Lists == nil)
	}
	if snap.Seq != m.seq || snap.Offset != m.offset || !bytes.Equal(snap.Meta, m.meta) {
		t.Errorf("%s: seq/offset/meta = %d/%d/%q, want %d/%d/%q", what, snap.Seq, snap.Offset, trunc(snap.Meta), m.seq, m.offset, trunc(m.meta))
	}
	if len(snap.Cards) != len(m.cards) {
		t.Errorf("%s: %d cards, want %d", what, len(snap.Cards), len(m.cards))
	}
	bad := 0
	for k, want := range m.cards {
		got, ok := snap.Cards[k]
		if !ok || !bytes.Equal(got, want) {
			if bad++; bad <= 3 {
				t.Errorf("%s: card %q = %q (present %v), want %q", what, k, trunc(got), ok, trunc(want))
			}
		}
	}
	if len(snap.Lists) != len(m.lists) {
		t.Errorf("%s: lists %v, want %v", what, keys(snap.Lists), keys(m.lists))
	}
	for name, want := range m.lists {
		got := snap.Lists[name]
		if len(got) != len(want) {
			t.Errorf("%s: list %q has %d blobs, want %d", what, name, len(got), len(want))
			continue
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Errorf("%s: list %q blob %d = %q, want %q", what, name, i, trunc(got[i]), trunc(want[i]))
				break
			}
		}
	}
}

func keys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func trunc(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}

// gen makes random but reproducible checkpoints: keys from a small space so
// that upserts overwrite, a handful of lists so that drops and appends meet,
// and an occasional Full.
type gen struct {
	rng   *rand.Rand
	lists []string
}

func newGen(seed uint64) *gen {
	return &gen{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), lists: []string{"taps:a", "taps:b", "taps:c", "x"}}
}

func (g *gen) next(seq uint64, fullEvery int) *Checkpoint {
	cp := &Checkpoint{Seq: seq, Offset: int64(seq)*100 + g.rng.Int64N(100), Meta: fmt.Appendf(nil, "meta@%d", seq)}
	if fullEvery > 0 && seq%uint64(fullEvery) == 0 {
		cp.Full = true
	}
	for range g.rng.IntN(20) {
		key := fmt.Appendf(nil, "card-%03d", g.rng.IntN(50))
		val := make([]byte, g.rng.IntN(300))
		for i := range val {
			val[i] = byte(g.rng.IntN(256))
		}
		cp.Cards = append(cp.Cards, KV{Key: key, Value: val})
	}
	if g.rng.IntN(4) == 0 {
		cp.Drops = append(cp.Drops, g.lists[g.rng.IntN(len(g.lists))])
	}
	for range g.rng.IntN(8) {
		cp.Appends = append(cp.Appends, Append{
			List: g.lists[g.rng.IntN(len(g.lists))],
			Blob: fmt.Appendf(nil, "blob-%d-%d", seq, g.rng.IntN(1000)),
		})
	}
	return cp
}
