package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/tapsettle/tapsettle/internal/varint"
	"github.com/tapsettle/tapsettle/transit"
)

// A Partition's state is checkpointed incrementally, in three parts that
// map onto any key-value store with lists:
//
//   - cards: one record per (card, city) journey state, keyed by the card
//     and the city; a checkpoint upserts only the states changed since the
//     previous one. The value holds the rider's accumulators, the inline
//     tap_ids and the open metro entry, if any, in compact forms (see
//     appendCard).
//   - lists "ids/<day>" and "spills/<day>": the tap_id logs of the retained
//     days and the spilled tap_ids of those days (dedup.go), append-only,
//     so a checkpoint appends only the identifiers logged since the
//     previous one, and drops the lists of evicted days. An ids blob starts
//     with compactIDsSums, then holds each identifier length-prefixed, not
//     padded to its 40 bytes, and its tap's content sum. A spills entry is
//     the identifier, the card key and the content sum. Lists written by
//     earlier builds without sums (ids blobs starting with compactIDs,
//     lists "spill/<day>") are read with the sums unknown.
//   - meta: the scalars (watermarks, the last closed day, counters) and the
//     reorder buffer, rewritten whole; it is small (a window of taps, in
//     their compact form).
//
// The meta's version byte, a card record's format flags and the ids
// blob's first byte leave room for other forms: Restore refuses versions
// and flags it does not know rather than guess at them.
//
// Restore rebuilds exactly the state that was checkpointed: pricing after a
// restore emits exactly what the uninterrupted partition would have.

// CheckpointWriter receives the state changed since the previous
// checkpoint. Slices passed to it are valid only during the call.
type CheckpointWriter interface {
	// Card upserts a journey state.
	Card(key, value []byte)
	// Drop deletes a list; drops precede appends in the same checkpoint.
	Drop(list string)
	// Append appends blob to a list.
	Append(list string, blob []byte)
}

// ErrCheckpoint is returned by Restore for state it cannot read.
var ErrCheckpoint = errors.New("engine: invalid checkpoint")

const (
	// metaVersion is the first byte of the meta blob. Version 2 counted
	// the rows of the statuses before transit.StatusAdjustment; Restore
	// reads it. Version 1 (held taps in a fixed-size form) was never
	// released; Restore refuses it like any version it does not know.
	metaVersion = 3
	// metaFixedSize is the meta blob before its held taps: the version,
	// nine scalars, the row counts by status, the number of held taps.
	metaFixedSize   = 1 + 9*8 + transit.NumStatuses*8 + 4
	metaV2Statuses  = int(transit.NumRecordStatuses)
	cardKeySize     = transit.MaxCardID + 4
	compactSeenSize = 8 // an entry of cardCompactSeen: day, tag, log index
	chainSeenSize   = 4 // an entry of cardChainSeen: day, tag
	chainLinkSize   = 6 // a chainLink: day (2 bytes), log index (4)

	idsList      = "ids/"
	chargesList  = "charges/"
	spillList    = "spills/"
	oldSpillList = "spill/" // entries without a content sum

	// compactIDs is the first byte of an ids blob of an earlier build:
	// then, per identifier, its length (1..MaxTapID) and its bytes.
	// Identifiers are mostly far shorter than their 40-byte maximum, and
	// every tap stores one.
	compactIDs = 0
	// compactIDsSums is the first byte of an ids blob: as compactIDs, each
	// identifier followed by its tap's content sum (8 bytes).
	compactIDsSums = 1
	// compactIDsChain is the first byte of an ids blob: as compactIDsSums,
	// each identifier's sum followed by its chain link (loggedID.prev,
	// chainLinkSize bytes). Blobs of the earlier forms restore without
	// links: the card records of those builds index their tap_ids
	// instead (cardCompactSeen).
	compactIDsChain = 2

	// compactCharges is the first byte of a charges blob: then each
	// record (appendCharge) after its length (uvarint).
	compactCharges = 1

	spillEntrySize    = transit.MaxTapID + cardKeySize + 8
	oldSpillEntrySize = transit.MaxTapID + cardKeySize
)

