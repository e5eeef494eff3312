package transit

import (
	"bytes"
	"errors"
	"fmt"
)

// Maximum lengths of the identifier fields, in bytes. They bound the
// fixed-size arrays that keep Tap pointer-free; longer values are rejected
// at ingest with a clear reason, never truncated.
const (
	MaxTapID    = 40 // a UUID (36) with a short prefix
	MaxCardID   = 24 // T-Union card numbers are 19 digits
	MaxCode     = 16 // line and stop identifiers
	MaxDeviceID = 24
)

// Identifier errors, returned by the Set methods.
var (
	ErrEmpty   = errors.New("empty")
	ErrTooLong = errors.New("too long")
	ErrChar    = errors.New("invalid character")
)

// TapID is the unique identifier of a tap record, NUL-padded.
type TapID [MaxTapID]byte

// CardID identifies a card, NUL-padded.
type CardID [MaxCardID]byte

// Code is a line or stop identifier, NUL-padded. The zero Code means "not
// given".
type Code [MaxCode]byte

// DeviceID identifies the validator that read the card, NUL-padded.
type DeviceID [MaxDeviceID]byte

// validID reports whether b is a printable identifier: ASCII 0x21..0x7E
// except the separators of our formats (',', '"', '|', '\\'), or UTF-8
// letters (for line names such as "地铁1号线"). Control bytes and NUL are
// never allowed, because NUL marks the end of the padded value.
func validID(b []byte) error {
	for _, c := range b {
		if !idByte[c] {
			return ErrChar
		}
	}
	return nil
}

// idByte says which bytes an identifier may hold (see validID): a table,
// because a segment's day close checks every byte of every identifier of
// millions of rows, and a lookup is about twice as fast as the
// comparisons.
var idByte = func() (ok [256]bool) {
	for i := range ok {
		c := byte(i)
		switch {
		case c >= 0x80: // UTF-8 multi-byte sequences; validated by the decoder
			ok[i] = true
		case c <= 0x20 || c == 0x7f:
		case c == ',' || c == '"' || c == '|' || c == '\\':
		default:
			ok[i] = true
		}
	}
	return ok
}()

func setID(dst []byte, b []byte, required bool) error {
	if len(b) == 0 {
		if required {
			return ErrEmpty
		}
		clear(dst)
		return nil
	}
	if len(b) > len(dst) {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrTooLong, len(b), len(dst))
	}
	if err := validID(b); err != nil {
		return err
	}
	n := copy(dst, b)
	clear(dst[n:])
	return nil
}

func idBytes(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}

// Set stores b, which must be 1..MaxTapID valid bytes.
func (x *TapID) Set(b []byte) error { return setID(x[:], b, true) }

// Bytes returns the identifier without padding; it aliases x.
func (x *TapID) Bytes() []byte { return idBytes(x[:]) }

// String returns the identifier.
func (x TapID) String() string { return string(idBytes(x[:])) }

// Set stores b, which must be 1..MaxCardID valid bytes.
func (x *CardID) Set(b []byte) error { return setID(x[:], b, true) }

// Bytes returns the identifier without padding; it aliases x.
func (x *CardID) Bytes() []byte { return idBytes(x[:]) }

// String returns the identifier.
func (x CardID) String() string { return string(idBytes(x[:])) }

// Set stores b (0..MaxCode valid bytes; empty means not given).
func (x *Code) Set(b []byte) error { return setID(x[:], b, false) }

// Bytes returns the code without padding; it aliases x.
func (x *Code) Bytes() []byte { return idBytes(x[:]) }

// String returns the code.
func (x Code) String() string { return string(idBytes(x[:])) }

// IsZero reports whether no code was given.
func (x Code) IsZero() bool { return x[0] == 0 }

// Set stores b (0..MaxDeviceID valid bytes; empty means not given).
func (x *DeviceID) Set(b []byte) error { return setID(x[:], b, false) }

// Bytes returns the identifier without padding; it aliases x.
func (x *DeviceID) Bytes() []byte { return idBytes(x[:]) }

// String returns the identifier.
func (x DeviceID) String() string { return string(idBytes(x[:])) }

// MustCode returns s as a Code and panics if s is not a valid code. It is
// for constants in tests and compiled tables, never for input data.
func MustCode(s string) Code {
	var c Code
	if err := c.Set([]byte(s)); err != nil {
		panic(fmt.Sprintf("transit.MustCode(%q): %v", s, err))
	}
	return c
}
