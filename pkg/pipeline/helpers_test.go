package pipeline

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// yml lets test YAML be indented with the Go code around it: it drops the first newline and
// the tabs common to every line (YAML itself must be indented with spaces).
func yml(s string) string {
	s = strings.TrimPrefix(s, "\n")
	lines := strings.Split(s, "\n")
	common := -1
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		n := len(l) - len(strings.TrimLeft(l, "\t"))
		if common < 0 || n < common {
			common = n
		}
	}
	for i, l := range lines {
		switch {
		case strings.TrimSpace(l) == "":
			lines[i] = ""
		case common > 0:
			lines[i] = l[common:]
		}
	}
	return strings.Join(lines, "\n")
}

// problemsOf parses src and returns its problems, failing the test on any other error.
func problemsOf(t *testing.T, src string) Problems {
	t.Helper()
	_, err := Parse("test.yml", []byte(src))
	if err == nil {
		return nil
	}
	var probs Problems
	require.True(t, errors.As(err, &probs), "error %T is not Problems: %v", err, err)
	return probs
}

// expect is "line:col rule message-part".
type expect string

// assertProblems checks that the problems are exactly the expected ones, in order: position
// and rule exactly, the message by substring.
func assertProblems(t *testing.T, got Problems, want ...expect) {
	t.Helper()
	var gotS []string
	for _, p := range got {
		gotS = append(gotS, fmt.Sprintf("%d:%d %s %s", p.Line, p.Col, p.Rule, p.Msg))
	}
	if !assert.Len(t, got, len(want), "problems:\n%s", strings.Join(gotS, "\n")) {
		return
	}
	for i, w := range want {
		at, rest, _ := strings.Cut(string(w), " ")
		rule, msg, _ := strings.Cut(rest, " ")
		p := got[i]
		assert.Equal(t, at, fmt.Sprintf("%d:%d", p.Line, p.Col), "position of %q", gotS[i])
		assert.Equal(t, rule, p.Rule, "rule of %q", gotS[i])
		assert.Contains(t, p.Msg, msg, "message of %q", gotS[i])
	}
}

// ruleCase is one table entry: a file and the problems it must produce.
type ruleCase struct {
	name string
	src  string
	want []expect
}

func runRuleCases(t *testing.T, cases []ruleCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			assertProblems(t, problemsOf(t, yml(c.src)), c.want...)
		})
	}
}
