package serve

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/pipeline"
	"github.com/stepline/stepline/pkg/scm"
	"github.com/stepline/stepline/pkg/trigger"
	"github.com/stepline/stepline/pkg/webhook"
)

const file = `version: 1
pipelines:
  - name: api
    triggers:
      - on: push
        branches: [main]
        paths: {include: ["api/**"]}
    stages:
      - name: Build
        actions:
          - {name: Build, provider: codebuild, buildspec: b.yml}
  - name: web
    triggers:
      - on: push
        branches: [main]
        paths: {include: ["web/**"]}
    stages:
      - name: Build
        actions:
          - {name: Build, provider: codebuild, buildspec: b.yml}
`

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.invalid"}, args...)...).CombinedOutput()
	require.NoError(t, err, "git %v: %s", args, out)
	return strings.TrimSpace(string(out))
}

func commit(t *testing.T, dir string, files map[string]string) string {
	t.Helper()
	for name, body := range files {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "-m", "change")
	return git(t, dir, "rev-parse", "HEAD")
}

// fixture is a repository with two commits, the second touching api/ only, and a Server
// recording the pipelines it starts and the notes it reports.
type fixture struct {
	dir, before, after string
	srv                *Server
	mu                 sync.Mutex
	started            []string
	notes              []string
	startErr           error
	failing            string
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{dir: t.TempDir()}
	git(t, f.dir, "init", "-q", "-b", "main")
	f.before = commit(t, f.dir, map[string]string{".stepline.yml": file, "web/index.html": "hi"})
	f.after = commit(t, f.dir, map[string]string{"api/main.go": "package main"})
	seen, err := OpenSeen(filepath.Join(t.TempDir(), "deliveries"))
	require.NoError(t, err)
	f.srv = New(f.dir, ".stepline.yml", seen, f.start, f.report, slog.New(slog.NewTextHandler(io.Discard, nil)))
	return f
}

func (f *fixture) start(_ context.Context, p *pipeline.Pipeline, ev scm.Event, _ string, untrusted bool) (func(), error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.startErr != nil && p.Name.Value == f.failing {
		return nil, f.startErr
	}
	name := p.Name.Value + "@" + ev.Head()[:7]
	if untrusted {
		name += " (untrusted)"
	}
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.started = append(f.started, name)
	}, nil
}

func (f *fixture) report(_ webhook.Accepted, ds []trigger.Decision, note string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if note != "" {
		f.notes = append(f.notes, note)
	}
}

func (f *fixture) push(key string) webhook.Accepted {
	// No changed files in the delivery: serve completes them from git.
	return webhook.Accepted{Key: key, Event: scm.Event{Provider: scm.GitHub, Kind: scm.KindPush, Ref: "refs/heads/main",
		Branch: "main", Before: f.before, After: f.after}}
}

func TestAPushStartsOnlyThePipelinesWhosePathsChangedAccordingToGit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	require.NoError(t, f.srv.Publish(context.Background(), []webhook.Accepted{f.push("k1")}))
	assert.Equal(t, []string{"api@" + f.after[:7]}, f.started)
}

func TestARedeliveryStartsNothingEvenAfterARestart(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	path := filepath.Join(t.TempDir(), "deliveries")
	seen, err := OpenSeen(path)
	require.NoError(t, err)
	f.srv.seen = seen
	require.NoError(t, f.srv.Publish(context.Background(), []webhook.Accepted{f.push("k1")}))
	require.NoError(t, f.srv.Publish(context.Background(), []webhook.Accepted{f.push("k1")}))
	reopened, err := OpenSeen(path)
	require.NoError(t, err)
	f.srv.seen = reopened
	require.NoError(t, f.srv.Publish(context.Background(), []webhook.Accepted{f.push("k1")}))
	assert.Len(t, f.started, 1)
	assert.Contains(t, f.notes, "already handled: a redelivery starts nothing")
}

func TestTwoCopiesArrivingTogetherStartOneRun(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { _ = f.srv.Publish(context.Background(), []webhook.Accepted{f.push("same")}) })
	}
	wg.Wait()
	assert.Len(t, f.started, 1)
}

func TestACommitTheRepositoryLacksFailsAndCanBeRetried(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ev := f.push("k1")
	ev.Event.After = strings.Repeat("b", 40)
	err := f.srv.Publish(context.Background(), []webhook.Accepted{ev})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is not in")
	assert.True(t, f.srv.seen.Reserve("k1"), "a failed delivery is not recorded, so a redelivery is handled")
}

