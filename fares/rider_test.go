package fares

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/tapsettle/tapsettle/transit"
)

// sampleRiders are states reached by pricing real scenarios, plus extremes.
func sampleRiders(t testing.TB) []Rider {
	p := mustDefault(t).Policy(transit.Ningbo, march1)
	var r Rider
	out := []Rider{{}}
	for i, mode := range []transit.Mode{transit.ModeBus, transit.ModeBus, transit.ModeMetro, transit.ModeBus} {
		p.Price(&Leg{Mode: mode, Product: transit.ProductJoinIn, Issuer: transit.Ningbo, Start: t0 + int64(i)*int64(10*time.Minute), Day: march1, Gross: 400}, &r)
		out = append(out, r)
	}
	ext := Rider{ChainStart: -1 << 63, ChainFrom: -1, LastMode: transit.ModeMetro, Day: 1<<31 - 1, Month: -5, HasDay: true}
	for i := range ext.Uses {
		ext.Uses[i] = 255
	}
	ext.DaySpend[transit.ModeBus], ext.MonthSpend[transit.ModeMetro] = 1<<63-1, -1<<63
	return append(out, ext)
}

func TestRiderBinary(t *testing.T) {
	for i, r := range sampleRiders(t) {
		b := r.AppendBinary([]byte("prefix"))
		if len(b) != len("prefix")+RiderSize || string(b[:6]) != "prefix" {
			t.Fatalf("rider %d: AppendBinary wrote %d bytes after the prefix, want %d", i, len(b)-6, RiderSize)
		}
		var got Rider
		if err := got.UnmarshalBinary(b[6:]); err != nil {
			t.Fatalf("rider %d: %v", i, err)
		}
		if got != r {
			t.Errorf("rider %d: round trip %+v, want %+v", i, got, r)
		}
	}
	r := sampleRiders(t)[2]
	buf := make([]byte, 0, RiderSize)
	if allocs := testing.AllocsPerRun(100, func() { buf = r.AppendBinary(buf[:0]) }); allocs != 0 {
		t.Errorf("AppendBinary into a large enough buffer allocates %v times", allocs)
	}
}

func TestRiderBinaryErrors(t *testing.T) {
	good := (&Rider{LastMode: transit.ModeBus, HasDay: true}).AppendBinary(nil)
	mutate := func(i int, v byte) []byte {
		b := bytes.Clone(good)
		b[i] = v
		return b
	}
	for name, data := range map[string][]byte{
		"empty":     nil,
		"short":     good[:RiderSize-1],
		"long":      append(bytes.Clone(good), 0),
		"version":   mutate(0, 2),
		"mode":      mutate(13, byte(transit.NumModes)),
		"has_day=2": mutate(1+8+4+1+MaxTransferRules+8, 2),
	} {
		r := Rider{ChainStart: 42}
		if err := r.UnmarshalBinary(data); !errors.Is(err, ErrRiderEncoding) {
			t.Errorf("%s: err = %v, want ErrRiderEncoding", name, err)
		}
		if r.ChainStart != 42 {
			t.Errorf("%s: a failed UnmarshalBinary changed the rider", name)
		}
	}
}

// FuzzRiderBinary: whatever UnmarshalBinary accepts, AppendBinary writes
// back byte for byte.
func FuzzRiderBinary(f *testing.F) {
	for _, r := range sampleRiders(f) {
		f.Add(r.AppendBinary(nil))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var r Rider
		if err := r.UnmarshalBinary(data); err != nil {
			return
		}
		if out := r.AppendBinary(nil); !bytes.Equal(out, data) {
			t.Fatalf("round trip changed the bytes:\n in %x\nout %x", data, out)
		}
	})
}
