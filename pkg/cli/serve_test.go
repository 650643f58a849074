package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
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
	body := filepath.Join(t.TempDir(), "push.json")
	require.NoError(t, os.WriteFile(body, githubPush(t, r, "main"), 0o644))

	url, out, stop := startServe(t, r, "--secret", "topsecret")

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

	assert.Equal(t, ExitCanceled, stop())

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

// startServe runs `stepline serve` in-process on a free port and returns the GitHub webhook URL,
// its output, and a function that stops it and returns its exit code.
func startServe(t *testing.T, r *repo, args ...string) (string, *syncBuffer, func() int) {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan int, 1)
	full := append([]string{"serve", "--addr", "127.0.0.1:0", "--repo", r.dir, "--state-dir", r.state()}, args...)
	go func() { done <- Main(ctx, full, IO{In: strings.NewReader(""), Out: out, Err: out}) }()
	url := waitForMatch(t, out, regexp.MustCompile(`github +(http://\S+)`))
	stopped := false
	end := func() int {
		if stopped {
			return ExitCanceled
		}
		stopped = true
		stop()
		select {
		case code := <-done:
			return code
		case <-time.After(30 * time.Second):
			t.Fatal("serve did not stop")
			return -1
		}
	}
	t.Cleanup(func() { end() })
	return url, out, end
}

