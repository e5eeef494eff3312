package engine

import (
	"cmp"
	"slices"
	"unsafe"

	"github.com/tapsettle/tapsettle/internal/pages"
	"github.com/tapsettle/tapsettle/transit"
)

// chunkTaps is the number of taps in one storage chunk of the reorder
// buffer, a block of pages.Blocks: large enough to amortise the
// bookkeeping, small enough that a day of held taps (the batch job holds a
// whole day) never needs one huge slice, which would be copied as it
// grew, in non-preemptible copies the garbage collector has to wait for.
const chunkTaps = pages.BlockSize / int(unsafe.Sizeof(transit.Tap{}))

// plainChunks is how many of a reorder's first chunks (one per card
// bucket) are made one by one, unpopulated (pages.Block); the others come
// from the shard's blocks, which hand out populated memory and take
// released chunks back for the shard's card states and tap_id logs.
const plainChunks = cardBuckets

// reorder holds the taps not yet priced. Taps are kept in buckets of
// event time, each a list of fixed-size chunks, so that a release prices
// the due buckets and recycles them without moving the taps still held:
// a tap is copied in once and read once, however many releases it waits
// through. Only the bucket that straddles a release's watermark is
// compacted, and it holds at most one bucket width of taps.
//
// A reorder is owned by one goroutine; it is not safe for concurrent use.
type reorder struct {
	width   int64     // bucket width in nanoseconds, > 0; 0 in card order
	buckets []*bucket // by ascending start; none empty after a release
	last    *bucket   // where the previous tap went: the common case
	n       int       // taps held
	keys    []sortKey // release's scratch
	free    []*bucket
	// blocks is where chunks come from and go back to when their taps
	// are released: the shard's (pricer.blocks).
	blocks *pages.Blocks
	made   int // chunks made on their own (see chunk)

	// hashed are the card-order mode's buckets (newCardReorder), by the
	// top cardBucketBits of the card hash.
	hashed [cardBuckets]*bucket
}

// cardBuckets is how many hash buckets a card-order reorder has: a bucket
// of a shard's share of a 2-million-tap day holds ~4,000 taps (~560 KiB,
// cache-sized), and the partly filled last chunks waste ~10 MiB.
const (
	cardBucketBits = 8
	cardBuckets    = 1 << cardBucketBits
)

// bucket holds the taps whose time is in [start, start+width), in the
// order they arrived.
type bucket struct {
	start  int64
	n      int
	chunks [][]transit.Tap
}

// sortKey orders held taps by time (or, in card order, by card hash, then
// time); idx is the tap's place in its bucket. The card hash is computed
// here once per tap and handed on to pricing and prefetching.
type sortKey struct {
	hash uint64
	time int64
	idx  int32
}

func (b *bucket) at(i int) *transit.Tap {
	return &b.chunks[uint(i)/uint(chunkTaps)][uint(i)%uint(chunkTaps)]
}

// cardKeyHash is the card-state hash of t's card in t's city (keyHash,
// which is the card's alone).
func cardKeyHash(t *transit.Tap) uint64 { return cardKeyOf(&t.Card) }

// newReorder returns a reorder in buckets of width nanoseconds of event
// time, its chunks from blocks.
func newReorder(width int64, blocks *pages.Blocks) reorder {
	return reorder{width: max(width, 1), blocks: blocks}
}

// newCardReorder returns a reorder for a window that never releases before
// the input ends (Unbounded): it holds taps by card hash instead of time
// and releases them card by card, each card's taps in transit.Compare
// order. A card's taps are all that its pricing depends on, so the rows
// are the same as in time order; but a release of a whole day in time
// order visits the card states, their index slots and the held taps at
// random, a cache miss or three per tap once a day's cards outgrow the
// caches. In hash order the states' index slots (placed by the top bits
// of the hash, see cardTable) are walked front to back, a card's taps are
// priced together, and the states a batch job creates are laid out in the
// order they are next needed. Its chunks come from blocks.
func newCardReorder(blocks *pages.Blocks) reorder { return reorder{blocks: blocks} }

