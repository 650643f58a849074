package store

import (
	"slices"
	"strconv"
	"strings"

	"github.com/stepline/stepline/pkg/engine"
)

// A pipeline's ended runs are listed, besides in its plain index, under a listing key per
// filter a page of them may ask for (its branch, its status, both), so a filtered page reads
// the runs it shows and no other: the stores index each ended run under ListingKeys. The runs
// not done are few and listed apart (Filter.Unfinished); they are filtered as they are read.

// ListingKey is the key a store lists pipeline's ended runs of branch and status under; an
// empty branch or status means any. Each field is written as its length, a colon and its
// text (as Scope.Key), after "list:", so no two filters share a key, no key prefixes another,
// and none looks like a scope key (they start with a digit) or DynamoDB's "unfinished".
func ListingKey(pipeline, branch string, status engine.Status) string {
	var b strings.Builder
	b.WriteString("list:")
	for _, f := range []string{pipeline, branch, string(status)} {
		b.WriteString(strconv.Itoa(len(f)))
		b.WriteByte(':')
		b.WriteString(f)
	}
	return b.String()
}

// ListingKeys are the listing keys r is indexed under once it has ended: its pipeline with its
// status, and, when it has a branch (no filter asks for an empty one), with its branch and
// with both; none while it runs.
func ListingKeys(r Record) []string {
	if !r.State.Done() {
		return nil
	}
	keys := []string{ListingKey(r.Pipeline(), "", r.State.Status)}
	if r.Branch != "" {
		keys = append(keys, ListingKey(r.Pipeline(), r.Branch, ""), ListingKey(r.Pipeline(), r.Branch, r.State.Status))
	}
	return keys
}

// Listed reports whether f's runs can be read from a listing key (ListingKey(f.Pipeline,
// f.Branch, f.Status)): a pipeline and a branch or a final status.
func (f Filter) Listed() bool {
	return f.Pipeline != "" && (f.Branch != "" || f.Status.Final())
}

// Keeps reports whether f selects r by its pipeline, branch and status (not by Unfinished,
// Limit or After).
func (f Filter) Keeps(r Record) bool {
	return (f.Pipeline == "" || r.Pipeline() == f.Pipeline) && (f.Branch == "" || r.Branch == f.Branch) &&
		(f.Status == "" || r.State.Status == f.Status)
}

// OnlyUnfinished reports whether every run f may select is not done: its status is not a
// final one, so only the runs not done are read.
func (f Filter) OnlyUnfinished() bool {
	return f.Unfinished || f.Status != "" && !f.Status.Final()
}

// Newest returns the newest run of every scope among recs, newest first: what Store.Latest
// answers, for stores that hold every record at hand.
func Newest(recs []Record) []Record {
	slices.SortFunc(recs, CompareNewest)
	seen := map[string]bool{}
	var out []Record
	for _, r := range recs {
		if k := r.Scope().Key(); !seen[k] {
			seen[k] = true
			out = append(out, r)
		}
	}
	return out
}

// Before reports whether a comes before b in ListRuns order (a is newer).
func Before(a, b Record) bool { return CompareNewest(a, b) < 0 }
