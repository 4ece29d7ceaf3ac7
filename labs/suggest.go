package labs

import (
	"fmt"
	"slices"
	"strings"
)

// nearest returns the candidate closest to s by edit distance when it is
// close enough to be a likely typo, or "".
func nearest(s string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		ls, lc := strings.ToLower(s), strings.ToLower(c)
		d := distance(ls, lc)
		// Close enough: a typo or two (more in a long name), or the
		// same start, as "python3" for "python3.13".
		prefix := len(ls) >= 3 && (strings.HasPrefix(lc, ls) || strings.HasPrefix(ls, lc))
		typo := d < len(ls) && (d <= max(2, len(ls)/3) || (commonPrefix(ls, lc) >= 3 && d <= 3))
		if !prefix && !typo {
			continue
		}
		if bestD < 0 || d < bestD || (d == bestD && c < best) {
			best, bestD = c, d
		}
	}
	return best
}

// didYouMean is " (did you mean X?)" for the nearest candidate, or "".
func didYouMean(s string, candidates []string) string {
	if n := nearest(s, candidates); n != "" {
		return fmt.Sprintf(" (did you mean %s?)", n)
	}
	return ""
}

// distance is the Levenshtein distance between a and b, counting an
// adjacent swap as one edit (Damerau), since swaps are common typos.
func distance(a, b string) int {
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

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}
