package diag

import (
	"fmt"
	"strings"
)

// maxSuggestDistance is how many edits apart a misspelling may be from a known word and still
// be suggested: two catches swapped or doubled letters without suggesting unrelated words.
const maxSuggestDistance = 2

// Suggest returns the candidate closest to s: a case-insensitive match first, otherwise the
// nearest within maxSuggestDistance edits (and fewer edits than s has characters, so "x" does
// not suggest "s3" and "D" does not suggest "A"). Ties go to the earlier candidate, keeping messages deterministic.
func Suggest(s string, candidates []string) (string, bool) {
	if s == "" {
		return "", false
	}
	for _, c := range candidates {
		if c != s && strings.EqualFold(c, s) {
			return c, true
		}
	}
	best, bestDist := "", maxSuggestDistance+1
	for _, c := range candidates {
		if c == s {
			continue
		}
		dist := levenshtein(s, c, bestDist)
		if dist < bestDist && dist < len([]rune(s)) {
			best, bestDist = c, dist
		}
	}
	return best, best != ""
}

// DidYouMean is Suggest phrased for the end of a message.
func DidYouMean(s string, candidates []string) string {
	if c, ok := Suggest(s, candidates); ok {
		return fmt.Sprintf("; did you mean %q?", c)
	}
	return ""
}

// levenshtein is the edit distance between a and b, counted in runes. It gives up early and
// returns limit once the distance is sure to reach it: candidates are compared with user text
// that may be long.
func levenshtein(a, b string, limit int) int {
	ra, rb := []rune(a), []rune(b)
	if d := len(ra) - len(rb); d >= limit || -d >= limit {
		return limit
	}
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			rowMin = min(rowMin, cur[j])
		}
		if rowMin >= limit {
			return limit
		}
		prev, cur = cur, prev
	}
	return min(prev[len(rb)], limit)
}
