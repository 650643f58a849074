package github

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/scm"
	"github.com/stepline/stepline/pkg/scm/scmtest"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the parser's output")

// goldenEvents are the events whose every example is parsed against a golden file.
var goldenEvents = []string{"push", "pull_request", "create", "delete", "ping"}

// loadExamples returns every example of goldenEvents from @octokit/webhooks-examples, named
// <event>-<index>[-<action>].json as its golden file is.
func loadExamples(tb testing.TB) []scmtest.Fixture {
	tb.Helper()
	var out []scmtest.Fixture
	for _, event := range goldenEvents {
		for i, body := range scmtest.OctokitExamples(tb, event) {
			var head struct {
				Action string `json:"action"`
			}
			require.NoError(tb, json.Unmarshal(body, &head))
			name := fmt.Sprintf("%s-%d", event, i)
			if head.Action != "" {
				name += "-" + head.Action
			}
			out = append(out, scmtest.Fixture{Name: name + ".json", Event: event, Body: body})
		}
	}
	return out
}

// extraEvents names the event of every file in testdata/extra: deliveries written from
// GitHub's current "Webhook events and payloads" page for what the examples lack;
// testdata/extra/README.md names the page and version of each.
var extraEvents = map[string]string{
	"pull_request-synchronize-current.json": "pull_request",
	"push-skip-checks-current.json":         "push",
}

func TestEveryExamplePayloadParsesToItsGoldenFile(t *testing.T) {
	t.Parallel()
	fixtures := append(loadExamples(t), scmtest.ReadFixtures(t, filepath.Join("testdata", "extra"), extraEvents)...)
	scmtest.ParseGoldens(t, filepath.Join("testdata", "golden"), fixtures, parseExample, *update)
}

// parseExample parses an example under a delivery id named after it.
func parseExample(x scmtest.Fixture) ([]scm.Event, error) {
	return Parse(x.Event, "golden-"+strings.TrimSuffix(x.Name, ".json"), x.Body)
}

// TestGoldenExamplesCoverEveryOutcome guards the golden set itself: the examples must show
// each kind of event and both answers, or the goldens would test less than they seem to.
func TestGoldenExamplesCoverEveryOutcome(t *testing.T) {
	t.Parallel()
	kinds := map[string]bool{}
	ignored := 0
	for _, x := range loadExamples(t) {
		evs, err := parseExample(x)
		var bad *scm.MalformedError
		require.False(t, errors.As(err, &bad), "real payload %s is malformed: %v", x.Name, err)
		if _, ok := scm.IsIgnored(err); ok {
			ignored++
			continue
		}
		require.NoError(t, err, x.Name)
		for _, ev := range evs {
			kinds[ev.Kind] = true
			if strings.HasPrefix(x.Name, "pull_request-") {
				require.NotNil(t, ev.PullRequest, x.Name)
			}
		}
	}
	for _, k := range []string{scm.KindPush, scm.KindTag, scm.KindPullRequest, scm.KindPing} {
		assert.True(t, kinds[k], "no example yields a %s event", k)
	}
	assert.Positive(t, ignored, "no example is ignored")
}
