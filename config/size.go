package config

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// ByteSize is a number of bytes, written in files, variables and flags as
// a number with an optional unit: 268435456, 256MiB, 1GiB, 1.5GB. Units
// are B, KiB, MiB, GiB and TiB (powers of 1024) and KB, MB, GB and TB
// (powers of 1000), in any case, with or without a space before them.
type ByteSize int64

// Size units, in bytes.
const (
	KiB ByteSize = 1 << (10 * (iota + 1))
	MiB
	GiB
	TiB
)

var sizeUnits = []struct {
	name string
	n    float64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
	{"b", 1},
}

// errSize is what ParseByteSize reports for text that is not a size; the
// message says what is.
var errSize = errors.New("want a size such as 268435456, 256MiB or 1GiB (units B, KiB, MiB, GiB, TiB, or KB, MB, GB, TB)")

// ParseByteSize parses a size as ByteSize documents it. A fraction of a
// byte is rounded down.
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := 1.0
	for _, u := range sizeUnits {
		if num, ok := strings.CutSuffix(t, u.name); ok {
			t, mult = strings.TrimSpace(num), u.n
			break
		}
	}
	if t == "" || strings.ContainsAny(t, "+_") {
		return 0, fmt.Errorf("%q: %w", s, errSize)
	}
	if n, err := strconv.ParseInt(t, 10, 64); err == nil && mult == 1 {
		return ByteSize(n), nil
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%q: %w", s, errSize)
	}
	v := f * mult
	if v >= math.MaxInt64 || v <= math.MinInt64 {
		return 0, fmt.Errorf("%q: too large: %w", s, errSize)
	}
	return ByteSize(v), nil
}

// String writes the size in the largest binary unit that divides it
// (1GiB, 256MiB, 1536KiB), else in bytes.
func (b ByteSize) String() string {
	for _, u := range []struct {
		name string
		n    ByteSize
	}{{"TiB", TiB}, {"GiB", GiB}, {"MiB", MiB}, {"KiB", KiB}} {
		if b != 0 && b%u.n == 0 {
			return strconv.FormatInt(int64(b/u.n), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(b), 10)
}

// MarshalText writes the size as String does, so that a dump of the
// configuration reads as it is written.
func (b ByteSize) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

var byteSizeType = reflect.TypeOf(ByteSize(0))

// byteSizeHook decodes a string (a file's "1GiB", an environment
// variable, a flag) into a ByteSize.
func byteSizeHook(from, to reflect.Type, data any) (any, error) {
	if to != byteSizeType || from.Kind() != reflect.String {
		return data, nil
	}
	return ParseByteSize(reflect.ValueOf(data).String())
}
