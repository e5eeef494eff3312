package transit

import "strconv"

// Fen is an amount of money in fen (0.01 CNY). All amounts in tapsettle are
// integer fen; floating point is never used for money.
type Fen int64

// String renders the amount as yuan with two decimals, e.g. "2.38".
func (f Fen) String() string {
	return string(f.AppendYuan(nil))
}

// AppendYuan appends the amount as yuan with two decimals ("-1.20").
func (f Fen) AppendYuan(b []byte) []byte {
	v := int64(f)
	if v < 0 {
		b = append(b, '-')
		v = -v
	}
	b = strconv.AppendInt(b, v/100, 10)
	b = append(b, '.', byte('0'+v%100/10), byte('0'+v%10))
	return b
}

// BasisPoints is a rate in 1/10000: 6000 means "pay 60%".
type BasisPoints int32

// Full is the rate of paying the whole fare.
const Full BasisPoints = 10000

// ApplyRate returns f x bp / 10000 rounded half up to the fen, the rounding
// rule of domain.md (2.50 CNY x 95% = 2.375 -> 2.38). Amounts are
// non-negative fares, so "half up" and "half away from zero" agree; negative
// inputs round half away from zero so that ApplyRate(-x) == -ApplyRate(x).
func ApplyRate(f Fen, bp BasisPoints) Fen {
	if f < 0 {
		return -ApplyRate(-f, bp)
	}
	n := int64(f) * int64(bp)
	return Fen((n + 5000) / 10000)
}
