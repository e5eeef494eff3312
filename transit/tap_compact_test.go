package transit

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unsafe"
)

// compactSamples are taps with identifiers of every length class: empty
// optional fields, typical ones, the longest allowed, and UTF-8 lines.
func compactSamples(t testing.TB) []Tap {
	mk := func(time int64, offset int32, issuer, city City, id, card, line, stop, device string) Tap {
		tp := Tap{Time: time, Offset: offset, Issuer: issuer, City: city, Mode: ModeMetro, Action: ActionEntry, Product: ProductJoinIn}
		for _, err := range []error{tp.ID.Set([]byte(id)), tp.Card.Set([]byte(card)), tp.Line.Set([]byte(line)), tp.Stop.Set([]byte(stop)), tp.Device.Set([]byte(device))} {
			if err != nil {
				t.Fatal(err)
			}
		}
		return tp
	}
	long := func(n int) string { return strings.Repeat("x", n) }
	bus := mk(1741046400123456789, 8*3600, 330200, 310100, "t-1", "c-9", "", "", "")
	bus.Mode, bus.Action, bus.Product = ModeBus, ActionBoard, ProductStandard
	return []Tap{
		bus,
		mk(1741046400123456789, 8*3600, 330200, 330200, "T0000000000000042", "3102000012345678901", "L2", "S17", "gate-4"),
		mk(-1<<63, -1<<31, 0, 1<<32-1, long(MaxTapID), long(MaxCardID), long(MaxCode), long(MaxCode), long(MaxDeviceID)),
		mk(1<<63-1, 1<<31-1, 110100, 440300, "a", "b", "地铁1号线", "S1", "d"),
	}
}

func TestTapCompactRoundTrip(t *testing.T) {
	for i, in := range compactSamples(t) {
		b := in.AppendCompact([]byte{0xAA})
		if size := int(unsafe.Sizeof(in)); len(b)-1 >= size && i != 2 {
			t.Errorf("tap %d: compact form of %d bytes is not shorter than the struct's %d", i, len(b)-1, size)
		}
		var out Tap
		rest, err := out.DecodeCompact(append(b[1:], 0xBB))
		if err != nil {
			t.Fatalf("tap %d: %v", i, err)
		}
		if out != in || !bytes.Equal(rest, []byte{0xBB}) {
			t.Fatalf("tap %d: round trip %+v, rest %x; want %+v and the trailing byte", i, out, rest, in)
		}
		if allocs := testing.AllocsPerRun(50, func() { _, _ = out.DecodeCompact(b[1:]) }); allocs != 0 {
			t.Errorf("tap %d: DecodeCompact allocates %v times", i, allocs)
		}
		if allocs := testing.AllocsPerRun(50, func() { b = in.AppendCompact(b[:1]) }); allocs != 0 {
			t.Errorf("tap %d: AppendCompact into a large enough buffer allocates %v times", i, allocs)
		}
		// Every truncation is refused and leaves the tap as it was.
		for n := range len(b) - 1 {
			keep := out
			if _, err := out.DecodeCompact(b[1 : 1+n]); err == nil {
				t.Fatalf("tap %d: the first %d of %d bytes decoded", i, n, len(b)-1)
			}
			if out != keep {
				t.Fatalf("tap %d: a failed decode changed the tap", i)
			}
		}
	}
}

func TestTapCompactRefused(t *testing.T) {
	in := compactSamples(t)[1]
	good := in.AppendCompact(nil)
	// The layout of good: time 8, offset 3, issuer 3, city 3, enums 3,
	// then the identifiers.
	enums := 8 + 3 + 3 + 3
	mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	for name, b := range map[string][]byte{
		"mode":            mutate(func(b []byte) []byte { b[enums] = byte(NumModes); return b }),
		"action":          mutate(func(b []byte) []byte { b[enums+1] = byte(ActionExit) + 1; return b }),
		"product":         mutate(func(b []byte) []byte { b[enums+2] = byte(NumProducts); return b }),
		"padded offset":   append(append(bytes.Clone(good[:8]), good[8]|0x80, good[9]|0x80, good[10]|0x80, 0), good[11:]...),
		"empty tap_id":    append(append(bytes.Clone(good[:enums+3]), 0), good[enums+3+1+int(good[enums+3]):]...),
		"tap_id too long": append(append(bytes.Clone(good[:enums+3]), MaxTapID+1), append(bytes.Repeat([]byte("x"), MaxTapID+1), good[enums+3+1+int(good[enums+3]):]...)...),
		"control byte":    mutate(func(b []byte) []byte { b[enums+4] = '\n'; return b }),
		"NUL in card_id":  mutate(func(b []byte) []byte { b[enums+4+int(b[enums+3])+1] = 0; return b }),
	} {
		var out Tap
		if _, err := out.DecodeCompact(b); err == nil {
			t.Errorf("%s: decoded %x", name, b)
		}
	}
}

// FuzzTapCompact: whatever DecodeCompact accepts, AppendCompact writes back
// byte for byte.
func FuzzTapCompact(f *testing.F) {
	for _, tp := range compactSamples(f) {
		f.Add(tp.AppendCompact(nil))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var tp Tap
		rest, err := tp.DecodeCompact(data)
		if err != nil {
			return
		}
		if out := tp.AppendCompact(nil); !bytes.Equal(out, data[:len(data)-len(rest)]) {
			t.Fatalf("round trip changed the bytes:\n in %x\nout %x", data[:len(data)-len(rest)], out)
		}
	})
}

// TestTapCompactRefusesBadIDs: the compact form cannot carry a tap whose
// identifiers ingest would refuse.
func TestTapCompactRefusesBadIDs(t *testing.T) {
	good := compactSamples(t)[1]
	for name, spoil := range map[string]func(*Tap){
		"empty tap_id":  func(tp *Tap) { tp.ID = TapID{} },
		"empty card_id": func(tp *Tap) { tp.Card = CardID{} },
		"control byte":  func(tp *Tap) { tp.Stop[1] = 0x15 },
		"separator":     func(tp *Tap) { tp.Line[0] = ',' },
	} {
		tp := good
		spoil(&tp)
		if _, err := new(Tap).DecodeCompact(tp.AppendCompact(nil)); !errors.Is(err, ErrTapEncoding) {
			t.Errorf("%s: err = %v, want ErrTapEncoding", name, err)
		}
	}
}
