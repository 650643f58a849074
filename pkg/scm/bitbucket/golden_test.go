package bitbucket

import (
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stepline/stepline/pkg/scm"
	"github.com/stepline/stepline/pkg/scm/scmtest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

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
// what the module's files lack. The module's pull request files are Atlassian's documented
// examples, whose pullrequest.state is the template "OPEN|MERGED|DECLINED", a value
// Bitbucket never sends, so Parse refuses them; the *-open, *-merged and *-declined files
// here are the same deliveries with the state Bitbucket sends under each key.
// testdata/extra/README.md names the page each file was written from.
var extraKeys = map[string]string{
	"pull-request-approved-open.json":     "pullrequest:approved",
	"pull-request-created-current.json":   "pullrequest:created",
	"pull-request-created-open.json":      "pullrequest:created",
	"pull-request-draft-from-fork.json":   "pullrequest:created",
	"pull-request-fulfilled-merged.json":  "pullrequest:fulfilled",
	"pull-request-rejected-declined.json": "pullrequest:rejected",
	"pull-request-updated-open.json":      "pullrequest:updated",
	"repo-push-annotated-tag.json":        "repo:push",
	"repo-push-cut-short.json":            "repo:push",
	"repo-push-empty-changes.json":        "repo:push",
	"repo-push-forced.json":               "repo:push",
	"repo-push-three-refs.json":           "repo:push",
	"repo-push-truncated.json":            "repo:push",
}

// allFixtures returns the files of the webhooks module's testdata/bitbucket and of
// testdata/extra.
func allFixtures(tb testing.TB) []scmtest.Fixture {
	tb.Helper()
	module := filepath.Join(scmtest.PlaygroundDir(tb), "testdata", "bitbucket")
	return append(scmtest.ReadFixtures(tb, module, moduleKeys), scmtest.ReadFixtures(tb, filepath.Join("testdata", "extra"), extraKeys)...)
}

// TestFixturesParseToTheirGoldenOutcomes parses every file of the webhooks module's
// testdata/bitbucket and of testdata/extra and compares the outcome with
// testdata/golden/<file>, and fails on a golden file no fixture produces; run with -update
// to rewrite them, then review the diff.
func TestFixturesParseToTheirGoldenOutcomes(t *testing.T) {
	t.Parallel()
	scmtest.ParseGoldens(t, filepath.Join("testdata", "golden"), allFixtures(t), func(f scmtest.Fixture) ([]scm.Event, error) {
		return Parse(f.Event, "delivery-"+strings.TrimSuffix(f.Name, ".json"), f.Body)
	}, *update)
}
