package engine

import (
	"bytes"
	"errors"
	"testing"

	"github.com/tapsettle/tapsettle/transit"
)

// TestStateSplitJoin: a state's records, read with StateRecords, joined
// again after AppendStateHead and before AppendStateEnd are the state,
// byte for byte; split by card partition, each part loads into an engine
// of its own, and together they hold every record, each with its card.
// Input cut short is refused.
func TestStateSplitJoin(t *testing.T) {
	days := severalDays(t, 2)
	through := calendar(t).DayOf(days[1][len(days[1])-1].Time) - 1
	_, state := runThrough(t, 3, nil, append(days[0], days[1]...), through)
	const n = 4
	var parts [n][]byte
	var all []byte
	kinds := map[byte]int{}
	closed, dedup, err := StateRecords(bytes.NewReader(state), func(card *transit.CardID, rec []byte) error {
		if *card == (transit.CardID{}) {
			t.Errorf("a record of kind %q without its card", rec[0])
		}
		kinds[rec[0]]++
		all = append(all, rec...)
		p := CardPartition(card, 0) % n
		parts[p] = append(parts[p], rec...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []byte{stateCard, stateID, stateHeld, stateCharge} {
		if kinds[k] == 0 {
			t.Fatalf("records by kind %v: the sample lacks kind %q", kinds, k)
		}
	}
	joined := AppendStateEnd(append(AppendStateHead(nil, closed, dedup), all...))
	if !bytes.Equal(joined, state) {
		t.Fatalf("the records joined again: %d bytes, the state %d, not the same", len(joined), len(state))
	}
	cards := 0
	for p, part := range parts {
		e, err := New(book(t), newCollect(2), Options{Shards: 2, Window: Unbounded, Calendar: calendar(t), KeepCharges: true})
		must(t, err)
		got, err := e.ReadState(bytes.NewReader(AppendStateEnd(append(AppendStateHead(nil, closed, dedup), part...))))
		if err != nil || got != closed {
			t.Fatalf("part %d: closes %v, %v; want %v", p, got, err, closed)
		}
		for _, s := range e.shards {
			cards += s.cards.len()
		}
		e.Stop()
	}
	if cards != kinds[stateCard] {
		t.Errorf("the parts hold %d card states, the state %d", cards, kinds[stateCard])
	}
	for _, cut := range []int{len(state) - 1, len(stateMagic) + 1, 3} {
		if _, _, err := StateRecords(bytes.NewReader(state[:cut]), func(*transit.CardID, []byte) error { return nil }); !errors.Is(err, ErrState) {
			t.Errorf("state cut at %d: %v, want ErrState", cut, err)
		}
	}
}