// len returns the number of taps held.
func (r *reorder) len() int { return r.n }

// byCard reports whether r is in card order (newCardReorder).
func (r *reorder) byCard() bool { return r.width == 0 }

// add copies t into the buffer.
func (r *reorder) add(t *transit.Tap) {
	if r.byCard() {
		r.addByCard(t)
		return
	}
	b := r.last
	if b == nil || t.Time < b.start || uint64(t.Time)-uint64(b.start) >= uint64(r.width) {
		b = r.bucketFor(t.Time)
		r.last = b
	}
	r.put(b, t)
}

// bucketFor finds or makes the bucket for time t.
func (r *reorder) bucketFor(t int64) *bucket {
	start := t - t%r.width
	if t%r.width < 0 {
		start -= r.width // floor, not truncation, for times before 1970
	}
	i, found := slices.BinarySearchFunc(r.buckets, start, func(b *bucket, s int64) int { return cmp.Compare(b.start, s) })
	if found {
		return r.buckets[i]
	}
	var b *bucket
	if n := len(r.free); n > 0 {
		b = r.free[n-1]
		r.free = r.free[:n-1]
	} else {
		b = new(bucket)
	}
	b.start = start
	r.buckets = slices.Insert(r.buckets, i, b)
	return b
}

func (r *reorder) chunk() []transit.Tap {
	if r.made < plainChunks {
		// A reorder's first chunks are not populated: a card-order
		// reorder spreads its first taps over all its buckets, and an
		// engine of many shards on a small input would otherwise hold
		// hundreds of megabytes of populated, unused chunks.
		r.made++
		return pages.View[transit.Tap](pages.Block())
	}
	return pages.View[transit.Tap](r.blocks.Get())
}

// addByCard is add in card order.
func (r *reorder) addByCard(t *transit.Tap) {
	i := cardKeyHash(t) >> (64 - cardBucketBits)
	b := r.hashed[i]
	if b == nil {
		b = new(bucket)
		r.hashed[i] = b
	}
	r.put(b, t)
}

// put appends t to bucket b.
func (r *reorder) put(b *bucket, t *transit.Tap) {
	if b.n == len(b.chunks)*chunkTaps {
		b.chunks = append(b.chunks, r.chunk())
	}
	b.chunks[b.n/chunkTaps][b.n%chunkTaps] = *t
	b.n++
	r.n++
}

// releaseByCard is release in card order: every tap older than w, card
// by card in hash order, each card's taps in transit.Compare order. The
// cards' index slots and states are walked in order; only the spill set
// is probed at random, so only its slots are asked for ahead (stage
// aheadSpill).
func (r *reorder) releaseByCard(w int64, price func(*transit.Tap, uint64), ahead func(t *transit.Tap, h uint64, stage int)) {
	for _, b := range r.hashed {
		if b == nil || b.n == 0 {
			continue
		}
		keys := r.keys[:0]
		for i := 0; i < b.n; i++ {
			if t := b.at(i); t.Time < w {
				keys = append(keys, sortKey{hash: cardKeyHash(t), time: t.Time, idx: int32(i)})
			}
		}
		slices.SortFunc(keys, func(x, y sortKey) int {
			if c := cmp.Compare(x.hash, y.hash); c != 0 {
				return c
			}
			if c := cmp.Compare(x.time, y.time); c != 0 {
				return c
			}
			// Equal hashes of two cards interleave them, each still in
			// its own order; transit.Compare breaks the rest of the ties.
			return transit.Compare(b.at(int(x.idx)), b.at(int(y.idx)))
		})
		for i, k := range keys {
			if j := i + aheadState; j < len(keys) {
				ahead(b.at(int(keys[j].idx)), keys[j].hash, aheadSpill)
			}
			price(b.at(int(k.idx)), k.hash)
		}
		r.keys = keys[:0]
		r.n -= len(keys)
		if len(keys) == b.n {
			r.drain(b)
			continue
		}
		// A partial release (a day closed before the input ended): keep
		// the later taps.
		b.keepFrom(w)
	}
}

