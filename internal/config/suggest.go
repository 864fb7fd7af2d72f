package config

import (
	"fmt"
	"sort"
	"strings"
)

// unknownName words the error for a name that is not one of valid: a
// "did you mean" when one candidate is a likely typo, otherwise the full
// list, so the user never has to look the schema up.
func unknownName(what, name string, valid []string) string {
	if best, ok := closest(name, valid); ok {
		return fmt.Sprintf("unknown %s %q; did you mean %q?", what, name, best)
	}
	if len(valid) == 0 {
		return fmt.Sprintf("unknown %s %q", what, name)
	}
	sorted := append([]string(nil), valid...)
	sort.Strings(sorted)
	return fmt.Sprintf("unknown %s %q (valid: %s)", what, name, strings.Join(sorted, ", "))
}

// closest returns the candidate with the smallest edit distance to name
// when that distance is small enough to be a typo rather than a different
// word: at most a third of the name, and at least one edit allowed.
func closest(name string, candidates []string) (string, bool) {
	best, bestDist := "", -1
	for _, c := range candidates {
		d := editDistance(strings.ToLower(name), strings.ToLower(c))
		if bestDist < 0 || d < bestDist || (d == bestDist && c < best) {
			best, bestDist = c, d
		}
	}
	limit := max(1, len(name)/3)
	if bestDist < 0 || bestDist > limit {
		return "", false
	}
	return best, true
}

// editDistance is the Levenshtein distance with adjacent transpositions
// counted as one edit (optimal string alignment), because swapped letters
// are the most common typo in keys.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
