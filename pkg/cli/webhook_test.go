package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/scm"
)

const explainFile = `version: 1
pipelines:
  - name: api
    triggers:
      - on: push
        branches: [main]
        paths: {include: ["services/api/**"]}
    environments:
      - {branches: [main], name: prod}
    stages:
      - name: Build
        actions:
          - {name: Build, provider: codebuild, buildspec: build.yml}
  - name: web
    triggers:
      - on: push
        branches: {include: ["**"], exclude: [main]}
    stages:
      - name: Build
        actions:
          - {name: Build, provider: codebuild, buildspec: build.yml}
`

func TestWebhookParsePrintsTheNormalisedEvents(t *testing.T) {
	t.Parallel()
	r := newRepo(t, map[string]string{"a": "b"})
	r.commit("second", map[string]string{"a": "c"})
	body := filepath.Join(t.TempDir(), "push.json")
	require.NoError(t, os.WriteFile(body, githubPush(t, r, "main"), 0o644))

	res := r.stepline("", "webhook", "parse", "--provider", "github", "--event", "push", body)
	require.Equal(t, ExitOK, res.code, res.err)
	var evs []scm.Event
	require.NoError(t, json.Unmarshal([]byte(res.out), &evs))
	require.Len(t, evs, 1)
	assert.Equal(t, "push", evs[0].Kind)
	assert.Equal(t, "main", evs[0].Branch)
	assert.Equal(t, r.git("rev-parse", "HEAD"), evs[0].After)
}

func TestWebhookParseOfAnIgnoredEventPrintsAnEmptyListAndTheReason(t *testing.T) {
	t.Parallel()
	r := newRepo(t, map[string]string{"a": "b"})
	body := filepath.Join(t.TempDir(), "star.json")
	require.NoError(t, os.WriteFile(body, []byte(`{"action":"created"}`), 0o644))
	res := r.stepline("", "webhook", "parse", "--provider", "github", "--event", "star", body)
	assert.Equal(t, ExitOK, res.code)
	assert.JSONEq(t, `[]`, res.out)
	assert.Contains(t, res.err, "ignored:")
}

func TestWebhookParseOfAMalformedBodyFails(t *testing.T) {
	t.Parallel()
	r := newRepo(t, map[string]string{"a": "b"})
	body := filepath.Join(t.TempDir(), "bad.json")
	require.NoError(t, os.WriteFile(body, []byte(`{"ref": [`), 0o644))
	res := r.stepline("", "webhook", "parse", "--provider", "bitbucket-server", "--event", "repo:refs_changed", body)
	assert.Equal(t, ExitFailed, res.code)
	assert.Contains(t, res.err, "malformed")

	res = r.stepline("", "webhook", "parse", "--provider", "gitlab", "--event", "push", body)
	assert.Equal(t, ExitUsage, res.code)
}

func TestTriggerExplainNamesTheFilterThatDecided(t *testing.T) {
	t.Parallel()
	r := newRepo(t, map[string]string{".stepline.yml": explainFile})
	r.commit("touch the api", map[string]string{"services/api/main.go": "package main\n"})
	dir := t.TempDir()
	raw := filepath.Join(dir, "push.json")
	require.NoError(t, os.WriteFile(raw, githubPush(t, r, "main"), 0o644))

	res := r.stepline("", "trigger", "explain", "-f", filepath.Join(r.dir, ".stepline.yml"),
		"--provider", "github", "--header", "X-GitHub-Event: push", "--event", raw)
	require.Equal(t, ExitOK, res.code, res.err)
	assert.Contains(t, res.out, `api: runs — push trigger #1 (`)
	assert.Contains(t, res.out, `path "services/api/main.go" matches "services/api/**"`)
	assert.Contains(t, res.out, `environment prod`)
	assert.Regexp(t, `web: does not run — push trigger #1 \(.*\.stepline\.yml:17:\d+\): branch "main" is excluded by "main"`, res.out)

	// The same from a normalised event, as webhook parse prints it.
	parsed := r.stepline("", "webhook", "parse", "--provider", "github", "--event", "push", raw)
	norm := filepath.Join(dir, "event.json")
	require.NoError(t, os.WriteFile(norm, []byte(parsed.out), 0o644))
	again := r.stepline("", "trigger", "explain", "-f", filepath.Join(r.dir, ".stepline.yml"), "--event", norm)
	require.Equal(t, ExitOK, again.code, again.err)
	assert.Equal(t, res.out, again.out)

	js := r.stepline("", "trigger", "explain", "-f", filepath.Join(r.dir, ".stepline.yml"), "--event", norm, "--json")
	require.Equal(t, ExitOK, js.code, js.err)
	var out []struct {
		Decisions []struct {
			Pipeline string `json:"pipeline"`
			Run      bool   `json:"run"`
		} `json:"decisions"`
	}
	require.NoError(t, json.Unmarshal([]byte(js.out), &out))
	require.Len(t, out, 1)
	assert.True(t, out[0].Decisions[0].Run)
	assert.False(t, out[0].Decisions[1].Run)
}

func TestTriggerExplainNeedsTheEventNameOfARawDelivery(t *testing.T) {
	t.Parallel()
	r := newRepo(t, map[string]string{".stepline.yml": explainFile})
	raw := filepath.Join(t.TempDir(), "push.json")
	require.NoError(t, os.WriteFile(raw, []byte(`{}`), 0o644))
	res := r.stepline("", "trigger", "explain", "-f", filepath.Join(r.dir, ".stepline.yml"), "--provider", "github", "--event", raw)
	assert.Equal(t, ExitUsage, res.code)
	assert.Contains(t, res.err, "X-GitHub-Event")
}
