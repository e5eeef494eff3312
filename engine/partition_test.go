package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tapsettle/tapsettle/transit"
)

// memStore applies checkpoints as a key-value store with lists would: the
// contract Partition.Checkpoint and Restore rely on.
type memStore struct {
	meta  []byte
	cards map[string][]byte
	lists map[string][][]byte
	// ops of the checkpoint being written, applied by commit.
	full  bool
	up    map[string][]byte
	drops []string
	apps  []memAppend
}

type memAppend struct {
	list string
	blob []byte
}

func newMemStore() *memStore {
	return &memStore{cards: map[string][]byte{}, lists: map[string][][]byte{}}
}

func (m *memStore) Card(k, v []byte) {
	if m.up == nil {
		m.up = map[string][]byte{}
	}
	m.up[string(k)] = slices.Clone(v)
}
func (m *memStore) Drop(list string) { m.drops = append(m.drops, list) }
func (m *memStore) Append(list string, blob []byte) {
	m.apps = append(m.apps, memAppend{list, slices.Clone(blob)})
}

func (m *memStore) checkpoint(p *Partition, full bool) {
	m.full = full
	meta := p.Checkpoint(m, full, nil)
	if m.full {
		clear(m.cards)
		clear(m.lists)
	}
	for k, v := range m.up {
		m.cards[k] = v
	}
	for _, d := range m.drops {
		delete(m.lists, d)
	}
	for _, a := range m.apps {
		m.lists[a.list] = append(m.lists[a.list], a.blob)
	}
	m.meta, m.up, m.drops, m.apps = meta, nil, nil, nil
}

// seqSink keeps rows in emission order.
type seqSink struct{ rows []transit.Priced }

func (s *seqSink) Emit(_ int, rows []transit.Priced) { s.rows = append(s.rows, rows...) }

// streamOps is a partition's input: taps, with a day close at closeAt.
type streamOps struct {
	taps     []transit.Tap
	closeAt  int
	closeDay transit.Day
}

// twoDayStream builds two days of taps in near event-time order: shuffled
// within small blocks (inside the window), a few very late, duplicates.
func twoDayStream(t testing.TB, n int, seed uint64) streamOps {
	r := rand.New(rand.NewPCG(seed, 2))
	d1 := dayOfTaps(t, n/2, seed)
	d2 := dayOfTaps(t, n/2, seed+1)
	for i := range d2 {
		d2[i].Time += int64(24 * time.Hour)
		d2[i].ID[0] = 'N' // new identifiers on the second day
	}
	for _, d := range [][]transit.Tap{d1, d2} {
		slices.SortFunc(d, func(a, b transit.Tap) int { return transit.Compare(&a, &b) })
		for i := 0; i+8 <= len(d); i += 8 {
			r.Shuffle(8, func(a, b int) { d[i+a], d[i+b] = d[i+b], d[i+a] })
		}
		for k := 0; k < len(d)/50; k++ { // late: moved far behind
			i := r.IntN(len(d)-1) + 1
			j := min(len(d)-1, i+100+r.IntN(200))
			late := d[i]
			copy(d[i:j], d[i+1:j+1])
			d[j] = late
		}
	}
	// A few of day 1's taps arrive after day 1 is closed.
	tail := slices.Clone(d1[len(d1)-20:])
	d1 = d1[:len(d1)-20]
	ops := streamOps{taps: append(append(d1, d2[:len(d2)/2]...), tail...), closeAt: len(d1) + len(d2)/2}
	ops.taps = append(ops.taps, d2[len(d2)/2:]...)
	ops.closeDay = calendar(t).DayOf(d1[0].Time)
	return ops
}

