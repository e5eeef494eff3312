package config

import "github.com/agnivade/levenshtein"

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

// editDistance is the Levenshtein distance between a and b, in runes.
var editDistance = levenshtein.ComputeDistance

// didYouMean returns " (did you mean X?)" for the candidate nearest name,
// or "" when none is near.
func didYouMean(name string, candidates []string) string {
	if c, ok := nearest(name, candidates); ok {
		return " (did you mean " + c + "?)"
	}
	return ""
}