// envBuild is a pipeline whose one build prints its whole environment.
var envBuild = map[string]string{
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
`,
	"build.yml": "version: 0.2\nphases:\n  build:\n    commands:\n      - env\n",
}

// assertBuildEnv checks the environment a build printed: the documented variables are there,
// the webhook secret and the server's other variables are not.
func assertBuildEnv(t *testing.T, log string, secrets ...string) {
	t.Helper()
	for _, s := range append(secrets, secretEnv+"=", "STEPLINE_TEST_SERVER_ONLY") {
		assert.False(t, strings.Contains(log, s), "the build saw %q", s)
	}
	for _, s := range []string{"\nPATH=" + os.Getenv("PATH") + "\n", "\nHOME=", "\nCODEBUILD_SRC_DIR=", "\nCODEBUILD_RESOLVED_SOURCE_VERSION="} {
		assert.True(t, strings.Contains(log, s), "the build did not see %q:\n%s", s, log)
	}
}

// buildLog returns the log of a run's Build/Build action.
func buildLog(t *testing.T, r *repo, run string) string {
	t.Helper()
	rec, err := store.NewBolt(filepath.Join(r.state(), "stepline.db")).FindRun(context.Background(), run) // tests name runs by pipeline and number; ids carry a repository tag
	require.NoError(t, err)
	return readFile(t, rec.Logs["Build/Build"])
}

// A pull request's build must not read the secret serve verifies deliveries with (it could forge
// any delivery) nor anything else of serve's environment.
func TestServeBuildsDoNotSeeTheWebhookSecretOrTheServersEnvironment(t *testing.T) {
	t.Setenv(secretEnv, "env-hook-secret")
	t.Setenv("STEPLINE_TEST_SERVER_ONLY", "server-private-value")
	r := newRepo(t, envBuild)
	r.commit("change", map[string]string{"a.txt": "a\n"})
	url, out, stop := startServe(t, r)
	body := filepath.Join(t.TempDir(), "push.json")
	require.NoError(t, os.WriteFile(body, githubPush(t, r, "main"), 0o644))
	var o, e bytes.Buffer
	code := Main(context.Background(), []string{"webhook", "send", "--provider", "github", "--event", "push",
		"--secret", "env-hook-secret", "--url", url, body}, IO{Out: &o, Err: &e})
	require.Equal(t, ExitOK, code, o.String()+e.String())
	waitForMatch(t, out, regexp.MustCompile(`SUCCEEDED pipeline web run`))
	assert.Equal(t, ExitCanceled, stop())
	assertBuildEnv(t, buildLog(t, r, "web-1"), "env-hook-secret", "server-private-value")
}

// The secret can come from a file (kept out of ps and of the environment), one secret a line for
// rotation; --secret still works, and --help says it shows in ps.
func TestServeReadsWebhookSecretsFromAFile(t *testing.T) {
	t.Setenv(secretEnv, "")
	t.Setenv(secretFileEnv, "")
	r := newRepo(t, envBuild)
	r.commit("change", map[string]string{"a.txt": "a\n"})
	file := filepath.Join(t.TempDir(), "secrets")
	require.NoError(t, os.WriteFile(file, []byte("old-file-secret\nnew-file-secret\n"), 0o600))
	url, out, stop := startServe(t, r, "--secret-file", file)
	body := filepath.Join(t.TempDir(), "push.json")
	require.NoError(t, os.WriteFile(body, githubPush(t, r, "main"), 0o644))
	send := func(secret string) string {
		var o, e bytes.Buffer
		Main(context.Background(), []string{"webhook", "send", "--provider", "github", "--event", "push",
			"--secret", secret, "--url", url, body}, IO{Out: &o, Err: &e})
		return o.String() + e.String()
	}
	assert.Contains(t, send("not-in-the-file"), "401")
	assert.Contains(t, send("new-file-secret"), "202")
	waitForMatch(t, out, regexp.MustCompile(`SUCCEEDED pipeline web run`))
	assert.Equal(t, ExitCanceled, stop())
	assertBuildEnv(t, buildLog(t, r, "web-1"), "old-file-secret", "new-file-secret")

	empty := filepath.Join(t.TempDir(), "empty")
	require.NoError(t, os.WriteFile(empty, []byte("\n"), 0o600))
	res := r.stepline("", "serve", "--repo", r.dir, "--addr", "127.0.0.1:0", "--secret-file", empty)
	assert.Equal(t, ExitUsage, res.code)
	assert.Contains(t, res.err, "is empty")

	help := r.stepline("", "serve", "--help")
	assert.Regexp(t, `--secret stringArray +.*visible to every user in ps`, help.out)
	assert.Contains(t, help.out, "--secret-file")
	assert.Contains(t, help.out, "told apart by a digest of the\nsigned body", "deduplication is described as it is")
	assert.NotContains(t, help.out, "same delivery id")
}

// `stepline run` builds the same environment: not the shell's, only what is documented, plus
// what --env passes on by name.
func TestRunBuildsSeeOnlyTheDocumentedEnvironment(t *testing.T) {
	t.Setenv(secretEnv, "env-hook-secret")
	t.Setenv("STEPLINE_TEST_SERVER_ONLY", "server-private-value")
	t.Setenv("STEPLINE_TEST_PASSED", "passed-by-name")
	r := newRepo(t, envBuild)
	res := r.stepline("", "run", "--env", "STEPLINE_TEST_PASSED", "--env", "GIVEN=given-value")
	require.Equal(t, ExitOK, res.code, res.out+res.err)
	log := buildLog(t, r, "web-1")
	assertBuildEnv(t, log, "env-hook-secret", "server-private-value")
	assert.Contains(t, log, "\nSTEPLINE_TEST_PASSED=passed-by-name\n")
	assert.Contains(t, log, "\nGIVEN=given-value\n")

	missing := r.stepline("", "run", "--env", "STEPLINE_TEST_NOT_SET_ANYWHERE")
	assert.Equal(t, ExitUsage, missing.code)
	assert.Contains(t, missing.err, "STEPLINE_TEST_NOT_SET_ANYWHERE is not set")
}

// A client that sends its body a byte a second is cut off after --read-timeout: it cannot hold a
// connection (and a goroutine) for as long as it likes.
func TestServeCutsOffASlowClient(t *testing.T) {
	t.Parallel()
	r := newRepo(t, envBuild)
	url, _, _ := startServe(t, r, "--secret", "slow-client-secret", "--read-timeout", "1s")
	host := strings.TrimPrefix(url, "http://")
	host = host[:strings.Index(host, "/")]
	conn, err := net.Dial("tcp", host)
	require.NoError(t, err)
	defer conn.Close()
	path := strings.TrimPrefix(url, "http://"+host)
	_, err = fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nX-GitHub-Event: push\r\n"+
		"X-GitHub-Delivery: slow-1\r\nX-Hub-Signature-256: sha256=00\r\nContent-Length: 1000\r\n\r\n", path, host)
	require.NoError(t, err)

	start := time.Now()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Second):
				if _, err := conn.Write([]byte("{")); err != nil {
					return
				}
			}
		}
	}()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(8*time.Second)))
	_, err = io.ReadAll(conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server still held the connection after %v", time.Since(start).Round(time.Second))
	}
	assert.Less(t, time.Since(start), 5*time.Second, "cut off soon after the read timeout")
}
