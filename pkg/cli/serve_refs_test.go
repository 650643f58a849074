package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/store"
)

// A signed delivery is genuine, not harmless: with a release path built from the branch, a
// branch name climbing out with "../" once made serve write a release outside
// .stepline/deploy. Such a branch is refused (400) before anything runs; an ordinary
// branch's release lands under the deploy directory.
func TestServeRefusesABranchGitForbidsAndKeepsReleasesInTheDeployDirectory(t *testing.T) {
	t.Parallel()
	r := newRepo(t, map[string]string{
		".stepline.yml": `version: 1
pipelines:
  - name: web
    triggers:
      - on: push
        branches: ["**"]
    stages:
      - name: Deploy
        actions:
          - {name: Release, provider: local, path: "envs/#{source.branch}", inputs: [source]}
`,
	})
	r.commit("change the page", map[string]string{"index.html": "<h1>hi</h1>\n"})
	dir := t.TempDir()
	hostile, ordinary := filepath.Join(dir, "hostile.json"), filepath.Join(dir, "ordinary.json")
	require.NoError(t, os.WriteFile(hostile, githubPush(t, r, "../../../escaped"), 0o644))
	require.NoError(t, os.WriteFile(ordinary, githubPush(t, r, "feature/x"), 0o644))

	ctx, stop := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--repo", r.dir, "--state-dir", r.state(), "--secret", "topsecret"},
			IO{In: strings.NewReader(""), Out: out, Err: out})
	}()
	url := waitForMatch(t, out, regexp.MustCompile(`github +(http://\S+)`))
	send := func(body, delivery string) result {
		var o, e bytes.Buffer
		code := Main(context.Background(), []string{"webhook", "send", "--provider", "github", "--event", "push",
			"--secret", "topsecret", "--delivery", delivery, "--url", url, body}, IO{Out: &o, Err: &e})
		return result{code: code, out: o.String(), err: e.String()}
	}

	refused := send(hostile, "delivery-1")
	assert.Equal(t, ExitFailed, refused.code, refused.out)
	assert.Contains(t, refused.out, "400")
	assert.Contains(t, refused.out, `is not a valid git ref name`)

	accepted := send(ordinary, "delivery-2")
	require.Equal(t, ExitOK, accepted.code, accepted.out+accepted.err)
	waitForMatch(t, out, regexp.MustCompile(`SUCCEEDED pipeline web run`))

	stop()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	runs, err := store.NewBolt(filepath.Join(r.state(), "stepline.db")).ListRuns(context.Background(), store.Filter{})
	require.NoError(t, err)
	require.Len(t, runs, 1, "only the ordinary branch ran:\n%s", out)
	assert.Equal(t, "feature/x", runs[0].Branch)
	assert.FileExists(t, filepath.Join(r.state(), "deploy", "envs", "feature", "x", "current", "index.html"))
	assert.NoDirExists(t, filepath.Join(r.dir, "escaped"), "nothing was released outside .stepline/deploy")
}

func TestWebhookParseAndTriggerExplainRefuseRefsAndCommitsGitRefuses(t *testing.T) {
	t.Parallel()
	r := newRepo(t, map[string]string{".stepline.yml": explainFile})
	r.commit("a second commit, so the push has a before", map[string]string{"x": "y"})
	dir := t.TempDir()
	raw := filepath.Join(dir, "push.json")
	require.NoError(t, os.WriteFile(raw, githubPush(t, r, "a..b"), 0o644))

	parsed := r.stepline("", "webhook", "parse", "--provider", "github", "--event", "push", raw)
	assert.Equal(t, ExitFailed, parsed.code)
	assert.Contains(t, parsed.err, `ref "refs/heads/a..b" is not a valid git ref name`)

	norm := filepath.Join(dir, "event.json")
	require.NoError(t, os.WriteFile(norm, []byte(`{"provider":"github","kind":"push","ref":"refs/heads/main","branch":"main","after":"HEAD~1"}`), 0o644))
	explained := r.stepline("", "trigger", "explain", "-f", filepath.Join(r.dir, ".stepline.yml"), "--event", norm)
	assert.Equal(t, ExitFailed, explained.code)
	assert.Contains(t, explained.err, `event 1: commit "HEAD~1" is not a full commit id`)
}