func newTestPartition(t testing.TB, sink Sink) *Partition {
	t.Helper()
	p, err := NewPartition(book(t), sink, 0, Options{Calendar: calendar(t), Window: DefaultWindow})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// feed submits ops.taps[from:to] in random slices, closing the day where
// the stream says.
func (o *streamOps) feed(p *Partition, r *rand.Rand, from, to int) {
	for i := from; i < to; {
		end := min(to, i+1+r.IntN(300))
		if i < o.closeAt && end > o.closeAt {
			end = o.closeAt
		}
		p.Submit(o.taps[i:end])
		i = end
		if i == o.closeAt {
			p.CloseDay(o.closeDay)
		}
	}
}

func TestPartitionMatchesEngine(t *testing.T) {
	ops := twoDayStream(t, 4000, 11)
	ops.closeAt = -1 // no day close: the Engine closes only at the end
	sink := &seqSink{}
	p := newTestPartition(t, sink)
	ops.feed(p, rand.New(rand.NewPCG(1, 1)), 0, len(ops.taps))
	p.CloseDay(transit.Day(1 << 30))
	got := sink.rows
	want := run(t, slices.Clone(ops.taps), Options{Shards: 3, Window: DefaultWindow})
	if st := p.Stats(); st.Late == 0 {
		t.Fatal("stream has no late taps: the test does not exercise lateness")
	}
	sortRows(got)
	sortRows(want)
	if len(got) != len(want) {
		t.Fatalf("partition emitted %d rows, engine %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("row %d differs:\npartition %+v\nengine    %+v", i, got[i], want[i])
		}
	}
}

func sortRows(rows []transit.Priced) {
	slices.SortFunc(rows, func(a, b transit.Priced) int {
		if c := transit.Compare(&a.Tap, &b.Tap); c != 0 {
			return c
		}
		if c := int(a.Status) - int(b.Status); c != 0 {
			return c
		}
		return int(a.Rules) - int(b.Rules) // copies of one tap: late or not
	})
}

// TestPartitionRestoreIsExact crashes a partition at random points, keeps
// only what its last checkpoint covered, restores a new partition from the
// checkpoint and replays the rest: the rows, in emission order, must be
// exactly those of an uninterrupted run.
func TestPartitionRestoreIsExact(t *testing.T) {
	ops := twoDayStream(t, 6000, 5)
	ref := &seqSink{}
	rp := newTestPartition(t, ref)
	ops.feed(rp, rand.New(rand.NewPCG(9, 9)), 0, len(ops.taps))
	if ref.rows[len(ref.rows)-1].Day != ops.closeDay+1 {
		t.Fatal("stream does not reach the second day")
	}
	var adjusted int
	for _, r := range ref.rows {
		if r.Rules&transit.RuleLate != 0 && r.Day == ops.closeDay+1 && calendar(t).DayOf(r.Time) == ops.closeDay {
			adjusted++
		}
	}
	if adjusted == 0 {
		t.Fatal("no tap of the closed day was settled as a late adjustment")
	}

	for seed := uint64(1); seed <= 6; seed++ {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 3))
			store := newMemStore()
			var committed []transit.Priced
			pos, crashes := 0, 0
			crashAt := []int{r.IntN(len(ops.taps) / 3), len(ops.taps)/3 + r.IntN(len(ops.taps)/3), 2*len(ops.taps)/3 + r.IntN(len(ops.taps)/3)}
			for pos < len(ops.taps) {
				sink := &seqSink{}
				p := newTestPartition(t, sink)
				if store.meta != nil {
					if err := p.Restore(store.meta, store.cards, store.lists); err != nil {
						t.Fatal(err)
					}
				}
				// Run a while, checkpointing now and then, then crash
				// (or finish): rows after the last checkpoint are lost.
				kept, at := 0, pos
				for at < len(ops.taps) {
					end := min(len(ops.taps), at+1+r.IntN(900))
					ops.feed(p, r, at, end)
					at = end
					if r.IntN(3) > 0 || at == len(ops.taps) {
						store.checkpoint(p, r.IntN(5) == 0)
						kept, pos = len(sink.rows), at
					}
					if len(crashAt) > 0 && at >= crashAt[0] {
						crashAt = crashAt[1:]
						break // crash
					}
				}
				committed = append(committed, sink.rows[:kept]...)
				crashes++
			}
			if crashes < 3 {
				t.Fatalf("only %d runs: no crash exercised", crashes)
			}
			if len(committed) != len(ref.rows) {
				t.Fatalf("after %d crashes: %d rows, want %d", crashes-1, len(committed), len(ref.rows))
			}
			for i := range committed {
				if committed[i] != ref.rows[i] {
					t.Fatalf("after %d crashes, row %d differs:\ngot  %+v\nwant %+v", crashes-1, i, committed[i], ref.rows[i])
				}
			}
		})
	}
}

