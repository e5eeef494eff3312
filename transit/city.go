package transit

import (
	"errors"
	"fmt"
)

// City is a six-digit GB/T 2260 prefecture-level division code, such as
// 330200 for Ningbo. It names both a card's issuing region and the city in
// which a tap happened (the acquirer).
type City uint32

// Ningbo is the city whose Join in Card discount tapsettle ships.
const Ningbo City = 330200

// MinCity and MaxCity are the smallest and the largest valid codes (GB/T
// 2260 provinces run 11..82): tables indexed by City.Index need
// MaxCity.Index()+1 entries.
const (
	MinCity City = 110000
	MaxCity City = 829900
)

// ErrCityCode is returned for a value that is not a six-digit code of a
// prefecture-level division (the last two digits must be 00).
var ErrCityCode = errors.New("not a six-digit prefecture-level city code")

// ParseCity parses a six-digit city code from ASCII digits.
func ParseCity(b []byte) (City, error) {
	if len(b) != 6 {
		return 0, ErrCityCode
	}
	var v uint32
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, ErrCityCode
		}
		v = v*10 + uint32(c-'0')
	}
	c := City(v)
	if !c.Valid() {
		return 0, ErrCityCode
	}
	return c, nil
}

// Valid reports whether c has the shape of a prefecture-level code:
// MinCity <= c <= MaxCity and c%100 == 0.
func (c City) Valid() bool {
	return c >= MinCity && c <= MaxCity && c%100 == 0
}

// Index returns c/100, a dense key below 10000 for array-indexed tables.
func (c City) Index() int { return int(c / 100) }

// String returns the six digits.
func (c City) String() string { return fmt.Sprintf("%06d", uint32(c)) }

// AppendText appends the six digits to b.
func (c City) AppendText(b []byte) []byte {
	v := uint32(c)
	var d [6]byte
	for i := 5; i >= 0; i-- {
		d[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, d[:]...)
}
