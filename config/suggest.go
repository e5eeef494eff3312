package config

// nearest returns the candidate closest to name by edit distance, when it
// is close enough to be the name meant (a typo: at most a third of the
// name's length, and at most 3 edits), for "did you mean" hints.
func nearest(name string, candidates []string) (string, bool) {
	best, bestD := "", -1
	for _, c := range candidates {
		if d := editDistance(name, c); bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	if bestD < 0 || bestD > 3 || bestD*3 > len(name) {
		return "", false
	}
	return best, true
}

// editDistance is the Levenshtein distance between a and b, in bytes
// (configuration keys are ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// didYouMean returns " (did you mean X?)" for the candidate nearest name,
// or "" when none is near.
func didYouMean(name string, candidates []string) string {
	if c, ok := nearest(name, candidates); ok {
		return " (did you mean " + c + "?)"
	}
	return ""
}