// The first byte of a card record holds flags: what the record holds and
// the forms it is in.
const (
	// cardSpilled: some of the card's tap_ids spilled to the day's spill
	// sets (cardState.noteSpill).
	cardSpilled = 1 << 0
	// cardJourney: an open metro journey ends the record.
	cardJourney = 1 << 1
	// cardCompactSeen: the tap_id entries are those in use, 8 bytes each
	// (day, tag, index in the day's log), after a count. Written by
	// earlier builds; Restore moves their tap_ids to the spill set.
	cardCompactSeen = 1 << 2
	// cardCompact: the rider and open journey are in their compact forms
	// (fares.Rider.AppendCompact; the journey's day as a varint and its
	// entry by transit.Tap.AppendCompact).
	cardCompact = 1 << 3
	// cardCarried: the open journey carried past its entry's cut-off to
	// the next day (openJourney.carried). Records written before it
	// existed have it clear, as their journeys had not carried.
	cardCarried = 1 << 4
	// cardSettled: an incomplete metro charge that a late tap may
	// complete (adjust.go) follows the tap_id entries
	// (pricer.appendSettled).
	cardSettled = 1 << 5
	// cardChainSeen: the tap_id entries are those in use, 4 bytes each
	// (day, tag), after a count, then the card's chain head (cardState.head,
	// chainLinkSize bytes).
	cardChainSeen = 1 << 6

	// cardFormat is the flags every record is written with. Restore reads
	// it and the earlier cardCompactSeen | cardCompact; a record of
	// neither form is of a form this build does not know, like one with
	// flags outside cardFlagsAll.
	cardFormat   = cardChainSeen | cardCompact
	cardFlagsAll = cardSpilled | cardJourney | cardCarried | cardSettled | cardFormat | cardCompactSeen
)

// cardSeenForm returns a card record's tap_id form (cardChainSeen or
// cardCompactSeen) when its flags are of a form Restore reads, else 0.
func cardSeenForm(flags byte) byte {
	form := flags & (cardChainSeen | cardCompactSeen)
	if flags&^cardFlagsAll != 0 || flags&cardCompact == 0 || form != cardChainSeen && form != cardCompactSeen ||
		flags&(cardCarried|cardJourney) == cardCarried {
		return 0
	}
	return form
}

// appendLoggedID appends id length-prefixed without its padding, then its
// content sum and chain link (compactIDsChain).
func appendLoggedID(b []byte, id *loggedID) []byte {
	v := id.id.Bytes()
	b = append(b, byte(len(v)))
	b = append(b, v...)
	b = binary.LittleEndian.AppendUint64(b, id.sum)
	return appendChainLink(b, id.prev)
}

func appendChainLink(b []byte, l chainLink) []byte {
	b = binary.LittleEndian.AppendUint16(b, l.day)
	return binary.LittleEndian.AppendUint32(b, l.idx)
}

func readChainLink(b []byte) chainLink {
	return chainLink{day: binary.LittleEndian.Uint16(b), idx: binary.LittleEndian.Uint32(b[2:])}
}

// readIDs calls f for each identifier of an ids blob.
func readIDs(b []byte, f func(*loggedID)) error {
	if len(b) == 0 || b[0] != compactIDs && b[0] != compactIDsSums && b[0] != compactIDsChain {
		return fmt.Errorf("ids blob of %d bytes starts with %v, want %d", len(b), b[:min(1, len(b))], compactIDsChain)
	}
	sums, links := b[0] != compactIDs, b[0] == compactIDsChain
	var id loggedID
	for b = b[1:]; len(b) > 0; {
		n := int(b[0])
		end := 1 + n
		if sums {
			end += 8
		}
		if links {
			end += chainLinkSize
		}
		if len(b) < end {
			return fmt.Errorf("identifier of %d bytes cut short at %d", n, len(b)-1)
		}
		if err := id.id.Set(b[1 : 1+n]); err != nil {
			return fmt.Errorf("identifier: %w", err)
		}
		if sums {
			id.sum = binary.LittleEndian.Uint64(b[1+n:])
		}
		if links {
			id.prev = readChainLink(b[1+n+8:])
		}
		f(&id)
		b = b[end:]
	}
	return nil
}

// checkpointState is what a Partition remembers of its last checkpoint.
type checkpointState struct {
	stored []transit.Day // days whose id lists exist in the store
	buf    []byte
}

