package engine

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/tapsettle/tapsettle/transit"
)

// wordsHash is the definition the written-out hashes follow: each 8-byte
// word of b folded into h in order.
func wordsHash(h uint64, b []byte) uint64 {
	for ; len(b) >= 8; b = b[8:] {
		h = mix(h, binary.LittleEndian.Uint64(b))
	}
	return h
}

// TestHashesFollowTheirWords holds tapHash and contentSum, written out word
// by word for speed, to the loop over the words: the sums are kept in
// checkpoints, so a changed value would make a restored tap look different.
func TestHashesFollowTheirWords(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	fill := func(b []byte) {
		for i := range b {
			b[i] = byte(r.Uint32())
		}
	}
	for range 1000 {
		var tap transit.Tap
		fill(tap.ID[:])
		fill(tap.Line[:])
		fill(tap.Stop[:])
		fill(tap.Device[:])
		tap.Time = int64(r.Uint64())
		tap.Issuer, tap.City = transit.City(r.Uint32()), transit.City(r.Uint32())
		tap.Mode, tap.Action, tap.Product = transit.Mode(r.Uint32()), transit.Action(r.Uint32()), transit.Product(r.Uint32())

		if got, want := tapHash(&tap.ID), wordsHash(0xE7037ED1A0B428DB, tap.ID[:]); got != want {
			t.Fatalf("tapHash(%x) = %x, want %x", tap.ID, got, want)
		}
		h := uint64(0x8EBC6AF09C88C6E3)
		h = mix(h, uint64(tap.Time))
		h = mix(h, uint64(tap.Issuer)|uint64(tap.City)<<32)
		h = mix(h, uint64(tap.Mode)|uint64(tap.Action)<<8|uint64(tap.Product)<<16)
		h = wordsHash(h, tap.Line[:])
		h = wordsHash(h, tap.Stop[:])
		h = wordsHash(h, tap.Device[:])
		if got, want := contentSum(&tap), h|1; got != want {
			t.Fatalf("contentSum = %x, want %x", got, want)
		}
	}
}
