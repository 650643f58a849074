// Package diag is how stepline's file parsers (pipeline files, buildspecs) report problems:
// positioned, with a stable rule name, all at once, and with a "did you mean" for typos, so
// both read the same to a user and to an editor.
package diag

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one thing wrong (or, used as a warning, worth knowing) in a file, positioned at
// the value concerned so editors and CI annotations can point at it.
type Problem struct {
	File string
	// Line and Col are 1-based; Col counts characters, as yaml.v3 does.
	Line, Col int
	Msg       string
	// Rule is a short stable name of the check ("unknown-key", "type", …) that tests and
	// tools can match without depending on the wording of Msg.
	Rule string
}

// String formats the problem as file:line:col: message [rule], the form compilers and linters
// use so terminals and editors make it clickable.
func (p Problem) String() string {
	return fmt.Sprintf("%s:%d:%d: %s [%s]", p.File, p.Line, p.Col, p.Msg, p.Rule)
}

// Problems is every problem found in one file, returned as one error so a user fixes the whole
// file in one round instead of one mistake per run.
type Problems []Problem

// Error prints one problem per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Sorted orders problems by position and drops exact repeats (a node reached through several
// YAML aliases is checked once per alias but is wrong only once). It reuses ps's storage.
func (ps Problems) Sorted() Problems {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Line != ps[j].Line {
			return ps[i].Line < ps[j].Line
		}
		return ps[i].Col < ps[j].Col
	})
	out := ps[:0]
	seen := make(map[Problem]bool, len(ps))
	for _, p := range ps {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}
