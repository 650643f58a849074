package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/scm"
	"github.com/stepline/stepline/pkg/store"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of serve and its runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// githubPush returns a GitHub push body for the repository's HEAD, built from the first push
// example of @octokit/webhooks-examples with the ref and commits of this repository.
func githubPush(t testing.TB, r *repo, branch string) []byte {
	t.Helper()
	raw, err := os.ReadFile("../../scripts/node/node_modules/@octokit/webhooks-examples/api.github.com/index.json")
	require.NoError(t, err, "run make node-tools")
	var all []struct {
		Name     string           `json:"name"`
		Examples []map[string]any `json:"examples"`
	}
	require.NoError(t, json.Unmarshal(raw, &all))
	var p map[string]any
	for _, e := range all {
		if e.Name == "push" {
			p = e.Examples[0]
		}
	}
	require.NotNil(t, p)
	head := r.git("rev-parse", "HEAD")
	before := r.git("rev-parse", "HEAD~1")
	commit := map[string]any{"id": head, "tree_id": head, "distinct": true, "message": r.git("log", "-1", "--format=%B"),
		"timestamp": "2026-11-22T05:00:00Z", "url": "https://github.com/o/r/commit/" + head,
		"author":    map[string]any{"name": "t", "email": "t@example.invalid", "username": "t"},
		"committer": map[string]any{"name": "t", "email": "t@example.invalid", "username": "t"},
		"added":     []string{}, "removed": []string{}, "modified": strings.Fields(r.git("diff", "--name-only", "HEAD~1", "HEAD"))}
	p["ref"], p["before"], p["after"] = "refs/heads/"+branch, before, head
	p["created"], p["deleted"], p["forced"] = false, false, false
	p["commits"], p["head_commit"] = []any{commit}, commit
	body, err := json.Marshal(p)
	require.NoError(t, err)
	return body
}

func TestServeStartsOneRunPerDeliveryAndNoneForABadSignature(t *testing.T) {
	t.Parallel()
	r := newRepo(t, map[string]string{
		".stepline.yml": `version: 1
pipelines:
  - name: web
    triggers:
      - on: push
        branches: [main]
    stages:
      - name: Build
        actions:
          - {name: Build, provider: codebuild, buildspec: build.yml, inputs: [source]}
  - name: docs
    triggers:
      - on: push
        branches: ["docs/**"]
    stages:
      - name: Build
        actions:
          - {name: Build, provider: codebuild, buildspec: build.yml, inputs: [source]}
`,
		"build.yml": "version: 0.2\nphases:\n  build:\n    commands:\n      - echo built $CODEBUILD_RESOLVED_SOURCE_VERSION\n",
	})
	r.commit("change the page", map[string]string{"index.html": "<h1>hi</h1>\n"})
	body := pushFile(t, r, "main")
	srv := startServe(t, r)
	out, url := srv.out, srv.url

	send := func(secret, delivery string) result {
		var o, e bytes.Buffer
		code := Main(context.Background(), []string{"webhook", "send", "--provider", "github", "--event", "push",
			"--secret", secret, "--delivery", delivery, "--url", url, body}, IO{Out: &o, Err: &e})
		return result{code: code, out: o.String(), err: e.String()}
	}

	bad := send("guess", "delivery-0")
	assert.Equal(t, ExitFailed, bad.code, bad.out)
	assert.Contains(t, bad.out, "401")

	first := send("topsecret", "delivery-1")
	require.Equal(t, ExitOK, first.code, first.out+first.err)
	assert.Contains(t, first.out, "202 Accepted")
	key := scm.Key("github", readBody(t, body), 0, 1)
	assert.Contains(t, first.out, `"keys":["`+key+`"]`)
	waitForMatch(t, out, regexp.MustCompile(`SUCCEEDED pipeline web run`))

	again := send("topsecret", "delivery-1")
	require.Equal(t, ExitOK, again.code, again.out)
	waitForMatch(t, out, regexp.MustCompile(regexp.QuoteMeta(key)+`: already handled`))

	// The same body under a new delivery id is the same event: a replay starts nothing either.
	replay := send("topsecret", "delivery-2")
	require.Equal(t, ExitOK, replay.code, replay.out)
	waitForMatch(t, out, regexp.MustCompile(`(?s)already handled.*`+regexp.QuoteMeta(key)+`: already handled`))

	assert.Equal(t, ExitCanceled, srv.stop())

	runs, err := store.NewBolt(filepath.Join(r.state(), "stepline.db")).ListRuns(context.Background(), store.Filter{})
	require.NoError(t, err)
	require.Len(t, runs, 1, "one run for two copies of one delivery and none for the bad signature:\n%s", out)
	assert.Equal(t, "web", runs[0].Definition.Pipeline)
	assert.Equal(t, r.git("rev-parse", "HEAD"), runs[0].Commit)
	assert.Contains(t, runs[0].Trigger, "webhook github push delivery-1")
	assert.Contains(t, out.String(), `docs: does not run`)
	assert.Contains(t, out.String(), `web: runs — push trigger #1 (.stepline.yml:`)
}

// pushFile writes a GitHub push of r's HEAD on branch and returns its path.
func pushFile(t *testing.T, r *repo, branch string) string {
	t.Helper()
	body := filepath.Join(t.TempDir(), "push.json")
	require.NoError(t, os.WriteFile(body, githubPush(t, r, branch), 0o644))
	return body
}

// served is a `stepline serve` of a repository, running in the background.
type served struct {
	out  *syncBuffer
	url  string
	stop func() int
}

// startServe runs serve for r with the webhook secret "topsecret" and the extra flags, and
// waits until it listens; url is its GitHub webhook URL.
func startServe(t *testing.T, r *repo, extra ...string) served {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan int, 1)
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--repo", r.dir, "--state-dir", r.state(), "--secret", "topsecret"}, extra...)
	go func() { done <- Main(ctx, args, IO{In: strings.NewReader(""), Out: out, Err: out}) }()
	url := waitForMatch(t, out, regexp.MustCompile(`github +(http://\S+)`))
	return served{out: out, url: url, stop: func() int {
		cancel()
		select {
		case code := <-done:
			return code
		case <-time.After(30 * time.Second):
			t.Fatal("serve did not stop")
			return -1
		}
	}}
}

func TestServeRefusesToStartWithoutASecret(t *testing.T) {
	t.Setenv(secretEnv, "")
	r := newRepo(t, map[string]string{"a": "b"})
	res := r.stepline("", "serve", "--repo", r.dir, "--addr", "127.0.0.1:0")
	assert.Equal(t, ExitUsage, res.code)
	assert.Contains(t, res.err, "no webhook secret")
}

func readBody(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

func waitForMatch(t *testing.T, out fmt.Stringer, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			if len(m) > 1 {
				return m[1]
			}
			return m[0]
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("waited for %s; output so far:\n%s", re, out)
	return ""
}