// keepFrom drops the bucket's taps older than w, keeping the others in
// arrival order, and returns how many it kept.
func (b *bucket) keepFrom(w int64) int {
	j := 0
	for i := 0; i < b.n; i++ {
		if t := b.at(i); t.Time >= w {
			if i != j {
				*b.at(j) = *t
			}
			j++
		}
	}
	b.n = j
	return j
}

// How far ahead of the tap being priced release calls ahead: stage 0 (the
// card's index slot) for the tap aheadSlot places on, stage 1 (its state,
// and its tap_id's spill slot) for the one aheadState places on, by when
// the slot has arrived.
// Stage 2 (the journey of a card with one open) for the tap aheadJourney
// places on, by when the state has arrived (see pricer.prefetchCard).
const (
	aheadSlot    = 16
	aheadState   = 8
	aheadJourney = 4
	// aheadSpill is the stage that asks for the spill slot alone.
	aheadSpill = 3
)

// release calls price, in transit.Compare order, for every held tap older
// than w, and forgets them. Buckets partition time, so sorting bucket by
// bucket gives the global order. In card order (newCardReorder) each
// card's taps are released in that order, the cards in hash order.
func (r *reorder) release(w int64, price func(*transit.Tap, uint64), ahead func(t *transit.Tap, h uint64, stage int)) {
	if r.byCard() {
		r.releaseByCard(w, price, ahead)
		return
	}
	done := 0
	for _, b := range r.buckets {
		if b.start >= w {
			break
		}
		full := uint64(w)-uint64(b.start) >= uint64(r.width)
		keys := r.keys[:0]
		for i := 0; i < b.n; i++ {
			if t := b.at(i); full || t.Time < w {
				keys = append(keys, sortKey{hash: cardKeyHash(t), time: t.Time, idx: int32(i)})
			}
		}
		slices.SortFunc(keys, func(x, y sortKey) int {
			if c := cmp.Compare(x.time, y.time); c != 0 {
				return c
			}
			return transit.Compare(b.at(int(x.idx)), b.at(int(y.idx)))
		})
		for i := range min(len(keys), aheadSlot) {
			ahead(b.at(int(keys[i].idx)), keys[i].hash, 0)
		}
		for i, k := range keys {
			if j := i + aheadSlot; j < len(keys) {
				ahead(b.at(int(keys[j].idx)), keys[j].hash, 0)
			}
			if j := i + aheadState; j < len(keys) {
				ahead(b.at(int(keys[j].idx)), keys[j].hash, 1)
			}
			if j := i + aheadJourney; j < len(keys) {
				ahead(b.at(int(keys[j].idx)), keys[j].hash, 2)
			}
			price(b.at(int(k.idx)), k.hash)
		}
		r.keys = keys[:0]
		r.n -= len(keys)
		if !full && b.keepFrom(w) > 0 {
			break // the straddling bucket keeps its taps at or after w
		}
		done++
	}
	for _, b := range r.buckets[:done] {
		r.recycle(b)
	}
	r.buckets = slices.Delete(r.buckets, 0, done)
	r.last = nil
}

// recycle empties time bucket b and keeps it for reuse.
func (r *reorder) recycle(b *bucket) {
	r.drain(b)
	r.free = append(r.free, b)
}

// drain empties b, giving its chunks back to the blocks, for the
// reorder's next taps or the shard's other stores.
func (r *reorder) drain(b *bucket) {
	for _, c := range b.chunks {
		r.blocks.Put(pages.BlockOf(c))
	}
	clear(b.chunks)
	b.chunks = b.chunks[:0]
	b.n = 0
}

// each calls f for every held tap, bucket by bucket in arrival order.
func (r *reorder) each(f func(*transit.Tap)) {
	for _, bs := range [][]*bucket{r.buckets, r.hashed[:]} {
		for _, b := range bs {
			for i := 0; b != nil && i < b.n; i++ {
				f(b.at(i))
			}
		}
	}
}
