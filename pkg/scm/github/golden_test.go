package github

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/scm"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the parser's output")

// examplesPath is @octokit/webhooks-examples' list of real GitHub payloads, installed from
// the lockfile by `make node-tools`.
const examplesPath = "../../../scripts/node/node_modules/@octokit/webhooks-examples/api.github.com/index.json"

// goldenEvents are the events whose every example is parsed against a golden file.
var goldenEvents = []string{"push", "pull_request", "create", "delete", "ping"}

// example is one payload of @octokit/webhooks-examples, named as its golden file is.
type example struct {
	event string
	name  string
	body  []byte
}

// loadExamples reads every example of goldenEvents. A missing package fails the test rather
// than skipping it, so CI cannot pass without the payloads.
func loadExamples(tb testing.TB) []example {
	tb.Helper()
	data, err := os.ReadFile(examplesPath)
	if errors.Is(err, os.ErrNotExist) {
		tb.Fatalf("%s is missing: run make node-tools", examplesPath)
	}
	require.NoError(tb, err)
	var index []struct {
		Name     string            `json:"name"`
		Examples []json.RawMessage `json:"examples"`
	}
	require.NoError(tb, json.Unmarshal(data, &index), "read %s", examplesPath)
	var out []example
	for _, e := range index {
		if !slices.Contains(goldenEvents, e.Name) {
			continue
		}
		for i, body := range e.Examples {
			var head struct {
				Action string `json:"action"`
			}
			require.NoError(tb, json.Unmarshal(body, &head))
			name := fmt.Sprintf("%s-%d", e.Name, i)
			if head.Action != "" {
				name += "-" + head.Action
			}
			out = append(out, example{event: e.Name, name: name, body: body})
		}
	}
	for _, ev := range goldenEvents {
		require.True(tb, slices.ContainsFunc(out, func(x example) bool { return x.event == ev }),
			"%s has no %s example", examplesPath, ev)
	}
	return out
}

// goldenResult is what a golden file holds: the events, or why the delivery starts nothing.
type goldenResult struct {
	Events    []scm.Event `json:"events,omitempty"`
	Ignored   string      `json:"ignored,omitempty"`
	Malformed string      `json:"malformed,omitempty"`
}

func outcome(t *testing.T, evs []scm.Event, err error) goldenResult {
	t.Helper()
	var ig *scm.IgnoredError
	var bad *scm.MalformedError
	switch {
	case err == nil:
		return goldenResult{Events: evs}
	case errors.As(err, &ig):
		return goldenResult{Ignored: ig.Reason}
	case errors.As(err, &bad):
		return goldenResult{Malformed: bad.Reason}
	}
	t.Fatalf("Parse answered %T (%v), neither ignored nor malformed", err, err)
	return goldenResult{}
}

func TestEveryExamplePayloadParsesToItsGoldenFile(t *testing.T) {
	t.Parallel()
	examples := loadExamples(t)
	want := map[string]bool{}
	for _, x := range examples {
		path := filepath.Join("testdata", "golden", x.name+".json")
		want[path] = true
		t.Run(x.name, func(t *testing.T) {
			t.Parallel()
			delivery := "golden-" + x.name
			evs, err := Parse(x.event, delivery, x.body)
			got, jerr := json.MarshalIndent(outcome(t, evs, err), "", "  ")
			require.NoError(t, jerr)
			got = append(got, '\n')
			if *update {
				require.NoError(t, os.WriteFile(path, got, 0o644))
				return
			}
			golden, rerr := os.ReadFile(path)
			require.NoError(t, rerr, "missing golden file; run go test ./pkg/scm/github -update and review it")
			assert.Equal(t, string(golden), string(got), "golden file %s differs; run go test ./pkg/scm/github -update and review the diff", path)
		})
	}
	// Every golden file must come from an example, so a renamed or dropped example cannot
	// leave a file that no longer tests anything.
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*.json"))
	require.NoError(t, err)
	for _, f := range files {
		if want[f] {
			continue
		}
		if *update {
			require.NoError(t, os.Remove(f))
			continue
		}
		t.Errorf("%s matches no example in %s; delete it or run -update", f, filepath.Base(examplesPath))
	}
}

// TestGoldenExamplesCoverEveryOutcome guards the golden set itself: the examples must show
// each kind of event and both answers, or the goldens would test less than they seem to.
func TestGoldenExamplesCoverEveryOutcome(t *testing.T) {
	t.Parallel()
	kinds := map[string]bool{}
	ignored := 0
	for _, x := range loadExamples(t) {
		evs, err := Parse(x.event, "golden-"+x.name, x.body)
		var bad *scm.MalformedError
		require.False(t, errors.As(err, &bad), "real payload %s is malformed: %v", x.name, err)
		if _, ok := scm.IsIgnored(err); ok {
			ignored++
			continue
		}
		require.NoError(t, err, x.name)
		for _, ev := range evs {
			kinds[ev.Kind] = true
			if strings.HasPrefix(x.name, "pull_request-") {
				require.NotNil(t, ev.PullRequest, x.name)
			}
		}
	}
	for _, k := range []string{scm.KindPush, scm.KindTag, scm.KindPullRequest, scm.KindPing} {
		assert.True(t, kinds[k], "no example yields a %s event", k)
	}
	assert.Positive(t, ignored, "no example is ignored")
}
