package engine

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/tapsettle/tapsettle/internal/varint"
	"github.com/tapsettle/tapsettle/transit"
)

// Carried state.
//
// The batch job settles day by day (`settle --state DIR`): each run goes on
// from the journey state the previous one ended with, so that settling
// days one at a time gives the same rows as settling them in one run. An
// Engine's state is what its shards hold once its days are closed: per
// (card, city) the rider's accumulators (transfer chain, daily and
// monthly spend) and an open metro journey carried across the cut-off,
// the tap_ids of the dedup window, and the taps held of days not closed
// yet (an input may hold taps past the last cut-off closed). WriteState writes it in a form that
// does not depend on the shard count, ReadState loads it into an engine of
// any shard count.
//
// The form, after stateMagic: the last closed day and the dedup window
// (varints), then records, each a kind byte, the body's length (uvarint)
// and the body:
//
//	stateCard:  card key (28 bytes), rider (fares.Rider.AppendCompact),
//	            flags (stateOpen, stateCarried, stateSettled), a settled
//	            charge when stateSettled (pricer.appendSettled), and when
//	            open the journey's day (varint) and entry
//	            (transit.Tap.AppendCompact)
//	stateID:    a tap_id of the window: card key, day (varint), content
//	            sum (8 bytes), identifier bytes
//	stateHeld:  a tap of a day not closed (transit.Tap.AppendCompact)
//	stateCharge: a money row of the window kept for corrections: its
//	            settlement day (varint) and record (appendCharge)
//	stateEnd:   an empty body; nothing follows
//
// A reader refuses what it does not know rather than guess at it.

const (
	stateMagic   = "tapsettle engine state 1\n"
	stateCard    = 'C'
	stateID      = 'I'
	stateHeld    = 'H'
	stateCharge  = 'G'
	stateEnd     = 'E'
	stateOpen    = 1 << 0
	stateCarried = 1 << 1
	stateSettled = 1 << 2 // a settled charge (pricer.appendSettled) follows the flags
)

// ErrState is returned by ReadState for input that is not engine state.
var ErrState = errors.New("engine: invalid state")

// Stop stops the shards, keeping the journey state of days still open
// (journeys carried across the last cut-off, the tap_ids of the dedup
// window, taps held of days not closed) for WriteState; Close is Stop
// after closing every day. Unlike Close it closes no day. The engine cannot price
// afterwards.
func (e *Engine) Stop() {
	if e.closed {
		return
	}
	e.closed = true
	e.Flush()
	for _, s := range e.shards {
		close(s.in)
	}
	e.wg.Wait()
}