// Checkpoint writes to w the state changed since the previous Checkpoint
// (or Restore), or all of it when full, and appends the meta blob to meta.
// A full checkpoint is meant for a store that first drops everything.
func (p *Partition) Checkpoint(w CheckpointWriter, full bool, meta []byte) []byte {
	pr := &p.pricer
	buf := p.ckpt.buf
	// Cards.
	emit := func(i int32) {
		st := pr.cards.at(i)
		st.dirty = false
		buf = appendCardKey(buf[:0], &st.key)
		k := len(buf)
		buf = p.appendCard(buf, st, i)
		w.Card(buf[:k], buf[k:])
	}
	if full {
		for i := range pr.cards.len() {
			emit(int32(i))
		}
	} else {
		for _, i := range pr.dirty {
			emit(i)
		}
	}
	pr.dirty = pr.dirty[:0]
	// Tap-id logs.
	var keep []transit.Day
	for _, d := range p.ckpt.stored {
		if l := pr.findLog(d); full || l == nil || l.fresh {
			w.Drop(idsList + strconv.Itoa(int(d)))
			w.Drop(spillList + strconv.Itoa(int(d)))
			w.Drop(oldSpillList + strconv.Itoa(int(d)))
			w.Drop(chargesList + strconv.Itoa(int(d)))
			continue
		}
		keep = append(keep, d)
	}
	for _, l := range pr.logs {
		if full {
			l.ckIDs = 0
		}
		if l.fresh || full {
			l.fresh = false
			keep = append(keep, l.day)
		}
		if n := l.ids.Len(); n > l.ckIDs {
			buf = append(buf[:0], compactIDsChain)
			for i := l.ckIDs; i < n; i++ {
				buf = appendLoggedID(buf, l.ids.At(i))
			}
			w.Append(idsList+strconv.Itoa(int(l.day)), buf)
			l.ckIDs = n
		}
		c := &l.charges
		if full {
			c.ck = 0
		}
		if n := c.len(); n > c.ck {
			buf = append(buf[:0], compactCharges)
			for i := c.ck; i < n; i++ {
				rec := c.record(i)
				buf = binary.AppendUvarint(buf, uint64(len(rec)))
				buf = append(buf, rec...)
			}
			w.Append(chargesList+strconv.Itoa(int(l.day)), buf)
			c.ck = n
		}
	}
	if full {
		pr.spill.ck = 0
	}
	buf = p.checkpointSpill(w, buf)
	slices.Sort(keep)
	p.ckpt.stored = slices.Compact(keep)
	p.ckpt.buf = buf
	return p.appendMeta(meta)
}

// checkpointSpill appends the spill entries made since the previous
// checkpoint to their days' lists, one blob per day.
func (p *Partition) checkpointSpill(w CheckpointWriter, buf []byte) []byte {
	s := &p.pricer.spill
	n := s.entries.Len()
	var days []transit.Day // few: the days of the taps since the last checkpoint
	for i := s.ck; i < n; i++ {
		if e := s.entries.At(i); s.live(e) && !slices.Contains(days, e.day) {
			days = append(days, e.day)
		}
	}
	for _, d := range days {
		buf = buf[:0]
		for i := s.ck; i < n; i++ {
			if e := s.entries.At(i); e.day == d {
				buf = append(buf, e.id[:]...)
				buf = appendCardKey(buf, &e.card)
				buf = binary.LittleEndian.AppendUint64(buf, e.sum)
			}
		}
		w.Append(spillList+strconv.Itoa(int(d)), buf)
	}
	s.ck = n
	return buf
}

func appendCardKey(b []byte, k *cardKey) []byte {
	b = append(b, k.card[:]...)
	return binary.LittleEndian.AppendUint32(b, uint32(k.city))
}

func (p *Partition) appendCard(b []byte, st *cardState, si int32) []byte {
	var flags byte = cardFormat
	if st.settled {
		flags |= cardSettled
	}
	if st.spilled() {
		flags |= cardSpilled
	}
	if st.journey != 0 {
		flags |= cardJourney
		if p.journeys[st.journey-1].carried {
			flags |= cardCarried
		}
	}
	b = append(b, flags)
	b = st.rider.AppendCompact(b)
	b = appendSeen(b, st)
	if st.settled {
		b = p.appendSettled(b, si)
	}
	if st.journey != 0 {
		j := &p.journeys[st.journey-1]
		b = binary.AppendVarint(b, int64(j.day))
		b = j.entry.AppendCompact(b)
	}
	return b
}

// appendSeen appends the card's tap_id entries in their compact form
// (cardChainSeen): a count, then the entries in use, 4 bytes each, then
// the chain's head. Most cards have one to three in use of seenInline,
// and the record is what every checkpoint writes per changed card.
func appendSeen(b []byte, st *cardState) []byte {
	n := len(b)
	b = append(b, 0)
	for i := range seenInline {
		if e := st.seen.at(i); e.day != 0 {
			b = binary.LittleEndian.AppendUint16(b, e.day)
			b = binary.LittleEndian.AppendUint16(b, e.tag)
			b[n]++
		}
	}
	return appendChainLink(b, st.head)
}

