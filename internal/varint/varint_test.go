package varint

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	for _, v := range []uint64{0, 1, 127, 128, 255, 300, 1 << 32, math.MaxUint64} {
		b := binary.AppendUvarint([]byte{}, v)
		got, rest, err := Uvarint(append(b, 0xEE))
		if err != nil || got != v || len(rest) != 1 || rest[0] != 0xEE {
			t.Errorf("Uvarint(%x) = %d, %x, %v; want %d and the trailing byte", b, got, rest, err, v)
		}
	}
	for _, v := range []int64{0, -1, 1, -64, 64, math.MinInt64, math.MaxInt64} {
		b := binary.AppendVarint(nil, v)
		if got, rest, err := Varint(b); err != nil || got != v || len(rest) != 0 {
			t.Errorf("Varint(%x) = %d, %v; want %d", b, got, err, v)
		}
	}
}

func TestRefused(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":          nil,
		"truncated":      {0x80},
		"padded zero":    {0x80, 0x00},
		"padded one":     {0x81, 0x80, 0x00},
		"beyond 64 bits": {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02},
	} {
		if _, rest, err := Uvarint(b); !errors.Is(err, ErrVarint) || len(rest) != len(b) {
			t.Errorf("%s: Uvarint(%x) err = %v, rest %x; want ErrVarint and b untouched", name, b, err, rest)
		}
	}
	if _, _, err := Uint32(binary.AppendUvarint(nil, 1<<32)); !errors.Is(err, ErrVarint) {
		t.Errorf("Uint32 of 2^32: err = %v", err)
	}
	if _, _, err := Int32(binary.AppendVarint(nil, -1<<31-1)); !errors.Is(err, ErrVarint) {
		t.Errorf("Int32 of -2^31-1: err = %v", err)
	}
	if v, _, err := Int32(binary.AppendVarint(nil, -1<<31)); err != nil || v != -1<<31 {
		t.Errorf("Int32 of -2^31 = %d, %v", v, err)
	}
}

// FuzzUvarint: what Uvarint accepts is exactly the shortest encoding of
// what it returns.
func FuzzUvarint(f *testing.F) {
	f.Add([]byte{0x80, 0x01})
	f.Add([]byte{0x80, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, rest, err := Uvarint(b)
		if err != nil {
			return
		}
		if enc := binary.AppendUvarint(nil, v); string(enc) != string(b[:len(b)-len(rest)]) {
			t.Fatalf("accepted %x for %d, whose shortest encoding is %x", b[:len(b)-len(rest)], v, enc)
		}
	})
}
