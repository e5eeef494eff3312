package fares

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"unsafe"
)

func TestRiderCompact(t *testing.T) {
	for i, r := range sampleRiders(t) {
		b := r.AppendCompact([]byte("prefix"))
		if string(b[:6]) != "prefix" {
			t.Fatalf("rider %d: AppendCompact overwrote the prefix", i)
		}
		var got Rider
		rest, err := got.DecodeCompact(append(b[6:], 0xEE))
		if err != nil {
			t.Fatalf("rider %d: %v", i, err)
		}
		if got != r || !bytes.Equal(rest, []byte{0xEE}) {
			t.Errorf("rider %d: round trip %+v, rest %x; want %+v and the trailing byte", i, got, rest, r)
		}
		// The riders pricing reaches are far smaller than the struct.
		if n := len(b) - 6; i > 0 && i < len(sampleRiders(t))-1 && n > int(unsafe.Sizeof(r))*2/3 {
			t.Errorf("rider %d: compact form of %d bytes, struct %d", i, n, unsafe.Sizeof(r))
		}
		for n := range len(b) - 6 {
			if _, err := got.DecodeCompact(b[6 : 6+n]); !errors.Is(err, ErrRiderEncoding) {
				t.Fatalf("rider %d: the first %d of %d bytes: err = %v", i, n, len(b)-6, err)
			}
		}
	}
	if n := len((&Rider{}).AppendCompact(nil)); n != 1+riderMaskBytes {
		t.Errorf("the zero rider takes %d bytes, want %d (version and empty mask)", n, 1+riderMaskBytes)
	}
	r := sampleRiders(t)[2]
	buf := make([]byte, 0, 64)
	if allocs := testing.AllocsPerRun(100, func() { buf = r.AppendCompact(buf[:0]) }); allocs != 0 {
		t.Errorf("AppendCompact into a large enough buffer allocates %v times", allocs)
	}
}

func TestRiderCompactErrors(t *testing.T) {
	// one field present (mask bit i) with value v.
	one := func(i int, v int64) []byte {
		m := uint32(1) << i
		return binary.AppendVarint([]byte{riderCompactVersion, byte(m), byte(m >> 8), byte(m >> 16)}, v)
	}
	usesField, hasDayField := 3, 3+MaxTransferRules+2
	for name, data := range map[string][]byte{
		"empty":              nil,
		"version 1":          {1, 0, 0, 0},
		"no mask":            {riderCompactVersion},
		"short mask":         {riderCompactVersion, 0, 0},
		"mask beyond fields": {riderCompactVersion, 0, 0, 1 << (riderFields - 16)},
		"zero present":       one(0, 0),
		"padded value":       {riderCompactVersion, 1, 0, 0, 0x82, 0x00},
		"missing value":      {riderCompactVersion, 1, 0, 0},
		"chain_from > int32": one(1, 1<<31),
		"mode":               one(2, 3),
		"uses > 255":         one(usesField, 256),
		"uses < 0":           one(usesField, -1),
		"has_day = 2":        one(hasDayField, 2),
		"month < int32":      one(hasDayField-1, -1<<31-1),
	} {
		r := Rider{ChainStart: 42}
		if _, err := r.DecodeCompact(data); !errors.Is(err, ErrRiderEncoding) {
			t.Errorf("%s: err = %v, want ErrRiderEncoding", name, err)
		}
		if r != (Rider{ChainStart: 42}) {
			t.Errorf("%s: a failed DecodeCompact changed the rider", name)
		}
	}
}

// FuzzRiderCompact: whatever DecodeCompact accepts, AppendCompact writes
// back byte for byte.
func FuzzRiderCompact(f *testing.F) {
	for _, r := range sampleRiders(f) {
		f.Add(r.AppendCompact(nil))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var r Rider
		rest, err := r.DecodeCompact(data)
		if err != nil {
			return
		}
		if out := r.AppendCompact(nil); !bytes.Equal(out, data[:len(data)-len(rest)]) {
			t.Fatalf("round trip changed the bytes:\n in %x\nout %x", data[:len(data)-len(rest)], out)
		}
	})
}
