package feed

import (
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/tapsettle/tapsettle/ingest"
	"github.com/tapsettle/tapsettle/transit"
)

// encoder turns taps into messages. Its buffers are reused from one
// Publish to the next through Publisher's pool, so publishing does not
// allocate per tap in steady state.
type encoder struct {
	buf   []byte  // keys and values of every message, back to back
	spans []span  // where each message's key and value lie in buf
	part  []int32 // partition of each tap
	order []int32 // tap indexes grouped by partition, input order kept
	start []int32 // per partition: where its taps begin in order
	msgs  []kafka.Message
}

// span locates one message in encoder.buf. Offsets rather than slices,
// because buf may move while it grows.
type span struct {
	key, val, end int // key is buf[key:val], value buf[val:end]
	partition     int
}

// encode returns the messages for taps: each keyed by the card_id of its
// first tap, addressed (Message.Partition) to PartitionOf that card among
// partitions, holding perMessage taps as JSON lines (the last message of a
// partition may hold fewer). A partition's messages keep the input order
// of its taps. The messages alias e's buffers until the next encode.
func (e *encoder) encode(taps []transit.Tap, perMessage, partitions int, now time.Time) []kafka.Message {
	e.groupByPartition(taps, partitions)
	e.buf = e.buf[:0]
	e.spans = e.spans[:0]
	for p := range partitions {
		idx := e.order[e.start[p]:e.start[p+1]]
		for len(idx) > 0 {
			k := min(perMessage, len(idx))
			s := span{key: len(e.buf), partition: p}
			e.buf = append(e.buf, taps[idx[0]].Card.Bytes()...)
			s.val = len(e.buf)
			for j, i := range idx[:k] {
				if j > 0 {
					e.buf = append(e.buf, '\n')
				}
				e.buf = ingest.AppendJSON(e.buf, &taps[i])
			}
			s.end = len(e.buf)
			e.spans = append(e.spans, s)
			idx = idx[k:]
		}
	}
	e.msgs = e.msgs[:0]
	for _, s := range e.spans {
		e.msgs = append(e.msgs, kafka.Message{
			Partition: s.partition,
			Key:       e.buf[s.key:s.val:s.val],
			Value:     e.buf[s.val:s.end:s.end],
			Time:      now,
		})
	}
	return e.msgs
}

// groupByPartition fills part, start and order: a stable counting sort of
// the taps by partition.
func (e *encoder) groupByPartition(taps []transit.Tap, partitions int) {
	e.part = resize(e.part, len(taps))
	e.order = resize(e.order, len(taps))
	e.start = resize(e.start, partitions+1)
	clear(e.start)
	for i := range taps {
		p := int32(PartitionOf(taps[i].Card.Bytes(), partitions))
		e.part[i] = p
		e.start[p+1]++
	}
	for p := 1; p <= partitions; p++ {
		e.start[p] += e.start[p-1]
	}
	// start[p] now is where partition p begins; use it as p's cursor.
	for i, p := range e.part {
		e.order[e.start[p]] = int32(i)
		e.start[p]++
	}
	// Each start[p] now holds the end of p, which is the start of p+1.
	copy(e.start[1:], e.start[:partitions])
	e.start[0] = 0
}

func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
