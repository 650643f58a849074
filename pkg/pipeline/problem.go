package pipeline

import (
	"fmt"
	"sort"
	"strings"
)

// Rule names, printed in brackets after each problem so that a reader (or a test) can tell
// which check fired without parsing the message.
const (
	RuleSyntax     = "syntax"
	RuleUnknownKey = "unknown-key"
	RuleType       = "type"
	RuleRequired   = "required"
	RuleDuplicate  = "duplicate"
	RuleArtifact   = "artifact"
	RuleProvider   = "provider"
	RuleGlob       = "glob"
	RuleDuration   = "duration"
	RuleVariable   = "variable"
	RuleCycle      = "cycle"
	RuleValue      = "value"
)

// Problem is one thing wrong with a pipeline file, positioned at the YAML node that is wrong so
// editors and CI logs can jump straight to it.
type Problem struct {
	File string
	// Line and Col are 1-based; Col counts characters, as yaml.v3 does.
	Line, Col int
	Msg       string
	// Rule names the check that found the problem (one of the Rule constants).
	Rule string
}

// String formats the problem as file:line:col: message [rule], the form compilers and linters
// use so that terminals and editors make it clickable.
func (p Problem) String() string {
	return fmt.Sprintf("%s:%d:%d: %s [%s]", p.File, p.Line, p.Col, p.Msg, p.Rule)
}

// Problems is every problem found in one file. Parse returns it as its error so a user fixes
// the whole file in one round instead of one mistake per push.
type Problems []Problem

// Error prints one problem per line, in file order.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// sorted orders problems by position and drops exact repeats: a node reached through several
// YAML aliases is checked once per alias but is wrong only once.
func (ps Problems) sorted() Problems {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Line != ps[j].Line {
			return ps[i].Line < ps[j].Line
		}
		return ps[i].Col < ps[j].Col
	})
	out := ps[:0]
	seen := make(map[Problem]bool, len(ps))
	for _, p := range ps {
		if seen[p] {
			continue
		}
		seen[p] = true
		out = append(out, p)
	}
	return out
}
