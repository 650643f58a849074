package bitbucketserver

import (
	"encoding/json"
	"flag"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/scm"
	"github.com/stepline/stepline/pkg/scm/scmtest"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the parser's output")

// moduleFixtures names the event key of every file in the webhooks module's
// testdata/bitbucket-server, the payloads that library records from a real server.
var moduleFixtures = map[string]string{
	"pr-comment-added.json":       "pr:comment:added",
	"pr-comment-deleted.json":     "pr:comment:deleted",
	"pr-comment-edited.json":      "pr:comment:edited",
	"pr-declined.json":            "pr:declined",
	"pr-deleted.json":             "pr:deleted",
	"pr-merged.json":              "pr:merged",
	"pr-modified.json":            "pr:modified",
	"pr-opened.json":              "pr:opened",
	"pr-reviewer-approved.json":   "pr:reviewer:approved",
	"pr-reviewer-needs-work.json": "pr:reviewer:needs_work",
	"pr-reviewer-unapproved.json": "pr:reviewer:unapproved",
	"pr-reviewer-updated.json":    "pr:reviewer:updated",
	"repo-comment-added.json":     "repo:comment:added",
	"repo-comment-deleted.json":   "repo:comment:deleted",
	"repo-comment-edited.json":    "repo:comment:edited",
	"repo-forked.json":            "repo:forked",
	"repo-modified.json":          "repo:modified",
	"repo-refs-changed.json":      "repo:refs_changed",
}

// extraFixtures names the event key of every file in testdata/extra: what the module lacks,
// shaped after the examples of Atlassian's "Event payload" page; testdata/extra/README.md
// names the page and version each file was written from.
var extraFixtures = map[string]string{
	"dc10-diagnostics-ping.json":             "diagnostics:ping",
	"dc10-mirror-repo-synchronized.json":     "mirror:repo_synchronized",
	"dc10-pr-declined.json":                  "pr:declined",
	"dc10-pr-deleted.json":                   "pr:deleted",
	"dc10-pr-from-ref-updated.json":          "pr:from_ref_updated",
	"dc10-pr-merged.json":                    "pr:merged",
	"dc10-pr-opened.json":                    "pr:opened",
	"dc10-repo-refs-changed-no-changes.json": "repo:refs_changed",
	"dc10-repo-refs-changed-skip-ci.json":    "repo:refs_changed",
	"diagnostics-ping.json":                  "diagnostics:ping",
	"pr-from-ref-updated.json":               "pr:from_ref_updated",
	"pr-modified-retarget.json":              "pr:modified",
	"pr-opened-draft.json":                   "pr:opened",
	"pr-opened-from-fork.json":               "pr:opened",
	"repo-refs-changed-several.json":         "repo:refs_changed",
}

const goldenDelivery = "0f8b2c1e-3d4a-4b5c-9e6f-7a8b9c0d1e2f"

// allFixtures returns the module's fixtures and ours.
func allFixtures(t testing.TB) []scmtest.Fixture {
	t.Helper()
	module := filepath.Join(scmtest.PlaygroundDir(t), "testdata", "bitbucket-server")
	return append(scmtest.ReadFixtures(t, module, moduleFixtures), scmtest.ReadFixtures(t, filepath.Join("testdata", "extra"), extraFixtures)...)
}

func TestFixtureTablesMatchTheBodiesEventKeys(t *testing.T) {
	t.Parallel()
	for _, f := range allFixtures(t) {
		var head struct {
			EventKey string `json:"eventKey"`
		}
		require.NoError(t, json.Unmarshal(f.Body, &head), f.Name)
		if head.EventKey != "" {
			assert.Equal(t, f.Event, head.EventKey, "%s: the table's key differs from the body's eventKey", f.Name)
		}
	}
}

func TestParseMatchesGoldenFiles(t *testing.T) {
	t.Parallel()
	scmtest.ParseGoldens(t, filepath.Join("testdata", "golden"), allFixtures(t), func(f scmtest.Fixture) ([]scm.Event, error) {
		return Parse(f.Event, goldenDelivery, f.Body)
	}, *update)
}

func TestEveryFixtureKeyIsOneDataCenterSends(t *testing.T) {
	t.Parallel()
	// Keys from Atlassian's "Event payload" page; a typo in a table would otherwise turn a
	// fixture into an "unhandled event" golden file that looks plausible.
	known := []string{
		"diagnostics:ping", "repo:refs_changed", "repo:modified", "repo:forked", "mirror:repo_synchronized",
		"repo:comment:added", "repo:comment:edited", "repo:comment:deleted",
		"pr:opened", "pr:from_ref_updated", "pr:modified", "pr:merged", "pr:declined", "pr:deleted",
		"pr:reviewer:updated", "pr:reviewer:approved", "pr:reviewer:unapproved", "pr:reviewer:needs_work",
		"pr:comment:added", "pr:comment:edited", "pr:comment:deleted",
	}
	for _, table := range []map[string]string{moduleFixtures, extraFixtures} {
		for name, key := range table {
			assert.True(t, slices.Contains(known, key), "%s: %q is not a Data Center event key", name, key)
		}
	}
}
