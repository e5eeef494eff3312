package spill

import (
	"container/heap"
	"fmt"
	"io"
)

// Merge yields, in order, the records of several sorted sources: sections
// of run files, decoded as they are read, and sorted slices still in
// memory. It is the read side of an external sort; callers that spill
// different record types share it, each with its own decoder and order.
type Merge[T any] struct {
	h    mergeHeap[T]
	last *cursor[T] // the cursor of the record returned last, advanced on the next call
}

// NewMerge opens a merge of the sorted slices mem and the sorted sections
// secs, whose records decode decodes into a T, in the order of cmp (a
// negative result: a before b). A record that does not decode is a damaged
// section: Next's error wraps ErrCorrupt. Close the merge when done.
func NewMerge[T any](cmp func(a, b *T) int, decode func(rec []byte, v *T) error, mem [][]T, secs []Section) (*Merge[T], error) {
	m := &Merge[T]{h: mergeHeap[T]{cmp: cmp}}
	add := func(c *cursor[T]) error {
		ok, err := c.advance()
		if !ok {
			c.close()
		}
		if ok {
			m.h.c = append(m.h.c, c)
		}
		return err
	}
	for _, s := range mem {
		_ = add(&cursor[T]{mem: s}) // a slice does not fail
	}
	for _, s := range secs {
		rd, err := OpenSection(s)
		if err == nil {
			err = add(&cursor[T]{rd: rd, decode: decode})
		}
		if err != nil {
			m.Close()
			return nil, err
		}
	}
	heap.Init(&m.h)
	return m, nil
}

// Next returns the next record, valid until the following call, or false
// at the end.
func (m *Merge[T]) Next() (*T, bool, error) {
	if c := m.last; c != nil {
		m.last = nil
		ok, err := c.advance()
		if err != nil {
			return nil, false, err
		}
		if ok {
			heap.Fix(&m.h, 0)
		} else {
			c.close()
			heap.Pop(&m.h)
		}
	}
	if len(m.h.c) == 0 {
		return nil, false, nil
	}
	m.last = m.h.c[0]
	return &m.last.cur, true, nil
}

// Close closes the sections still open.
func (m *Merge[T]) Close() {
	for _, c := range m.h.c {
		c.close()
	}
	m.h.c, m.last = nil, nil
}

// cursor reads one sorted source of a Merge: a slice or a section.
type cursor[T any] struct {
	cur    T
	mem    []T     // the rest of a slice source
	rd     *Reader // a section's reader
	decode func([]byte, *T) error
}

// advance moves to the next record; false at the end of the source.
func (c *cursor[T]) advance() (bool, error) {
	if c.rd == nil {
		if len(c.mem) == 0 {
			return false, nil
		}
		c.cur, c.mem = c.mem[0], c.mem[1:]
		return true, nil
	}
	rec, err := c.rd.Next()
	if err == io.EOF {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := c.decode(rec, &c.cur); err != nil {
		return false, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return true, nil
}

func (c *cursor[T]) close() {
	if c.rd != nil {
		c.rd.Close()
		c.rd = nil
	}
}

// mergeHeap orders a Merge's cursors by their current records.
type mergeHeap[T any] struct {
	cmp func(a, b *T) int
	c   []*cursor[T]
}

func (h mergeHeap[T]) Len() int           { return len(h.c) }
func (h mergeHeap[T]) Less(i, j int) bool { return h.cmp(&h.c[i].cur, &h.c[j].cur) < 0 }
func (h mergeHeap[T]) Swap(i, j int)      { h.c[i], h.c[j] = h.c[j], h.c[i] }
func (h *mergeHeap[T]) Push(x any)        { h.c = append(h.c, x.(*cursor[T])) }
func (h *mergeHeap[T]) Pop() any {
	c := h.c[len(h.c)-1]
	h.c = h.c[:len(h.c)-1]
	return c
}