func (p *Partition) appendMeta(b []byte) []byte {
	pr := &p.pricer
	b = append(b, metaVersion)
	for _, v := range []int64{pr.released, pr.step, p.clock.maxTime, p.clock.watermark, p.clock.window,
		int64(pr.oldest), int64(pr.closed), pr.stats.Taps, pr.stats.Late} {
		b = binary.LittleEndian.AppendUint64(b, uint64(v))
	}
	for _, v := range pr.stats.Rows {
		b = binary.LittleEndian.AppendUint64(b, uint64(v))
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(pr.held.len()))
	pr.held.each(func(t *transit.Tap) { b = t.AppendCompact(b) })
	return b
}

// Restore loads checkpointed state into a partition that has priced
// nothing yet. cards and lists are the store's contents (lists it does not
// know are ignored, so a caller may keep its own lists beside them).
func (p *Partition) Restore(meta []byte, cards map[string][]byte, lists map[string][][]byte) error {
	pr := &p.pricer
	if pr.stats.Taps != 0 || pr.held.len() != 0 || pr.cards.len() != 0 {
		return fmt.Errorf("restore into a partition that has state: %w", ErrCheckpoint)
	}
	if err := p.restoreMeta(meta); err != nil {
		return err
	}
	spilled, legacy, err := p.restoreCards(cards)
	if err != nil {
		return err
	}
	span, err := p.restoreLists(lists)
	if err != nil {
		return err
	}
	// A spilled card's ids are in some of the spill lists read: the span
	// of their days is a safe superset of where to look.
	for _, si := range spilled {
		st := pr.cards.at(si)
		st.spillLo, st.spillHi, st.spillFar = span.spillLo, span.spillHi, span.spillFar
	}
	p.restoreLegacy(legacy)
	p.ckpt.stored = p.ckpt.stored[:0]
	for _, l := range pr.logs {
		p.ckpt.stored = append(p.ckpt.stored, l.day)
	}
	slices.Sort(p.ckpt.stored)
	pr.stats.Held = int64(pr.held.len())
	pr.stats.Open = int64(len(pr.journeys) - len(pr.freeJ))
	pr.published.store(&pr.stats)
	return nil
}

// restoreCards reads the card records and returns the states whose record
// has the spilled flag (which days' sets may hold their ids is known once
// the lists are read) and the tap_id entries of records of an earlier
// form (restoreLegacy).
func (p *Partition) restoreCards(cards map[string][]byte) (spilled []int32, legacy []legacySeen, err error) {
	pr := &p.pricer
	for k, v := range cards {
		if len(k) != cardKeySize || len(v) == 0 {
			return nil, nil, fmt.Errorf("card record of %d+%d bytes: %w", len(k), len(v), ErrCheckpoint)
		}
		form := cardSeenForm(v[0])
		if form == 0 {
			return nil, nil, fmt.Errorf("card record with flags %#x: unknown format: %w", v[0], ErrCheckpoint)
		}
		var key cardKey
		copy(key.card[:], k)
		key.city = transit.City(binary.LittleEndian.Uint32([]byte(k[transit.MaxCardID:])))
		si := pr.cards.find(&key, keyHash(&key))
		st := pr.cards.at(si)
		flags := v[0]
		if flags&cardSpilled != 0 {
			spilled = append(spilled, si)
		}
		s, err := st.rider.DecodeCompact(v[1:])
		if err != nil {
			return nil, nil, fmt.Errorf("card rider: %w: %w", err, ErrCheckpoint)
		}
		if s, legacy, err = restoreSeen(st, si, form, s, legacy); err != nil {
			return nil, nil, err
		}
		if flags&cardSettled != 0 {
			if s, err = pr.readSettled(s, si); err != nil {
				return nil, nil, fmt.Errorf("card record: %w: %w", err, ErrCheckpoint)
			}
		}
		if flags&cardJourney != 0 {
			entry, day, err := restoreJourney(s)
			if err != nil {
				return nil, nil, err
			}
			// States never move, so the journey can point at si now.
			pr.openJourney(si, &entry, day, -1)
			pr.journeys[st.journey-1].carried = flags&cardCarried != 0
		} else if len(s) != 0 {
			return nil, nil, fmt.Errorf("card record has %d trailing bytes: %w", len(s), ErrCheckpoint)
		}
	}
	return spilled, legacy, nil
}