func TestPartitionRestoreRefusesBadState(t *testing.T) {
	ops := twoDayStream(t, 600, 3)
	p := newTestPartition(t, &seqSink{})
	ops.feed(p, rand.New(rand.NewPCG(1, 2)), 0, 400)
	store := newMemStore()
	store.checkpoint(p, true)
	cases := map[string]func(m *memStore){
		"short meta":  func(m *memStore) { m.meta = m.meta[:10] },
		"bad version": func(m *memStore) { m.meta[0] = 99 },
		// Version 1 held fixed-size taps; it was never released.
		"meta version 1": func(m *memStore) { m.meta[0] = 1 },
		"meta tail":      func(m *memStore) { m.meta = append(m.meta, 1) },
		"short card": func(m *memStore) {
			for k, v := range m.cards {
				m.cards[k] = v[:len(v)-1]
				break
			}
		},
		"rider not compact":    func(m *memStore) { setCardFlags(m, 0, cardCompact) },
		"tap_ids of no form":   func(m *memStore) { setCardFlags(m, 0, cardChainSeen) },
		"tap_ids of two forms": func(m *memStore) { setCardFlags(m, cardCompactSeen, 0) },
		"unknown card flag":    func(m *memStore) { setCardFlags(m, 1<<7, 0) },
		"carried, no journey": func(m *memStore) {
			for k, v := range m.cards {
				if v[0]&cardJourney == 0 {
					v[0] |= cardCarried
					m.cards[k] = v
					return
				}
			}
			t.Fatal("every card has an open journey")
		},
		"bad list":       func(m *memStore) { m.lists["ids/x"] = [][]byte{make([]byte, 40)} },
		"empty ids blob": func(m *memStore) { m.lists["ids/1"] = [][]byte{{}} },
		"fixed-width ids blob": func(m *memStore) {
			m.lists["ids/1"] = [][]byte{append([]byte("310100-0000000005"), make([]byte, transit.MaxTapID-17)...)}
		},
		"ragged spill":  func(m *memStore) { m.lists["spill/1"] = [][]byte{make([]byte, transit.MaxTapID)} },
		"ragged spills": func(m *memStore) { m.lists["spills/1"] = [][]byte{make([]byte, oldSpillEntrySize)} },
		"ragged ids": func(m *memStore) {
			for k, v := range m.lists {
				m.lists[k] = append(v, []byte{compactIDsSums, 5}) // cut short, or ragged
				break
			}
		},
		"compact id of length 0": func(m *memStore) { m.lists["ids/1"] = [][]byte{{compactIDs, 0}} },
		"compact id too long":    func(m *memStore) { m.lists["ids/1"] = [][]byte{append([]byte{compactIDs, 41}, make([]byte, 41)...)} },
		"compact id cut short":   func(m *memStore) { m.lists["ids/1"] = [][]byte{{compactIDs, 5, 'a', 'b'}} },
		"compact id holds a NUL": func(m *memStore) { m.lists["ids/1"] = [][]byte{{compactIDs, 2, 'a', 0}} },
		"short key": func(m *memStore) {
			for k, v := range m.cards {
				delete(m.cards, k)
				m.cards[k[1:]] = v
				break
			}
		},
	}
	for name, spoil := range cases {
		t.Run(name, func(t *testing.T) {
			m := &memStore{meta: slices.Clone(store.meta), cards: map[string][]byte{}, lists: map[string][][]byte{}}
			for k, v := range store.cards {
				m.cards[k] = slices.Clone(v)
			}
			for k, v := range store.lists {
				m.lists[k] = slices.Clone(v)
			}
			spoil(m)
			q := newTestPartition(t, &seqSink{})
			if err := q.Restore(m.meta, m.cards, m.lists); !errors.Is(err, ErrCheckpoint) {
				t.Fatalf("restore of spoiled state: %v, want ErrCheckpoint", err)
			}
		})
	}
	// The unspoiled state restores.
	q := newTestPartition(t, &seqSink{})
	if err := q.Restore(store.meta, store.cards, store.lists); err != nil {
		t.Fatal(err)
	}
	if err := q.Restore(store.meta, store.cards, store.lists); err == nil {
		t.Fatal("restore into a partition with state accepted")
	}
}

