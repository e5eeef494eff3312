package engine

import (
	"encoding/binary"
	"strconv"
	"strings"
	"testing"

	"github.com/tapsettle/tapsettle/fares"
	"github.com/tapsettle/tapsettle/transit"
)

// TestLateTapSeesDisplacedEntry: a late tap whose tap_id is in its card's
// chain, within its window, but whose inline slot a later tap took (the
// entry was out of that later tap's window) is still a duplicate: the
// stream agrees with the batch job, which prices the same taps in event
// order. The same through a checkpoint; and a checkpoint in the form of
// the build before the chain restores (its tap_ids to the spill set) and
// finds resent taps, before and after its cards are written anew.
func TestLateTapSeesDisplacedEntry(t *testing.T) {
	const bj = transit.City(110100)
	in := []dupTap{
		{"C1", bj, "a", 0, 0, charged, 0},
		{"C1", bj, "b", 7, 0, charged, 0},  // a's day is out of its window: takes a's slot
		{"C1", bj, "c", 7, 10, charged, 0}, // moves the watermark past b
		{"C1", bj, "a", 1, 0, duplicate, differs},
		{"C1", bj, "c", 7, 10, duplicate, 0}, // resent
		{"C1", bj, "b", 7, 0, duplicate, 0},  // resent, after another checkpoint
	}
	taps := make([]transit.Tap, len(in))
	for i, d := range in {
		taps[i] = d.tap(t)
	}
	cal := calendar(t)
	for _, how := range []string{"batch", "stream", "checkpoint", "earlier checkpoint"} {
		var rows []transit.Priced
		if how == "batch" {
			rows = inOrder(run(t, append([]transit.Tap(nil), taps...), Options{Window: Unbounded, Shards: 1}), taps)
		} else {
			sink := &seqSink{}
			opts := Options{Calendar: cal, Window: DefaultWindow}
			p, err := NewPartition(book(t), sink, 0, opts)
			must(t, err)
			p.Submit(taps[:1])
			p.CloseDay(cal.DayOf(taps[0].Time))
			p.Submit(taps[1:3])
			store := newMemStore()
			if how != "stream" {
				store.checkpoint(p, false)
				if how == "earlier checkpoint" {
					toLegacy(t, store)
				}
				p, err = NewPartition(book(t), sink, 0, opts)
				must(t, err)
				must(t, p.Restore(store.meta, store.cards, store.lists))
			}
			p.Submit(taps[3:5])
			if how == "earlier checkpoint" {
				store.checkpoint(p, false)
				if len(store.lists[spillList+strconv.Itoa(int(cal.DayOf(taps[1].Time)))]) == 0 {
					t.Errorf("the earlier form's tap_ids of day %d were not checkpointed to its spill list", cal.DayOf(taps[1].Time))
				}
				p, err = NewPartition(book(t), sink, 0, opts)
				must(t, err)
				must(t, p.Restore(store.meta, store.cards, store.lists))
			}
			p.Submit(taps[5:])
			p.CloseDay(cal.DayOf(taps[2].Time))
			rows = inOrder(sink.rows, taps)
		}
		if len(rows) != len(taps) {
			t.Fatalf("%s: %d rows for %d taps", how, len(rows), len(taps))
		}
		for i, d := range in {
			if i == 3 && how == "earlier checkpoint" {
				continue // that form kept no trace of a's displaced entry
			}
			if r := rows[i]; r.Status != d.want || r.Reason != d.reason {
				t.Errorf("%s: tap %d (%s day %d): %v %q, want %v %q", how, i, d.id, d.day, r.Status, r.Reason, d.want, d.reason)
			}
		}
	}
}

// toLegacy rewrites a store's checkpoint in the form of the build before
// the chain: card records index each inline tap_id in its day's log
// (cardCompactSeen), ids blobs carry no links (compactIDsSums).
func toLegacy(t *testing.T, m *memStore) {
	t.Helper()
	logs := map[uint16][]loggedID{}
	for name, blobs := range m.lists {
		rest, ok := strings.CutPrefix(name, idsList)
		if !ok {
			continue
		}
		d, err := strconv.Atoi(rest)
		must(t, err)
		var sums []byte
		for _, b := range blobs {
			must(t, readIDs(b, func(id *loggedID) { logs[uint16(d)] = append(logs[uint16(d)], *id) }))
		}
		sums = append(sums, compactIDsSums)
		for _, id := range logs[uint16(d)] {
			v := id.id.Bytes()
			sums = binary.LittleEndian.AppendUint64(append(append(sums, byte(len(v))), v...), id.sum)
		}
		m.lists[name] = [][]byte{sums}
	}
	for k, v := range m.cards {
		if v[0]&cardChainSeen == 0 {
			t.Fatalf("card record with flags %#x: not of the chain form", v[0])
		}
		var r fares.Rider
		s, err := r.DecodeCompact(v[1:])
		must(t, err)
		head := len(v) - len(s)
		n := int(s[0])
		link := readChainLink(s[1+n*chainSeenSize:])
		out := append([]byte{v[0]&^cardChainSeen | cardCompactSeen}, v[1:head]...)
		out = append(out, byte(n))
		for j := range n {
			day, tag := binary.LittleEndian.Uint16(s[1+j*chainSeenSize:]), binary.LittleEndian.Uint16(s[3+j*chainSeenSize:])
			// The entry's place in its log: along the chain, the link of
			// its day whose identifier has its tag.
			l, found := link, false
			for l.day != 0 && !found {
				id := logs[l.day][l.idx]
				if found = l.day == day && uint16(tapHash(&id.id)>>48) == tag; !found {
					l = id.prev
				}
			}
			if !found {
				t.Fatalf("card entry of day %d, tag %04x: not in its chain", day, tag)
			}
			out = binary.LittleEndian.AppendUint16(out, day)
			out = binary.LittleEndian.AppendUint16(out, tag)
			out = binary.LittleEndian.AppendUint32(out, l.idx)
		}
		m.cards[k] = append(out, s[1+n*chainSeenSize+chainLinkSize:]...)
	}
}
