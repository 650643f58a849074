package bitbucketserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/scm"
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
// shaped after the examples of Atlassian's "Event payload" page.
var extraFixtures = map[string]string{
	"diagnostics-ping.json":          "diagnostics:ping",
	"pr-from-ref-updated.json":       "pr:from_ref_updated",
	"pr-modified-retarget.json":      "pr:modified",
	"pr-opened-draft.json":           "pr:opened",
	"repo-refs-changed-several.json": "repo:refs_changed",
}

const goldenDelivery = "0f8b2c1e-3d4a-4b5c-9e6f-7a8b9c0d1e2f"

// golden is a golden file: the events of a delivery, or why it has none.
type golden struct {
	Events    []scm.Event `json:"events,omitempty"`
	Ignored   string      `json:"ignored,omitempty"`
	Malformed string      `json:"malformed,omitempty"`
}

// fixture is one recorded delivery body and the event key it is sent with.
type fixture struct {
	name, key string
	body      []byte
}

// moduleDir returns the webhooks module's testdata/bitbucket-server, found the way the go
// command finds it, so the test reads the exact version go.mod requires.
func moduleDir(t testing.TB) string {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/go-playground/webhooks/v6")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cannot locate github.com/go-playground/webhooks/v6 with go list -m: %v\n%s", err, stderr.String())
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		t.Fatal("github.com/go-playground/webhooks/v6 is not in the module cache: run go mod download")
	}
	return filepath.Join(dir, "testdata", "bitbucket-server")
}

// readFixtures reads every JSON file of dir, failing on a file the table does not name and
// on a table entry with no file, so a new fixture upstream is never skipped silently.
func readFixtures(t testing.TB, dir string, keys map[string]string) []fixture {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.json"))
	require.NoError(t, err)
	var out []fixture
	seen := map[string]bool{}
	for _, path := range names {
		name := filepath.Base(path)
		key, ok := keys[name]
		if !ok {
			t.Errorf("%s: no event key in the table for this fixture", path)
			continue
		}
		body, err := os.ReadFile(path)
		require.NoError(t, err)
		out = append(out, fixture{name: name, key: key, body: body})
		seen[name] = true
	}
	for name := range keys {
		if !seen[name] {
			t.Errorf("%s: the table names it but %s has no such file", name, dir)
		}
	}
	return out
}

// allFixtures returns the module's fixtures and ours.
func allFixtures(t testing.TB) []fixture {
	t.Helper()
	return append(readFixtures(t, moduleDir(t), moduleFixtures), readFixtures(t, filepath.Join("testdata", "extra"), extraFixtures)...)
}

func TestFixtureTablesMatchTheBodiesEventKeys(t *testing.T) {
	t.Parallel()
	for _, f := range allFixtures(t) {
		var head struct {
			EventKey string `json:"eventKey"`
		}
		require.NoError(t, json.Unmarshal(f.body, &head), f.name)
		if head.EventKey != "" {
			assert.Equal(t, f.key, head.EventKey, "%s: the table's key differs from the body's eventKey", f.name)
		}
	}
}

func TestParseMatchesGoldenFiles(t *testing.T) {
	t.Parallel()
	fixtures := allFixtures(t)
	want := map[string]bool{}
	for _, f := range fixtures {
		require.False(t, want[f.name], "%s is both a module fixture and an extra one; its golden file would be shared", f.name)
		want[f.name] = true
	}
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			got := goldenOf(t, f)
			path := filepath.Join("testdata", "golden", f.name)
			if *update {
				require.NoError(t, os.WriteFile(path, got, 0o644))
				return
			}
			wantBody, err := os.ReadFile(path)
			require.NoError(t, err, "no golden file; run go test -run TestParseMatchesGoldenFiles -update")
			assert.Equal(t, string(wantBody), string(got))
		})
	}
	t.Run("no golden file is left over", func(t *testing.T) {
		t.Parallel()
		files, err := filepath.Glob(filepath.Join("testdata", "golden", "*"))
		require.NoError(t, err)
		for _, path := range files {
			if want[filepath.Base(path)] {
				continue
			}
			if *update {
				require.NoError(t, os.Remove(path))
				continue
			}
			t.Errorf("%s has no fixture; delete it or run with -update", path)
		}
	})
}

// goldenOf parses a fixture and renders the golden file it should match.
func goldenOf(t *testing.T, f fixture) []byte {
	t.Helper()
	evs, err := Parse(f.key, goldenDelivery, f.body)
	var g golden
	var ig *scm.IgnoredError
	var mal *scm.MalformedError
	switch {
	case err == nil:
		require.NotEmpty(t, evs, "no events and no error")
		g.Events = evs
	case errors.As(err, &ig):
		g.Ignored = ig.Reason
	case errors.As(err, &mal):
		g.Malformed = mal.Reason
	default:
		t.Fatalf("Parse answered %T %v, neither ignored nor malformed", err, err)
	}
	out, err := json.MarshalIndent(g, "", "  ")
	require.NoError(t, err)
	return append(out, '\n')
}

func TestEveryFixtureKeyIsOneDataCenterSends(t *testing.T) {
	t.Parallel()
	// Keys from Atlassian's "Event payload" page; a typo in a table would otherwise turn a
	// fixture into an "unhandled event" golden file that looks plausible.
	known := []string{
		"diagnostics:ping", "repo:refs_changed", "repo:modified", "repo:forked",
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