// restoreLists reads the tap_id logs (ids and spill lists) and returns a
// state noted with the day of every spill list read.
func (p *Partition) restoreLists(lists map[string][][]byte) (span cardState, err error) {
	pr := &p.pricer
	// In name order, so that the spill set is rebuilt in one order.
	for _, name := range slices.Sorted(maps.Keys(lists)) {
		size := 0 // of a spill entry; 0 for an ids list, -1 for charges
		var rest string
		switch {
		case strings.HasPrefix(name, idsList):
			rest = name[len(idsList):]
		case strings.HasPrefix(name, chargesList):
			rest, size = name[len(chargesList):], -1
		case strings.HasPrefix(name, spillList):
			rest, size = name[len(spillList):], spillEntrySize
		case strings.HasPrefix(name, oldSpillList):
			rest, size = name[len(oldSpillList):], oldSpillEntrySize
		default:
			continue
		}
		n, err := strconv.Atoi(rest)
		if err != nil || n < math.MinInt32 || n > math.MaxInt32 {
			return span, fmt.Errorf("list %q: %w", name, ErrCheckpoint)
		}
		d := transit.Day(n)
		l := pr.dayLog(d)
		l.fresh = false
		if size > 0 {
			span.noteSpill(d)
		}
		for _, b := range lists[name] {
			switch {
			case size < 0:
				err = readCharges(b, &l.charges)
			case size > 0:
				err = readSpill(b, d, size, &pr.spill)
			default:
				err = readIDs(b, func(id *loggedID) { l.ids.Push(id) })
			}
			if err != nil {
				return span, fmt.Errorf("list %q: %w: %w", name, err, ErrCheckpoint)
			}
		}
		l.ckIDs = l.ids.Len()
		l.charges.ck = l.charges.len()
	}
	pr.spill.ck = pr.spill.len()
	return span, nil
}

// readCharges adds the records of a charges blob to c, checking each.
func readCharges(b []byte, c *chargeLog) error {
	if len(b) == 0 || b[0] != compactCharges {
		return fmt.Errorf("charges blob of %d bytes starts with %v, want %d", len(b), b[:min(1, len(b))], compactCharges)
	}
	var r transit.Priced
	for b = b[1:]; len(b) > 0; {
		n, rest, err := varint.Uvarint(b)
		if err != nil || n > maxChargeRecord || n > uint64(len(rest)) {
			return fmt.Errorf("charge record of %d bytes, %d left", n, len(rest))
		}
		if err := decodeCharge(rest[:n], &r); err != nil {
			return err
		}
		c.add(rest[:n])
		b = rest[n:]
	}
	return nil
}

// readSpill adds the entries of a spill blob of day d to s: size-byte
// entries, with a content sum when spillEntrySize.
func readSpill(b []byte, d transit.Day, size int, s *spillSet) error {
	if len(b)%size != 0 {
		return fmt.Errorf("spill blob of %d bytes, not a whole number of %d-byte entries", len(b), size)
	}
	for ; len(b) > 0; b = b[size:] {
		e := spillEntry{day: d}
		copy(e.id[:], b)
		copy(e.card.card[:], b[transit.MaxTapID:])
		e.card.city = transit.City(binary.LittleEndian.Uint32(b[transit.MaxTapID+transit.MaxCardID:]))
		if size == spillEntrySize {
			e.sum = binary.LittleEndian.Uint64(b[oldSpillEntrySize:])
		}
		s.add(&e)
	}
	return nil
}

func (p *Partition) restoreMeta(b []byte) error {
	pr := &p.pricer
	statuses := transit.NumStatuses
	if len(b) > 0 && b[0] == 2 {
		statuses = metaV2Statuses
	}
	if len(b) < metaFixedSize-(transit.NumStatuses-statuses)*8 || b[0] != metaVersion && statuses == transit.NumStatuses {
		return fmt.Errorf("meta of %d bytes, version %v, want version %d: %w", len(b), b[:min(1, len(b))], metaVersion, ErrCheckpoint)
	}
	b = b[1:]
	next := func() int64 {
		v := int64(binary.LittleEndian.Uint64(b))
		b = b[8:]
		return v
	}
	pr.released, pr.step, p.clock.maxTime, p.clock.watermark = next(), next(), next(), next()
	if w := next(); w != p.clock.window {
		return fmt.Errorf("checkpoint taken with window %v, partition has %v: %w", w, p.clock.window, ErrCheckpoint)
	}
	pr.oldest, pr.closed = transit.Day(next()), transit.Day(next())
	pr.stats.Taps, pr.stats.Late = next(), next()
	for i := range statuses {
		pr.stats.Rows[i] = next()
	}
	n := int(binary.LittleEndian.Uint32(b))
	b = b[4:]
	var t transit.Tap
	for i := range n {
		var err error
		if b, err = t.DecodeCompact(b); err != nil {
			return fmt.Errorf("reorder buffer: tap %d of %d: %w: %w", i, n, err, ErrCheckpoint)
		}
		pr.held.add(&t)
	}
	if len(b) != 0 {
		return fmt.Errorf("reorder buffer of %d taps has %d trailing bytes: %w", n, len(b), ErrCheckpoint)
	}
	return nil
}

