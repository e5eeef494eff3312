package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/tapsettle/tapsettle/fares"
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
//     appendCard); records written before in fixed-size forms are still
//     read.
//   - lists "ids/<day>" and "spill/<day>": the tap_id logs of the retained
//     days, append-only, so a checkpoint appends only the identifiers
//     logged since the previous one, and drops the lists of evicted days.
//     An ids blob is compact (compactIDs: each identifier length-prefixed,
//     not padded to its 40 bytes); blobs of fixed 40-byte identifiers,
//     written before, are still read, also mixed with compact ones in one
//     list.
//   - meta: the scalars (watermarks, the last closed day, counters) and the
//     reorder buffer, rewritten whole; it is small (a window of taps, in
//     their compact form since metaVersion 2).
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
	// metaVersion 2 holds the reorder buffer's taps in their compact form
	// (transit.Tap.AppendCompact); version 1, fixed-size taps, is still
	// read.
	metaVersion      = 2
	metaVersionFixed = 1
	// metaFixedSize is the meta blob before its held taps: the version,
	// nine scalars, the row counts by status, the number of held taps.
	metaFixedSize   = 1 + 9*8 + transit.NumStatuses*8 + 4
	cardKeySize     = transit.MaxCardID + 4
	seenSize        = 12 // an entry of the records written before cardCompactSeen
	compactSeenSize = 8
	// cardCompactSeen flags a card record that holds only its tap_id
	// entries in use, 8 bytes each, after a count.
	cardCompactSeen = 4
	// cardCompact flags a card record whose rider and open journey are in
	// their compact forms (fares.Rider.AppendCompact; the journey's day as
	// a varint and its entry by transit.Tap.AppendCompact). A record is
	// what every checkpoint writes per changed card, so its size is most
	// of a checkpoint's: 154 bytes a card on average in the fixed forms,
	// about 98 in these (key included; a generated day). Records without the
	// flag are still read.
	cardCompact  = 8
	cardFlagsAll = 1 | 2 | cardCompactSeen | cardCompact
	journeyBytes = 4 + transit.TapBinarySize

	idsList   = "ids/"
	spillList = "spill/"

	// compactIDs is the first byte of a compact ids blob: then, per
	// identifier, its length (1..MaxTapID) and its bytes. A blob of fixed
	// 40-byte identifiers never starts with it, since an identifier's
	// first byte is never NUL. Identifiers are mostly far shorter than 40
	// bytes (the generator's are 17), and every tap stores one: this
	// halves what a checkpoint writes and a store (Redis) holds for them.
	compactIDs = 0
)

// appendCompactID appends id, length-prefixed without its padding.
func appendCompactID(b []byte, id *transit.TapID) []byte {
	v := id.Bytes()
	b = append(b, byte(len(v)))
	return append(b, v...)
}