// WriteState writes the state of a stopped engine to w (see Stop): closed
// is the last settlement day closed, recorded for the next run.
func (e *Engine) WriteState(w io.Writer, closed transit.Day) error {
	if !e.closed {
		return errors.New("engine: write state of a running engine")
	}
	if !e.opts.KeepCharges {
		return errors.New("engine: write state of an engine without Options.KeepCharges: the next run could not change its charges")
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	b := append([]byte(stateMagic), make([]byte, 0, 256)...)
	b = binary.AppendVarint(b, int64(closed))
	b = binary.AppendUvarint(b, uint64(e.opts.DedupDays))
	if _, err := bw.Write(b); err != nil {
		return fmt.Errorf("engine: write state: %w", err)
	}
	for _, s := range e.shards {
		if err := s.writeState(bw, b[:0], closed); err != nil {
			return fmt.Errorf("engine: write state: %w", err)
		}
	}
	if _, err := bw.Write([]byte{stateEnd, 0}); err != nil {
		return fmt.Errorf("engine: write state: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("engine: write state: %w", err)
	}
	return nil
}

// writeState writes a shard's card states and tap_ids, using b as scratch,
// leaving out the states that nothing after day closed can need (stale).
func (pr *pricer) writeState(w *bufio.Writer, b []byte, closed transit.Day) error {
	var links []chainLink
	for i := range pr.cards.len() {
		st := pr.cards.at(int32(i))
		if pr.stale(st, closed) {
			continue
		}
		b = appendCardKey(b[:0], &st.key)
		b = st.rider.AppendCompact(b)
		var flags byte
		if st.journey != 0 {
			flags = stateOpen
			if pr.journeys[st.journey-1].carried {
				flags |= stateCarried
			}
		}
		if st.settled {
			flags |= stateSettled
		}
		b = append(b, flags)
		if st.settled {
			b = pr.appendSettled(b, int32(i))
		}
		if st.journey != 0 {
			j := &pr.journeys[st.journey-1]
			b = binary.AppendVarint(b, int64(j.day))
			b = j.entry.AppendCompact(b)
		}
		if err := writeRecord(w, stateCard, b); err != nil {
			return err
		}
		// The chain, oldest first, so that loadID remakes it in its order.
		links = pr.chainLinks(links[:0], st, uint16(min(max(pr.oldest, 1), math.MaxUint16)))
		for _, l := range slices.Backward(links) {
			id := pr.findLog(transit.Day(l.day)).ids.At(int(l.idx))
			if err := writeRecord(w, stateID, appendStateID(b[:0], &st.key, transit.Day(l.day), id.sum, &id.id)); err != nil {
				return err
			}
		}
	}
	for k := range pr.spill.entries.Len() {
		e := pr.spill.entries.At(k)
		if !pr.spill.live(e) {
			continue
		}
		if err := writeRecord(w, stateID, appendStateID(b[:0], &e.card, e.day, e.sum, &e.id)); err != nil {
			return err
		}
	}
	oldest := closed - transit.Day(pr.dedupDays) + 1
	for _, l := range pr.logs {
		if l.day < oldest {
			continue
		}
		for k := range l.charges.len() {
			b = binary.AppendVarint(b[:0], int64(l.day))
			if err := writeRecord(w, stateCharge, append(b, l.charges.record(k)...)); err != nil {
				return err
			}
		}
	}
	var err error
	pr.held.each(func(t *transit.Tap) {
		if err == nil {
			err = writeRecord(w, stateHeld, t.AppendCompact(b[:0]))
		}
	})
	return err
}

// stale reports whether a card state can be left out of the state after
// day closed: a state made anew when the card rides again prices its taps
// alike. That is so when it has no open journey, no tap_id a later day's
// window holds (checkpoints keep the days from closed-window+1), and its
// rider last rode before closed, in another month than the next day's:
// its transfer chain is over (transfer windows are at most a day) and its
// daily and monthly spend start again at its next tap. A state folder so
// holds the cards that rode this month or the dedup window, not every
// card ever seen.
func (pr *pricer) stale(st *cardState, closed transit.Day) bool {
	oldest := closed - transit.Day(pr.dedupDays) + 1
	if st.journey != 0 || st.settled {
		return false
	}
	if r := &st.rider; r.HasDay && (r.Day >= closed || r.Month == (closed+1).Month()) {
		return false
	}
	if st.spilled() && (st.spillFar || transit.Day(st.spillHi) >= oldest) {
		return false
	}
	for k := range seenInline {
		if e := st.seen.at(k); e.day != 0 && transit.Day(e.day) >= oldest {
			return false
		}
	}
	return true
}

func writeRecord(w *bufio.Writer, kind byte, body []byte) error {
	var head [1 + binary.MaxVarintLen64]byte
	head[0] = kind
	n := binary.PutUvarint(head[1:], uint64(len(body)))
	if _, err := w.Write(head[:1+n]); err != nil {
		return err
	}
	_, err := w.Write(body)
	return err
}

func appendStateID(b []byte, k *cardKey, d transit.Day, sum uint64, id *transit.TapID) []byte {
	b = appendCardKey(b, k)
	b = binary.AppendVarint(b, int64(d))
	b = binary.LittleEndian.AppendUint64(b, sum)
	return append(b, id.Bytes()...)
}

// maxStateRecord bounds a record's body: a card record is a key, a rider
// and one tap, far below it.
const maxStateRecord = 4096

// stateReader reads the records of a state one at a time, checking
// their framing (not their bodies): what readState and StateRecords
// both walk.
type stateReader struct {
	br  *bufio.Reader
	rec []byte // the last record read, whole: kind, length, body
	n   int    // the records read so far, counted from 1 in errors
}

// newStateReader reads the head of the state r (what AppendStateHead
// appends) and returns a reader of its records, with the state's last
// closed day and dedup window.
func newStateReader(r io.Reader) (*stateReader, transit.Day, uint64, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	magic := make([]byte, len(stateMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != stateMagic {
		return nil, 0, 0, fmt.Errorf("not engine state (no %q header): %w", stateMagic[:len(stateMagic)-1], ErrState)
	}
	closed, err := binary.ReadVarint(br)
	if err != nil || closed < math.MinInt32 || closed > math.MaxInt32 {
		return nil, 0, 0, fmt.Errorf("closed day: %w", ErrState)
	}
	dedup, err := binary.ReadUvarint(br)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("dedup window: %w", ErrState)
	}
	return &stateReader{br: br, rec: make([]byte, 1+binary.MaxVarintLen64+maxStateRecord)}, transit.Day(closed), dedup, nil
}

// next reads the next record: its kind, its body and the whole record
// as written (kind, length, body), valid until the next call. At the
// end record, which must be empty and last, it returns stateEnd.
func (sr *stateReader) next() (kind byte, body, rec []byte, err error) {
	sr.n++
	kind, err = sr.br.ReadByte()
	if err != nil {
		return 0, nil, nil, fmt.Errorf("record %d: %v: %w", sr.n, err, ErrState)
	}
	size, err := binary.ReadUvarint(sr.br)
	if err != nil || size > maxStateRecord {
		return 0, nil, nil, fmt.Errorf("record %d: length %d: %w", sr.n, size, ErrState)
	}
	if kind == stateEnd {
		if _, err := sr.br.ReadByte(); err != io.EOF || size != 0 {
			return 0, nil, nil, fmt.Errorf("data after the last record: %w", ErrState)
		}
		return stateEnd, nil, nil, nil
	}
	sr.rec[0] = kind
	head := 1 + binary.PutUvarint(sr.rec[1:], size)
	rec = sr.rec[:head+int(size)]
	body = rec[head:]
	if _, err := io.ReadFull(sr.br, body); err != nil {
		return 0, nil, nil, fmt.Errorf("record %d: %v: %w", sr.n, err, ErrState)
	}
	return kind, body, rec, nil
}

// ReadState loads state written by WriteState into an engine that has
// priced nothing yet, whatever its shard count, and returns the last day
// closed. Its dedup window is the engine's, not the one recorded: a
// window changed between runs applies from this run.
func (e *Engine) ReadState(r io.Reader) (transit.Day, error) {
	prs := make([]*pricer, len(e.shards))
	for i, s := range e.shards {
		prs[i] = &s.pricer
	}
	return readState(r, prs)
}

// readState is ReadState into the pricers prs, a card's state going to
// prs[ShardOf(card, len(prs))].
func readState(r io.Reader, prs []*pricer) (transit.Day, error) {
	for _, s := range prs {
		if s.stats.Taps != 0 || s.cards.len() != 0 {
			return 0, errors.New("engine: read state into an engine that has state")
		}
	}
	sr, closed, _, err := newStateReader(r)
	if err != nil {
		return 0, err
	}
	n := uint64(len(prs))
	for {
		kind, body, _, err := sr.next()
		if err != nil {
			return 0, err
		}
		if kind == stateEnd {
			break
		}
		if kind == stateHeld {
			var t transit.Tap
			if rest, err := t.DecodeCompact(body); err != nil || len(rest) != 0 {
				return 0, fmt.Errorf("record %d: held tap: %v: %w", sr.n, err, ErrState)
			}
			hi, _ := mulHi(cardHash(&t.Card), n)
			prs[hi].held.add(&t)
			continue
		}
		if kind == stateCharge {
			if err := loadCharge(body, prs); err != nil {
				return 0, fmt.Errorf("record %d: %w: %w", sr.n, err, ErrState)
			}
			continue
		}
		if (kind != stateCard && kind != stateID) || len(body) < cardKeySize {
			return 0, fmt.Errorf("record %d: kind %q of %d bytes: %w", sr.n, kind, len(body), ErrState)
		}
		var key cardKey
		copy(key.card[:], body)
		key.city = transit.City(binary.LittleEndian.Uint32(body[transit.MaxCardID:]))
		hi, _ := mulHi(cardHash(&key.card), n)
		pr := prs[hi]
		if kind == stateCard {
			err = pr.loadCard(&key, body[cardKeySize:])
		} else {
			err = pr.loadID(&key, body[cardKeySize:])
		}
		if err != nil {
			return 0, fmt.Errorf("record %d: %w: %w", sr.n, err, ErrState)
		}
	}
	for _, s := range prs {
		s.closed = closed
		s.oldest = closed - transit.Day(s.dedupDays) + 1
		s.stats.Open = int64(len(s.journeys) - len(s.freeJ))
		s.stats.Held = int64(s.held.len())
		s.published.store(&s.stats)
	}
	return closed, nil
}

// loadCard loads a card record's body (after its key): the card's state
// must not exist yet.
func (pr *pricer) loadCard(key *cardKey, b []byte) error {
	before := pr.cards.len()
	si := pr.cards.find(key, keyHash(key))
	if pr.cards.len() == before {
		return fmt.Errorf("card %q in %v twice", key.card.Bytes(), key.city)
	}
	st := pr.cards.at(si)
	b, err := st.rider.DecodeCompact(b)
	if err != nil {
		return fmt.Errorf("rider: %w", err)
	}
	if len(b) == 0 || b[0]&^(stateOpen|stateCarried|stateSettled) != 0 || b[0]&(stateOpen|stateCarried) == stateCarried {
		return errors.New("journey flags")
	}
	flags := b[0]
	b = b[1:]
	if flags&stateSettled != 0 {
		if b, err = pr.readSettled(b, si); err != nil {
			return err
		}
	}
	if flags&stateOpen != 0 {
		d, rest, err := varint.Int32(b)
		if err != nil {
			return fmt.Errorf("journey day: %w", err)
		}
		var entry transit.Tap
		if b, err = entry.DecodeCompact(rest); err != nil {
			return fmt.Errorf("journey entry: %w", err)
		}
		pr.openJourney(si, &entry, transit.Day(d), -1)
		pr.journeys[st.journey-1].carried = flags&stateCarried != 0
	}
	if len(b) != 0 {
		return fmt.Errorf("%d bytes after the card record", len(b))
	}
	return nil
}

// loadID loads a tap_id record's body (after its key) into the dedup
// window: inline in its card's state when a slot is free, else spilled.
// The card's record comes first.
func (pr *pricer) loadID(key *cardKey, b []byte) error {
	si := pr.cards.find(key, keyHash(key))
	st := pr.cards.at(si)
	d, b, err := varint.Int32(b)
	if err != nil {
		return fmt.Errorf("tap_id day: %w", err)
	}
	if len(b) < 9 {
		return errors.New("tap_id record cut short")
	}
	var id loggedID
	id.sum = binary.LittleEndian.Uint64(b)
	if err := id.id.Set(b[8:]); err != nil {
		return fmt.Errorf("tap_id: %w", err)
	}
	day := transit.Day(d)
	log := pr.dayLog(day)
	if inlineDay(day) && !st.behind(day) {
		for k := range seenInline {
			if !st.seen.inUse(k) {
				id.prev = st.head
				st.head = chainLink{idx: uint32(log.ids.Push(&id)), day: uint16(day)}
				st.seen.set(k, seenEntry{day: uint16(day), tag: uint16(tapHash(&id.id) >> 48)})
				return nil
			}
		}
	}
	st.noteSpill(day)
	pr.spill.add(&spillEntry{id: id.id, card: *key, day: day, sum: id.sum})
	return nil
}

// loadCharge loads a charge record's body into the charge log of its day
// in the pricer of its card.
func loadCharge(b []byte, prs []*pricer) error {
	d, rec, err := varint.Int32(b)
	if err != nil {
		return fmt.Errorf("charge's day: %w", err)
	}
	var r transit.Priced
	if len(rec) > maxChargeRecord {
		return fmt.Errorf("charge record of %d bytes", len(rec))
	}
	if err := decodeCharge(rec, &r); err != nil {
		return err
	}
	hi, _ := mulHi(cardHash(&r.Card), uint64(len(prs)))
	prs[hi].dayLog(transit.Day(d)).charges.add(rec)
	return nil
}