// setCardFlags sets flags set and clears flags clear on every card record
// of m.
func setCardFlags(m *memStore, set, clear byte) {
	for k, v := range m.cards {
		v[0] = v[0]&^clear | set
		m.cards[k] = v
	}
}

func BenchmarkPartitionCheckpoint(b *testing.B) {
	ops := twoDayStream(b, 20000, 1)
	p := newTestPartition(b, &seqSink{})
	ops.feed(p, rand.New(rand.NewPCG(1, 2)), 0, len(ops.taps)/2)
	store := newMemStore()
	b.ReportAllocs()
	for b.Loop() {
		store.checkpoint(p, true)
	}
	b.ReportMetric(float64(len(store.cards)), "cards")
}

func TestCompactIDs(t *testing.T) {
	var ids []loggedID
	for i, s := range []string{"a", "310100-0000000005", strings.Repeat("x", transit.MaxTapID), "地铁-1"} {
		var id loggedID
		if err := id.id.Set([]byte(s)); err != nil {
			t.Fatal(err)
		}
		id.sum = uint64(i)<<40 | 1
		id.prev = chainLink{day: uint16(20000 + i), idx: uint32(i)<<24 | 7}
		ids = append(ids, id)
	}
	b := []byte{compactIDsChain}
	for i := range ids {
		b = appendLoggedID(b, &ids[i])
	}
	if want := 1 + 4 + 1 + 17 + 40 + len("地铁-1") + 4*(8+chainLinkSize); len(b) != want {
		t.Errorf("compact blob of %d bytes, want %d", len(b), want)
	}
	var got []loggedID
	if err := readIDs(b, func(id *loggedID) { got = append(got, *id) }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, ids) {
		t.Fatalf("read back %v, want %v", got, ids)
	}
	// Earlier builds' blobs: without links (with sums), and without sums
	// either: the same identifiers, what the blob lacks zero.
	sums, plain := []byte{compactIDsSums}, []byte{compactIDs}
	for i := range ids {
		v := ids[i].id.Bytes()
		plain = append(append(plain, byte(len(v))), v...)
		sums = binary.LittleEndian.AppendUint64(append(append(sums, byte(len(v))), v...), ids[i].sum)
	}
	for _, c := range []struct {
		blob      []byte
		wantSum   bool
		wantLinks bool
	}{{sums, true, false}, {plain, false, false}} {
		got = got[:0]
		if err := readIDs(c.blob, func(id *loggedID) { got = append(got, *id) }); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(ids) {
			t.Fatalf("blob of form %d: read %d identifiers, want %d", c.blob[0], len(got), len(ids))
		}
		for i := range got {
			want := loggedID{id: ids[i].id}
			if c.wantSum {
				want.sum = ids[i].sum
			}
			if got[i] != want {
				t.Fatalf("blob of form %d: read %v, want %v", c.blob[0], got[i], want)
			}
		}
	}
}

