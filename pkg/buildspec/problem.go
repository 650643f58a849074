package buildspec

import (
	"fmt"
	"strings"
)

// Problem is one reason a buildspec cannot be used. It carries a position so editors and CI
// annotations can point at the offending value.
type Problem struct {
	File string
	Line int
	Col  int
	Msg  string
	// Rule is a short, stable identifier ("unknown-key", "type", …) that tests and tools can
	// match without depending on the wording of Msg.
	Rule string
}

// String formats the problem as `file:line:col: message [rule]`, the form compilers and
// linters use so terminals and editors recognise it.
func (p Problem) String() string {
	return fmt.Sprintf("%s:%d:%d: %s [%s]", p.File, p.Line, p.Col, p.Msg, p.Rule)
}

// Warning is something in a buildspec that is valid but has no effect locally (or a different
// one than on CodeBuild). It has the same fields as Problem.
type Warning struct {
	File string
	Line int
	Col  int
	Msg  string
	Rule string
}

// String formats the warning like Problem.String.
func (w Warning) String() string {
	return fmt.Sprintf("%s:%d:%d: %s [%s]", w.File, w.Line, w.Col, w.Msg, w.Rule)
}

// Errors is every problem found in a buildspec. Parse reports all of them at once so a user
// fixes a file in one round instead of one error per run.
type Errors []Problem

// Error lists the problems one per line.
func (e Errors) Error() string {
	lines := make([]string, len(e))
	for i, p := range e {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}