// readIDs calls f for each identifier of an ids blob, compact or of fixed
// 40-byte identifiers.
func readIDs(b []byte, f func(*transit.TapID)) error {
	var id transit.TapID
	if len(b) == 0 || b[0] != compactIDs {
		if len(b)%transit.MaxTapID != 0 {
			return fmt.Errorf("%d bytes, not a whole number of %d-byte identifiers", len(b), transit.MaxTapID)
		}
		for ; len(b) > 0; b = b[transit.MaxTapID:] {
			raw := transit.TapID(b[:transit.MaxTapID])
			// As written: a valid identifier, NUL-padded.
			if err := id.Set(raw.Bytes()); err != nil || id != raw {
				return fmt.Errorf("a fixed-width identifier is not a valid NUL-padded one (%v)", err)
			}
			f(&id)
		}
		return nil
	}
	for b = b[1:]; len(b) > 0; {
		n := int(b[0])
		if len(b) < 1+n {
			return fmt.Errorf("identifier of %d bytes cut short at %d", n, len(b)-1)
		}
		if err := id.Set(b[1 : 1+n]); err != nil {
			return fmt.Errorf("identifier: %w", err)
		}
		f(&id)
		b = b[1+n:]
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
	c := &p.core
	buf := p.ckpt.buf
	// Cards.
	emit := func(i int32) {
		st := c.cards.at(i)
		st.dirty = false
		buf = appendCardKey(buf[:0], &st.key)
		k := len(buf)
		buf = p.appendCard(buf, st)
		w.Card(buf[:k], buf[k:])
	}
	if full {
		for i := range c.cards.len() {
			emit(int32(i))
		}
	} else {
		for _, i := range c.dirty {
			emit(i)
		}
	}
	c.dirty = c.dirty[:0]
	// Tap-id logs.
	var keep []transit.Day
	for _, d := range p.ckpt.stored {
		if l := c.findLog(d); full || l == nil || l.fresh {
			w.Drop(idsList + strconv.Itoa(int(d)))
			w.Drop(spillList + strconv.Itoa(int(d)))
			continue
		}
		keep = append(keep, d)
	}
	for _, l := range c.logs {
		if full {
			l.ckIDs, l.ckSpill = 0, 0
		}
		if l.fresh || full {
			l.fresh = false
			keep = append(keep, l.day)
		}
		if n := l.ids.len(); n > l.ckIDs {
			buf = append(buf[:0], compactIDs)
			for i := l.ckIDs; i < n; i++ {
				buf = appendCompactID(buf, l.ids.at(i))
			}
			w.Append(idsList+strconv.Itoa(int(l.day)), buf)
			l.ckIDs = n
		}
		if n := len(l.spill.ids); n > l.ckSpill {
			buf = buf[:0]
			for i := l.ckSpill; i < n; i++ {
				k := &l.spill.ids[i]
				buf = append(buf, k.id[:]...)
				buf = appendCardKey(buf, &k.card)
			}
			w.Append(spillList+strconv.Itoa(int(l.day)), buf)
			l.ckSpill = n
		}
	}
	slices.Sort(keep)
	p.ckpt.stored = slices.Compact(keep)
	p.ckpt.buf = buf
	return p.appendMeta(meta)
}

func appendCardKey(b []byte, k *cardKey) []byte {
	b = append(b, k.card[:]...)
	return binary.LittleEndian.AppendUint32(b, uint32(k.city))
}

func (p *Partition) appendCard(b []byte, st *cardState) []byte {
	var flags byte
	if st.spilled() {
		flags |= 1
	}
	if st.journey != 0 {
		flags |= 2
	}
	b = append(b, flags|cardCompactSeen|cardCompact)
	b = st.rider.AppendCompact(b)
	b = appendSeen(b, st)
	if st.journey != 0 {
		j := &p.journeys[st.journey-1]
		b = binary.AppendVarint(b, int64(j.day))
		b = j.entry.AppendCompact(b)
	}
	return b
}

// appendSeen appends the card's tap_id entries in their compact form
// (cardCompactSeen): a count, then the entries in use, 8 bytes each. Most
// cards have one to three, and the record is what every checkpoint writes
// per changed card.
func appendSeen(b []byte, st *cardState) []byte {
	n := len(b)
	b = append(b, 0)
	for i := range st.seen {
		if e := &st.seen[i]; e.day != 0 {
			b = binary.LittleEndian.AppendUint16(b, e.day)
			b = binary.LittleEndian.AppendUint16(b, e.tag)
			b = binary.LittleEndian.AppendUint32(b, e.idx)
			b[n]++
		}
	}
	return b
}

func (p *Partition) appendMeta(b []byte) []byte {
	c := &p.core
	b = append(b, metaVersion)
	for _, v := range []int64{c.released, c.step, p.clock.maxTime, p.clock.watermark, p.clock.window,
		int64(c.oldest), int64(p.settled), c.stats.Taps, c.stats.Late} {
		b = binary.LittleEndian.AppendUint64(b, uint64(v))
	}
	for _, v := range c.stats.Rows {
		b = binary.LittleEndian.AppendUint64(b, uint64(v))
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(c.held.len()))
	c.held.each(func(t *transit.Tap) { b = t.AppendCompact(b) })
	return b
}

// Restore loads checkpointed state into a partition that has priced
// nothing yet. cards and lists are the store's contents (lists it does not
// know are ignored, so a caller may keep its own lists beside them).
func (p *Partition) Restore(meta []byte, cards map[string][]byte, lists map[string][][]byte) error {
	c := &p.core
	if c.stats.Taps != 0 || c.held.len() != 0 || c.cards.len() != 0 {
		return fmt.Errorf("%w: restore into a partition that has state", ErrCheckpoint)
	}
	if err := p.restoreMeta(meta); err != nil {
		return err
	}
	var spilled []int32 // cards whose record has the spilled flag
	for k, v := range cards {
		if len(k) != cardKeySize || len(v) == 0 || v[0]&^cardFlagsAll != 0 {
			return fmt.Errorf("%w: card record of %d+%d bytes, flags %x", ErrCheckpoint, len(k), len(v), v[:min(1, len(v))])
		}
		var key cardKey
		copy(key.card[:], k)
		key.city = transit.City(binary.LittleEndian.Uint32([]byte(k[transit.MaxCardID:])))
		si := c.cards.find(&key, keyHash(&key))
		st := c.cards.at(si)
		flags := v[0]
		if flags&1 != 0 {
			// The record says only that some ids spilled: which days'
			// sets may hold them is known once the lists are read.
			spilled = append(spilled, si)
		}
		s, err := restoreRider(&st.rider, flags, v[1:])
		if err != nil {
			return err
		}
		if s, err = restoreSeen(st, flags, s); err != nil {
			return err
		}
		if flags&2 != 0 {
			entry, day, err := restoreJourney(flags, s)
			if err != nil {
				return err
			}
			// States never move, so the journey can point at si now.
			c.openJourney(si, &entry, day, -1)
		} else if len(s) != 0 {
			return fmt.Errorf("%w: card record has %d trailing bytes", ErrCheckpoint, len(s))
		}
	}
	var span cardState // noted with the day of every spill list read
	for name, blobs := range lists {
		var spill bool
		var rest string
		switch {
		case strings.HasPrefix(name, idsList):
			rest = name[len(idsList):]
		case strings.HasPrefix(name, spillList):
			rest, spill = name[len(spillList):], true
		default:
			continue
		}
		n, err := strconv.Atoi(rest)
		if err != nil || n < math.MinInt32 || n > math.MaxInt32 {
			return fmt.Errorf("%w: list %q", ErrCheckpoint, name)
		}
		l := c.dayLog(transit.Day(n))
		l.fresh = false
		if spill {
			span.noteSpill(transit.Day(n))
		}
		const size = transit.MaxTapID + cardKeySize
		for _, b := range blobs {
			if !spill {
				if err := readIDs(b, func(id *transit.TapID) { l.ids.push(id) }); err != nil {
					return fmt.Errorf("%w: list %q: %v", ErrCheckpoint, name, err)
				}
				continue
			}
			if len(b)%size != 0 {
				return fmt.Errorf("%w: list %q holds %d bytes", ErrCheckpoint, name, len(b))
			}
			for ; len(b) > 0; b = b[size:] {
				var k spillKey
				copy(k.id[:], b)
				copy(k.card.card[:], b[transit.MaxTapID:])
				k.card.city = transit.City(binary.LittleEndian.Uint32(b[transit.MaxTapID+transit.MaxCardID:]))
				l.spill.add(&k)
			}
		}
		l.ckIDs, l.ckSpill = l.ids.len(), len(l.spill.ids)
	}
	// A spilled card's ids are in some of the spill lists read: the span
	// of their days is a safe superset of where to look.
	for _, si := range spilled {
		st := c.cards.at(si)
		st.spillLo, st.spillHi, st.spillFar = span.spillLo, span.spillHi, span.spillFar
	}
	p.ckpt.stored = p.ckpt.stored[:0]
	for _, l := range c.logs {
		p.ckpt.stored = append(p.ckpt.stored, l.day)
	}
	slices.Sort(p.ckpt.stored)
	c.stats.Held = int64(c.held.len())
	c.stats.Open = int64(len(c.journeys) - len(c.freeJ))
	c.published.store(&c.stats)
	return nil
}

func (p *Partition) restoreMeta(b []byte) error {
	c := &p.core
	if len(b) < metaFixedSize || (b[0] != metaVersion && b[0] != metaVersionFixed) {
		return fmt.Errorf("%w: meta of %d bytes, version %v", ErrCheckpoint, len(b), b[:min(1, len(b))])
	}
	version := b[0]
	b = b[1:]
	next := func() int64 {
		v := int64(binary.LittleEndian.Uint64(b))
		b = b[8:]
		return v
	}
	c.released, c.step, p.clock.maxTime, p.clock.watermark = next(), next(), next(), next()
	if w := next(); w != p.clock.window {
		return fmt.Errorf("%w: checkpoint taken with window %v, partition has %v", ErrCheckpoint, w, p.clock.window)
	}
	c.oldest, p.settled = transit.Day(next()), transit.Day(next())
	c.stats.Taps, c.stats.Late = next(), next()
	for i := range c.stats.Rows {
		c.stats.Rows[i] = next()
	}
	n := int(binary.LittleEndian.Uint32(b))
	b = b[4:]
	var t transit.Tap
	for i := range n {
		var err error
		if version == metaVersionFixed {
			b, err = decodeFixedTap(&t, b)
		} else {
			b, err = t.DecodeCompact(b)
		}
		if err != nil {
			return fmt.Errorf("%w: reorder buffer: tap %d of %d: %w", ErrCheckpoint, i, n, err)
		}
		c.held.add(&t)
	}
	if len(b) != 0 {
		return fmt.Errorf("%w: reorder buffer of %d taps has %d trailing bytes", ErrCheckpoint, n, len(b))
	}
	return nil
}

// restoreRider reads a card record's rider, compact or (records written
// before cardCompact) fixed-size, and returns the rest of the record.
func restoreRider(r *fares.Rider, flags byte, s []byte) ([]byte, error) {
	if flags&cardCompact != 0 {
		rest, err := r.DecodeCompact(s)
		if err != nil {
			return nil, fmt.Errorf("%w: card rider: %w", ErrCheckpoint, err)
		}
		return rest, nil
	}
	if len(s) < fares.RiderSize {
		return nil, fmt.Errorf("%w: card record of %d bytes after its flags, shorter than a rider", ErrCheckpoint, len(s))
	}
	if err := r.UnmarshalBinary(s[:fares.RiderSize]); err != nil {
		return nil, fmt.Errorf("%w: card rider: %w", ErrCheckpoint, err)
	}
	return s[fares.RiderSize:], nil
}

// restoreJourney reads the open journey that ends a card record: its day
// and its entry tap, compact or fixed-size as flags say.
func restoreJourney(flags byte, s []byte) (transit.Tap, transit.Day, error) {
	var entry transit.Tap
	if flags&cardCompact == 0 {
		if len(s) != journeyBytes {
			return entry, 0, fmt.Errorf("%w: open journey of %d bytes", ErrCheckpoint, len(s))
		}
		if _, err := decodeFixedTap(&entry, s[4:]); err != nil {
			return entry, 0, fmt.Errorf("%w: open journey: %w", ErrCheckpoint, err)
		}
		return entry, transit.Day(binary.LittleEndian.Uint32(s)), nil
	}
	day, s, err := varint.Int32(s)
	if err != nil {
		return entry, 0, fmt.Errorf("%w: open journey's day: %w", ErrCheckpoint, err)
	}
	if s, err = entry.DecodeCompact(s); err != nil {
		return entry, 0, fmt.Errorf("%w: open journey: %w", ErrCheckpoint, err)
	}
	if len(s) != 0 {
		return entry, 0, fmt.Errorf("%w: card record has %d bytes after its open journey", ErrCheckpoint, len(s))
	}
	return entry, transit.Day(day), nil
}

// decodeFixedTap reads a tap in the fixed-size form of checkpoints written
// before the compact one and returns the rest of b. Its identifiers are
// held to the compact form's rules, which the tap is checkpointed in next
// (a laxer read let FuzzRestoreCard restore a tap whose next checkpoint
// could not be read back).
func decodeFixedTap(t *transit.Tap, b []byte) ([]byte, error) {
	if err := t.DecodeBinary(b); err != nil {
		return b, err
	}
	if err := t.CheckIDs(); err != nil {
		return b, err
	}
	return b[transit.TapBinarySize:], nil
}

// restoreSeen reads a card record's tap_id entries into st and returns
// the rest of the record. A record has its entries in use, compactly
// (cardCompactSeen), or, as checkpoints written before that had them, all
// seenInline slots of 32-bit fields with the tag in the high half.
func restoreSeen(st *cardState, flags byte, s []byte) ([]byte, error) {
	if flags&cardCompactSeen == 0 {
		if len(s) < seenInline*seenSize {
			return nil, fmt.Errorf("%w: card record truncated in its tap_id entries", ErrCheckpoint)
		}
		for j := range st.seen {
			e := &st.seen[j]
			day := binary.LittleEndian.Uint32(s)
			if day > math.MaxUint16 {
				return nil, fmt.Errorf("%w: card tap_id entry of day %d", ErrCheckpoint, day)
			}
			e.day = uint16(day)
			e.tag = uint16(binary.LittleEndian.Uint32(s[4:]) >> 16)
			e.idx = binary.LittleEndian.Uint32(s[8:])
			s = s[seenSize:]
		}
		return s, nil
	}
	if len(s) == 0 {
		return nil, fmt.Errorf("%w: card record ends before its tap_id entries", ErrCheckpoint)
	}
	n := int(s[0])
	s = s[1:]
	if n > seenInline || len(s) < n*compactSeenSize {
		return nil, fmt.Errorf("%w: card record with %d tap_id entries in %d bytes", ErrCheckpoint, n, len(s))
	}
	for j := range n {
		e := &st.seen[j]
		e.day = binary.LittleEndian.Uint16(s)
		e.tag = binary.LittleEndian.Uint16(s[2:])
		e.idx = binary.LittleEndian.Uint32(s[4:])
		if e.day == 0 {
			return nil, fmt.Errorf("%w: card tap_id entry of day 0", ErrCheckpoint)
		}
		s = s[compactSeenSize:]
	}
	return s, nil
}