func TestAPipelineThatCannotRunHereIsReportedAndTheOthersRunOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.after = commit(t, f.dir, map[string]string{"web/index.html": "v2"})
	f.startErr, f.failing = errors.New("uses providers that need AWS: ecs"), "api"
	ev := f.push("k1")
	ev.Event.Before = f.before // api/ and web/ both changed since
	for range 3 {
		require.NoError(t, f.srv.Publish(context.Background(), []webhook.Accepted{ev}))
	}
	assert.Equal(t, []string{"web@" + f.after[:7]}, f.started, "web runs once; api is reported, not retried")
	assert.Contains(t, f.notes, "pipeline api is not run here: uses providers that need AWS: ecs")
}

func TestAnInvalidPipelineFileAtTheCommitStartsNothingAndSaysWhy(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.after = commit(t, f.dir, map[string]string{".stepline.yml": "version: 1\npipelines: {}\n", "api/x.go": "package x"})
	require.NoError(t, f.srv.Publish(context.Background(), []webhook.Accepted{f.push("k1")}))
	assert.Empty(t, f.started)
	require.Len(t, f.notes, 1)
	assert.Contains(t, f.notes[0], "is invalid, nothing was run")
}

func TestDeletionsAndEventsWithoutACommitStartNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	del := f.push("d")
	del.Event.Deleted, del.Event.After = true, scm.ZeroSHA
	created := f.push("c")
	created.Event.After = ""
	require.NoError(t, f.srv.Publish(context.Background(), []webhook.Accepted{del, created}))
	assert.Empty(t, f.started)
	require.Len(t, f.notes, 2)
	assert.Contains(t, f.notes[0], "a deletion never builds")
	assert.Contains(t, f.notes[1], "names no commit")
}

func TestAForcedPushTheProviderDidNotFlagIsFoundByGitAndPathsAreAssumedToMatch(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// The pushed history dropped a commit that changed web/: before is not an ancestor of after.
	dropped := commit(t, f.dir, map[string]string{"web/index.html": "v2"})
	git(t, f.dir, "reset", "-q", "--hard", "HEAD~1")
	f.after = commit(t, f.dir, map[string]string{"api/other.go": "package main"})
	ev := f.push("forced")
	ev.Event.Before = dropped
	require.NoError(t, f.srv.Publish(context.Background(), []webhook.Accepted{ev}))
	assert.ElementsMatch(t, []string{"api@" + f.after[:7], "web@" + f.after[:7]}, f.started,
		"the changed files cannot be trusted, so the web pipeline's paths filter is assumed to match")
}

func TestAForgottenDeliveryRunsAgainEvenAfterARestart(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "deliveries")
	s, err := OpenSeen(path)
	require.NoError(t, err)
	for _, k := range []string{"k1", "k2", "k3"} {
		require.True(t, s.Reserve(k))
		require.NoError(t, s.Commit(k))
	}
	forgot, err := s.Forget("k2", "never-seen")
	require.NoError(t, err)
	assert.Equal(t, []string{"k2"}, forgot)
	assert.True(t, s.Reserve("k2"), "a forgotten delivery is handled again")

	again, err := OpenSeen(path)
	require.NoError(t, err)
	assert.True(t, again.Reserve("k2"), "and stays forgotten across a restart")
	assert.False(t, again.Reserve("k1"), "the others stay handled")
	assert.False(t, again.Reserve("k3"))
}

func TestAForksPullRequestStartsAnUntrustedRun(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	head := commit(t, f.dir, map[string]string{".stepline.yml": `version: 1
pipelines:
  - name: pr
    triggers:
      - {on: pull_request, branches: [main]}
    stages:
      - name: Build
        actions:
          - {name: Build, provider: codebuild, buildspec: b.yml}
`})
	pr := func(key string, fork bool) webhook.Accepted {
		return webhook.Accepted{Key: key, Event: scm.Event{Provider: scm.GitHub, Kind: scm.KindPullRequest, Ref: "refs/pull/7/head",
			Branch: "feature", After: head, PullRequest: &scm.PullRequest{Number: 7, Action: scm.PROpened,
				SourceBranch: "feature", TargetBranch: "main", HeadSHA: head, Fork: fork}}}
	}
	require.NoError(t, f.srv.Publish(context.Background(), []webhook.Accepted{pr("own", false), pr("fork", true)}))
	assert.Equal(t, []string{"pr@" + head[:7], "pr@" + head[:7] + " (untrusted)"}, f.started)
}
