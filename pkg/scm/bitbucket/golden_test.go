package bitbucket

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/scm"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

const webhooksModule = "github.com/go-playground/webhooks/v6"

// moduleKeys names the event key Bitbucket sends each file of the webhooks module's
// testdata/bitbucket under, as the module's own tests pair them.
var moduleKeys = map[string]string{
	"commit-comment-created.json":        "repo:commit_comment_created",
	"issue-comment-created.json":         "issue:comment_created",
	"issue-created.json":                 "issue:created",
	"issue-updated.json":                 "issue:updated",
	"pull-request-approval-removed.json": "pullrequest:unapproved",
	"pull-request-approved.json":         "pullrequest:approved",
	"pull-request-comment-created.json":  "pullrequest:comment_created",
	"pull-request-comment-deleted.json":  "pullrequest:comment_deleted",
	"pull-request-comment-updated.json":  "pullrequest:comment_updated",
	"pull-request-created.json":          "pullrequest:created",
	"pull-request-declined.json":         "pullrequest:rejected",
	"pull-request-merged.json":           "pullrequest:fulfilled",
	"pull-request-updated.json":          "pullrequest:updated",
	"repo-commit-status-created.json":    "repo:commit_status_created",
	"repo-commit-status-updated.json":    "repo:commit_status_updated",
	"repo-fork.json":                     "repo:fork",
	"repo-push.json":                     "repo:push",
	"repo-updated.json":                  "repo:updated",
}

// extraKeys names the event key of each of our own fixtures in testdata/extra, which cover
// what the module's files lack.
var extraKeys = map[string]string{
	"pull-request-draft-from-fork.json": "pullrequest:created",
	"repo-push-annotated-tag.json":      "repo:push",
	"repo-push-cut-short.json":          "repo:push",
	"repo-push-empty-changes.json":      "repo:push",
	"repo-push-forced.json":             "repo:push",
	"repo-push-three-refs.json":         "repo:push",
	"repo-push-truncated.json":          "repo:push",
}

// fixture is one delivery body on disk with its event key.
type fixture struct {
	name, path, key string
}

// moduleDir finds the webhooks module through the go command, so the test reads the very
// version go.mod requires.
var moduleDir = sync.OnceValues(func() (string, error) {
	var stderr bytes.Buffer
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", webhooksModule)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", errors.New("go list -m " + webhooksModule + ": " + err.Error() + ": " + strings.TrimSpace(stderr.String()))
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", errors.New("go list -m " + webhooksModule + " gave no directory; run go mod download " + webhooksModule)
	}
	return filepath.Join(dir, "testdata", "bitbucket"), nil
})

// fixtures lists every file of dir, failing unless keys names each and nothing more.
func fixtures(tb testing.TB, dir string, keys map[string]string) []fixture {
	tb.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(tb, err, "read fixtures in %s", dir)
	var out []fixture
	for _, e := range entries {
		key, ok := keys[e.Name()]
		require.True(tb, ok, "%s has no event key in the table; add it", filepath.Join(dir, e.Name()))
		out = append(out, fixture{e.Name(), filepath.Join(dir, e.Name()), key})
	}
	require.Len(tb, out, len(keys), "the table names files %s does not have", dir)
	return out
}

func allFixtures(tb testing.TB) []fixture {
	tb.Helper()
	dir, err := moduleDir()
	require.NoError(tb, err, "cannot locate the webhooks module's testdata")
	for name := range extraKeys {
		_, clash := moduleKeys[name]
		require.False(tb, clash, "testdata/extra/%s shares its golden file with the module's file", name)
	}
	return append(fixtures(tb, dir, moduleKeys), fixtures(tb, filepath.Join("testdata", "extra"), extraKeys)...)
}

// outcome is what a golden file records: the events, or why there are none.
type outcome struct {
	Events    []scm.Event `json:"events,omitempty"`
	Ignored   string      `json:"ignored,omitempty"`
	Malformed string      `json:"malformed,omitempty"`
}

func outcomeOf(t *testing.T, events []scm.Event, err error) outcome {
	t.Helper()
	var ig *scm.IgnoredError
	var mal *scm.MalformedError
	switch {
	case err == nil:
		require.NotEmpty(t, events, "no events and no error")
		return outcome{Events: events}
	case errors.As(err, &ig):
		return outcome{Ignored: ig.Reason}
	case errors.As(err, &mal):
		return outcome{Malformed: mal.Reason}
	}
	t.Fatalf("unexpected error %T: %v", err, err)
	return outcome{}
}

// TestFixturesParseToTheirGoldenOutcomes parses every file of the webhooks module's
// testdata/bitbucket and of testdata/extra and compares the outcome with
// testdata/golden/<file>; run with -update to rewrite them, then review the diff.
func TestFixturesParseToTheirGoldenOutcomes(t *testing.T) {
	t.Parallel()
	for _, f := range allFixtures(t) {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			body, err := os.ReadFile(f.path)
			require.NoError(t, err)
			events, err := Parse(f.key, "delivery-"+strings.TrimSuffix(f.name, ".json"), body)
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			require.NoError(t, enc.Encode(outcomeOf(t, events, err)))

			path := filepath.Join("testdata", "golden", f.name)
			if *update {
				require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
				return
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "missing golden file; run go test ./pkg/scm/bitbucket -update")
			assert.Equal(t, string(want), buf.String(), "golden file %s differs; run go test ./pkg/scm/bitbucket -update and review the diff", path)
		})
	}
}

// TestNoGoldenFileOutlivesItsFixture fails on a golden file no fixture produces; a fixture
// without its golden file fails in TestFixturesParseToTheirGoldenOutcomes.
func TestNoGoldenFileOutlivesItsFixture(t *testing.T) {
	t.Parallel()
	entries, err := os.ReadDir(filepath.Join("testdata", "golden"))
	require.NoError(t, err)
	for _, e := range entries {
		_, fromModule := moduleKeys[e.Name()]
		_, fromExtra := extraKeys[e.Name()]
		assert.True(t, fromModule || fromExtra, "testdata/golden/%s belongs to no fixture; delete it", e.Name())
	}
}