// FuzzReadIDs: any blob is read or refused without a panic, and what is
// read survives a compact round trip.
func FuzzReadIDs(f *testing.F) {
	f.Add([]byte{compactIDs, 3, 'a', 'b', 'c'})
	f.Add([]byte{compactIDsSums, 3, 'a', 'b', 'c', 1, 2, 3, 4, 5, 6, 7, 8})
	f.Add([]byte{compactIDsChain, 3, 'a', 'b', 'c', 1, 2, 3, 4, 5, 6, 7, 8, 0x20, 0x4e, 1, 0, 0, 0})
	f.Add([]byte{compactIDs, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var ids []loggedID
		if readIDs(b, func(id *loggedID) { ids = append(ids, *id) }) != nil {
			return
		}
		c := []byte{compactIDsChain}
		for i := range ids {
			c = appendLoggedID(c, &ids[i])
		}
		var again []loggedID
		if err := readIDs(c, func(id *loggedID) { again = append(again, *id) }); err != nil {
			t.Fatalf("a compact blob of what was read is refused: %v", err)
		}
		if !slices.Equal(again, ids) {
			t.Fatalf("round trip changed the identifiers: %v, then %v", ids, again)
		}
	})
}

// FuzzRestoreCard: any card record (and meta blob) is restored or refused
// without a panic; what is restored checkpoints to records that restore
// to the same state, so a second round trip writes the same bytes.
func FuzzRestoreCard(f *testing.F) {
	ops := twoDayStream(f, 600, 3)
	p := newTestPartition(f, &seqSink{})
	ops.feed(p, rand.New(rand.NewPCG(3, 3)), 0, len(ops.taps)/2)
	store := newMemStore()
	store.checkpoint(p, true)
	seeded := 0
	for _, k := range slices.Sorted(maps.Keys(store.cards)) {
		v := store.cards[k]
		if seeded < 6 || v[0]&cardJourney != 0 && seeded < 12 {
			f.Add([]byte(k), v, store.meta)
			seeded++
		}
	}
	f.Fuzz(func(t *testing.T, key, value, meta []byte) {
		q := newTestPartition(t, &seqSink{})
		if q.Restore(meta, map[string][]byte{string(key): value}, nil) != nil {
			return
		}
		once := newMemStore()
		once.checkpoint(q, true)
		r := newTestPartition(t, &seqSink{})
		if err := r.Restore(once.meta, once.cards, once.lists); err != nil {
			t.Fatalf("a checkpoint of a restored state is refused: %v", err)
		}
		twice := newMemStore()
		twice.checkpoint(r, true)
		if !bytes.Equal(once.meta, twice.meta) || !maps.EqualFunc(once.cards, twice.cards, bytes.Equal) {
			t.Fatalf("a second round trip changed the checkpoint")
		}
	})
}

// TestRestoreMetaVersion2: a meta blob of version 2, which counted the
// rows of the statuses before StatusAdjustment, still restores.
func TestRestoreMetaVersion2(t *testing.T) {
	ops := twoDayStream(t, 400, 5)
	p := newTestPartition(t, &seqSink{})
	ops.feed(p, rand.New(rand.NewPCG(1, 1)), 0, len(ops.taps)/2)
	store := newMemStore()
	store.checkpoint(p, true)
	// Version 2: the same blob without the last status's count.
	at := 1 + 9*8 + metaV2Statuses*8
	v2 := append([]byte{2}, store.meta[1:at]...)
	v2 = append(v2, store.meta[at+8:]...)
	q := newTestPartition(t, &seqSink{})
	if err := q.Restore(v2, store.cards, store.lists); err != nil {
		t.Fatal(err)
	}
	want := p.Stats()
	want.Rows[transit.StatusAdjustment] = 0 // version 2 had no count of them
	if q.Stats() != want {
		t.Errorf("restored from version 2: %+v, want %+v", q.Stats(), want)
	}
}