// restoreJourney reads the open journey that ends a card record: its day
// and its entry tap.
func restoreJourney(s []byte) (transit.Tap, transit.Day, error) {
	var entry transit.Tap
	day, s, err := varint.Int32(s)
	if err != nil {
		return entry, 0, fmt.Errorf("open journey's day: %w: %w", err, ErrCheckpoint)
	}
	if s, err = entry.DecodeCompact(s); err != nil {
		return entry, 0, fmt.Errorf("open journey: %w: %w", err, ErrCheckpoint)
	}
	if len(s) != 0 {
		return entry, 0, fmt.Errorf("card record has %d bytes after its open journey: %w", len(s), ErrCheckpoint)
	}
	return entry, transit.Day(day), nil
}

// legacySeen is a tap_id entry of a card record of an earlier build
// (cardCompactSeen): card state si's tap_id at index idx of day's log.
type legacySeen struct {
	si  int32
	day uint16
	idx uint32
}

// restoreSeen reads a card record's tap_id entries (appendSeen) of form
// (cardSeenForm) into state si, and returns the rest of the record and
// legacy with the entries of a cardCompactSeen record appended: those
// index their day's log, which can be read only once the lists are.
func restoreSeen(st *cardState, si int32, form byte, s []byte, legacy []legacySeen) ([]byte, []legacySeen, error) {
	if len(s) == 0 {
		return nil, legacy, fmt.Errorf("card record ends before its tap_id entries: %w", ErrCheckpoint)
	}
	n := int(s[0])
	s = s[1:]
	size, tail := chainSeenSize, chainLinkSize
	if form == cardCompactSeen {
		size, tail = compactSeenSize, 0
	}
	if n > seenInline || len(s) < n*size+tail {
		return nil, legacy, fmt.Errorf("card record with %d tap_id entries in %d bytes: %w", n, len(s), ErrCheckpoint)
	}
	for j := range n {
		e := seenEntry{
			day: binary.LittleEndian.Uint16(s),
			tag: binary.LittleEndian.Uint16(s[2:]),
		}
		if e.day == 0 {
			return nil, legacy, fmt.Errorf("card tap_id entry of day 0: %w", ErrCheckpoint)
		}
		if form == cardCompactSeen {
			legacy = append(legacy, legacySeen{si: si, day: e.day, idx: binary.LittleEndian.Uint32(s[4:])})
		} else {
			st.seen.set(j, e)
		}
		s = s[size:]
	}
	if tail != 0 {
		st.head = readChainLink(s)
		if (st.head.day == 0) != (n == 0) {
			return nil, legacy, fmt.Errorf("card with %d tap_id entries and a chain head of day %d: %w", n, st.head.day, ErrCheckpoint)
		}
	}
	return s[tail:], legacy, nil
}

// restoreLegacy moves the tap_ids of card records of an earlier build
// (cardCompactSeen), which indexed each inline tap_id in its day's log
// where this build chains them (cardState.head), to the spill set: exact
// either way. Their cards are written anew, in this build's form, at the
// next checkpoint, and the spill entries with them. Entries of days
// evicted, or past their log, are dropped as that build's lookup dropped
// them.
func (p *Partition) restoreLegacy(legacy []legacySeen) {
	pr := &p.pricer
	for _, e := range legacy {
		d := transit.Day(e.day)
		l := pr.findLog(d)
		if l == nil || int(e.idx) >= l.ids.Len() {
			continue
		}
		st := pr.cards.at(e.si)
		id := l.ids.At(int(e.idx))
		st.noteSpill(d)
		pr.spill.add(&spillEntry{id: id.id, card: st.key, day: d, sum: id.sum})
		pr.markDirty(st, e.si)
	}
}
