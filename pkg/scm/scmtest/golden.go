// Package scmtest holds what the tests of the provider packages (scm/github, scm/bitbucket,
// scm/bitbucketserver) share: the golden-file harness their parsers are checked with, the
// real deliveries they parse (go-playground/webhooks' testdata and
// @octokit/webhooks-examples), and a fake API server that records what a client asked. It is
// imported by tests only.
//
// It defines no -update flag: a flag can be defined once per test binary, and a package that
// imports scmtest may already have its own. The caller passes its flag's value instead.
package scmtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/scm"
)

// Golden compares got, as indented JSON ending in a newline, with the file at path. With
// update it writes the file instead, for the change to be reviewed in the diff.
func Golden(tb testing.TB, path string, got any, update bool) {
	tb.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// Commit messages and author lines keep their < > & readable in the files.
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	require.NoError(tb, enc.Encode(got))
	if update {
		require.NoError(tb, os.WriteFile(path, buf.Bytes(), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(tb, err, "missing golden file %s; run the test with -update and review it", path)
	assert.Equal(tb, string(want), buf.String(), "golden file %s differs; run the test with -update and review the diff", path)
}

// NoLeftovers fails on every file in dir whose name keep does not hold, so a renamed or
// dropped fixture cannot leave a golden file that no longer tests anything. With update it
// deletes them instead.
func NoLeftovers(tb testing.TB, dir string, keep map[string]bool, update bool) {
	tb.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(tb, err)
	for _, e := range entries {
		if keep[e.Name()] {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if update {
			require.NoError(tb, os.Remove(path))
			continue
		}
		tb.Errorf("%s belongs to no fixture; delete it or run the test with -update", path)
	}
}

// outcome is what a parser's golden file holds: the events of a delivery, or why it has none.
type outcome struct {
	Events    []scm.Event `json:"events,omitempty"`
	Ignored   string      `json:"ignored,omitempty"`
	Malformed string      `json:"malformed,omitempty"`
}

// outcomeOf is the outcome of a Parse, failing on an answer the scm.Parser contract rules
// out: no events and no error, or an error neither ignored nor malformed.
func outcomeOf(tb testing.TB, events []scm.Event, err error) outcome {
	tb.Helper()
	var ig *scm.IgnoredError
	var mal *scm.MalformedError
	switch {
	case err == nil:
		require.NotEmpty(tb, events, "no events and no error")
		return outcome{Events: events}
	case errors.As(err, &ig):
		return outcome{Ignored: ig.Reason}
	case errors.As(err, &mal):
		return outcome{Malformed: mal.Reason}
	}
	tb.Fatalf("Parse answered %T (%v), neither ignored nor malformed", err, err)
	return outcome{}
}

// ParseGoldens parses every fixture with parse, each in a parallel subtest named after it,
// and compares the outcome (the events, or the reason of the *scm.IgnoredError or
// *scm.MalformedError) with the golden file of the same name in dir. It then fails on every
// file of dir no fixture names. With update it rewrites the golden files and deletes the
// leftovers instead.
func ParseGoldens(t *testing.T, dir string, fixtures []Fixture, parse func(Fixture) ([]scm.Event, error), update bool) {
	t.Helper()
	want := map[string]bool{}
	for _, f := range fixtures {
		require.False(t, want[f.Name], "two fixtures are named %s; they would share a golden file", f.Name)
		want[f.Name] = true
	}
	for _, f := range fixtures {
		t.Run(f.Name, func(t *testing.T) {
			t.Parallel()
			events, err := parse(f)
			Golden(t, filepath.Join(dir, f.Name), outcomeOf(t, events, err), update)
		})
	}
	NoLeftovers(t, dir, want, update)
}
