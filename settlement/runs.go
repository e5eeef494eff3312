package settlement

import (
	"iter"

	"github.com/tapsettle/tapsettle/transit"
)

// runs yields the bounds [lo, hi) of each run of consecutive elements of s
// with the same key: in a slice sorted by that key, one run per key.
func runs[T any, K comparable](s []T, key func(*T) K) iter.Seq2[int, int] {
	return func(yield func(int, int) bool) {
		for lo := 0; lo < len(s); {
			k, hi := key(&s[lo]), lo+1
			for hi < len(s) && key(&s[hi]) == k {
				hi++
			}
			if !yield(lo, hi) {
				return
			}
			lo = hi
		}
	}
}

// issuerOf is the key of runs of bilateral totals (sorted by issuer).
func issuerOf(b *Bilateral) transit.City { return b.Issuer }
