package pages

import (
	"fmt"
	"reflect"
	"sync"
	"unsafe"
)

// BlockSize is the size of a Blocks block: a store's chunk.
const BlockSize = 72 << 10

// firstBlocks is how many blocks the first slab of a Blocks holds; later
// slabs double up to slabMax bytes (Slab).
const firstBlocks = 4

// Blocks hands out blocks of memory of BlockSize bytes, and takes them
// back for reuse, for stores of pointer-free elements that one goroutine
// fills and empties: one store's chunks, once it is done with them, are
// another's next ones. A batch job's engine shard releases the day's held
// taps card by card while the card states and tap_id logs of those cards
// grow: with their chunks drawn from one Blocks, the states and logs fill
// the memory the taps left instead of fresh memory, which on the
// project's machines costs more to map than the work done in it (see the
// package comment). Fresh blocks are cut from slabs made by Make (huge
// pages, populated).
//
// A Blocks is not safe for concurrent use. The zero Blocks is empty and
// ready to use.
type Blocks struct {
	free [][]byte   // blocks given back
	slab Slab[byte] // fresh blocks are cut from it
	made int        // blocks cut from slabs
}

// Get returns a block of BlockSize bytes, from those given back if any,
// else from a slab. A block given back holds what its last user left
// there: the caller writes each element before it reads it (clearing a
// block would cost as much as filling it).
func (p *Blocks) Get() []byte {
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		return b
	}
	p.made++
	return p.slab.Cut(BlockSize, firstBlocks*BlockSize)
}

// Put gives block b back, for a later Get. b must be a whole block (from
// Get, or a Block of its own), and nothing may use it after.
func (p *Blocks) Put(b []byte) {
	if len(b) != BlockSize || cap(b) != BlockSize {
		panic(fmt.Sprintf("pages.Blocks.Put: a slice of %d bytes (capacity %d), not a block", len(b), cap(b)))
	}
	p.free = append(p.free, b)
}

// Made returns how many blocks p has cut from slabs: the blocks it holds
// or handed out, not counting any given back from elsewhere.
func (p *Blocks) Made() int { return p.made }

// Block returns a block of fresh memory made on its own, not from a slab
// (nor populated): for a store's first chunks, which a small store may
// barely touch. It can be given to Blocks.Put.
func Block() []byte { return make([]byte, BlockSize) }

// View returns block b as the elements of type T it holds whole. T must
// hold no pointers: the garbage collector does not look inside a block.
func View[T any](b []byte) []T {
	checkPointerFree[T]()
	n := len(b) / int(unsafe.Sizeof(*new(T)))
	if n == 0 {
		panic(fmt.Sprintf("pages.View: a %d-byte block holds no %T", len(b), *new(T)))
	}
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), n)
}

// BlockOf returns the block that s, a View of it, lies in.
func BlockOf[T any](s []T) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), BlockSize)
}

// pointerFree caches, by type, whether a type holds no pointers.
var pointerFree sync.Map // of reflect.Type to bool

// checkPointerFree panics unless T holds no pointers.
func checkPointerFree[T any]() {
	t := reflect.TypeFor[T]()
	free, ok := pointerFree.Load(t)
	if !ok {
		free, _ = pointerFree.LoadOrStore(t, !hasPointers(t))
	}
	if !free.(bool) {
		panic(fmt.Sprintf("pages: %v holds pointers: it cannot live in a block", t))
	}
}

// hasPointers reports whether values of t hold pointers.
func hasPointers(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.UnsafePointer, reflect.Map, reflect.Slice, reflect.String,
		reflect.Interface, reflect.Chan, reflect.Func:
		return true
	case reflect.Array:
		return t.Len() > 0 && hasPointers(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if hasPointers(t.Field(i).Type) {
				return true
			}
		}
	}
	return false
}
