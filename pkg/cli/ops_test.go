package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/store"
)

const gatedFile = `version: 1
pipelines:
  - name: rel
    stages:
      - name: Approve
        actions:
          - {name: Gate, provider: approval, message: "ship it?"}
      - name: Prod
        actions:
          - {name: Release, provider: local, inputs: [source], path: prod}
`

// background runs a command in-process in a goroutine, as a second terminal would.
func (r *repo) background(args ...string) <-chan result {
	done := make(chan result, 1)
	go func() {
		var out, errOut syncBuffer
		full := append(append([]string(nil), args...), "--state-dir", r.state(), "--repo", r.dir)
		code := Main(context.Background(), full, IO{In: strings.NewReader(""), Out: &out, Err: &errOut})
		done <- result{code: code, out: out.String(), err: errOut.String()}
	}()
	return done
}

// until polls the history until run short's record satisfies ok (10 s at most).
func (r *repo) until(short string, ok func(store.Record) bool) store.Record {
	r.t.Helper()
	db := store.NewBolt(filepath.Join(r.state(), "stepline.db"))
	deadline := time.Now().Add(10 * time.Second)
	for {
		if rec, err := findRun(context.Background(), db, short); err == nil && ok(rec) {
			return rec
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("run %s never reached the awaited state", short)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitingFor(stage, action int) func(store.Record) bool {
	return func(rec store.Record) bool {
		return rec.State.Stages[stage].Actions[action].Status == engine.InProgress
	}
}

func TestApproveAndRejectFromAnotherTerminal(t *testing.T) {
	t.Parallel()
	t.Run("an approval from a second process lets the waiting run go on, recording who and why", func(t *testing.T) {
		t.Parallel()
		r := newRepo(t, map[string]string{".stepline.yml": gatedFile})
		run := r.background("run", "--wait-approvals", "--plain")
		r.until("rel-1", waitingFor(1, 0))
		res := r.stepline("", "approve", "rel-1", "Approve", "Gate", "-m", "looks good")
		require.Equal(t, ExitOK, res.code, "%s%s", res.out, res.err)
		assert.Contains(t, res.out, "approved Approve/Gate of run rel-1-")
		got := <-run
		require.Equal(t, ExitOK, got.code, got.out)
		assert.FileExists(t, filepath.Join(r.state(), "deploy", "prod", "current", ".stepline.yml"))
		show := r.stepline("", "show", "rel-1")
		assert.Regexp(t, `approved by \S+: looks good`, show.out)
	})
	t.Run("a rejection fails the run, and a second decision is refused with the reason", func(t *testing.T) {
		t.Parallel()
		r := newRepo(t, map[string]string{".stepline.yml": gatedFile})
		run := r.background("run", "--wait-approvals", "--plain")
		r.until("rel-1", waitingFor(1, 0))
		res := r.stepline("", "reject", "rel-1", "Approve", "Gate", "-m", "not on a Friday")
		require.Equal(t, ExitOK, res.code, "%s%s", res.out, res.err)
		got := <-run
		assert.Equal(t, ExitFailed, got.code)
		assert.NoDirExists(t, filepath.Join(r.state(), "deploy", "prod"))
		res = r.stepline("", "approve", "rel-1", "Approve", "Gate")
		assert.Equal(t, ExitFailed, res.code)
		assert.Contains(t, res.err, "approve of run rel-1-")
		assert.Contains(t, res.err, "refused: the run has ended (FAILED)")
		res = r.stepline("", "approve", "rel-1", "Prod", "Release")
		assert.Contains(t, res.err, "is a local action, not an approval")
	})
	t.Run("a run asking in the terminal takes a decision from another process too", func(t *testing.T) {
		t.Parallel()
		r := newRepo(t, map[string]string{".stepline.yml": gatedFile})
		run := make(chan result, 1)
		go func() {
			// A terminal nobody answers: the prompt waits on a pipe that never closes.
			pr, pw, _ := os.Pipe()
			defer pw.Close()
			var out syncBuffer
			code := Main(context.Background(), []string{"run", "--plain", "--state-dir", r.state(), "--repo", r.dir}, IO{In: pr, Out: &out, Err: &out})
			run <- result{code: code, out: out.String()}
		}()
		r.until("rel-1", waitingFor(1, 0))
		res := r.stepline("", "approve", "rel-1", "Approve", "Gate")
		require.Equal(t, ExitOK, res.code, res.err)
		got := <-run
		assert.Equal(t, ExitOK, got.code, got.out)
	})
}

func TestStopFromAnotherTerminal(t *testing.T) {
	t.Parallel()
	marks := t.TempDir()
	file := fmt.Sprintf(`version: 1
pipelines:
  - name: app
    stages:
      - name: Build
        actions:
          - {name: Slow, provider: codebuild, buildspec: slow.yml, inputs: [source]}
          - {name: After, provider: codebuild, run_order: 2, buildspec: after.yml, inputs: [source]}
`)
	r := newRepo(t, map[string]string{".stepline.yml": file,
		"slow.yml": "version: 0.2\nphases:\n  build:\n    commands:\n      - touch " + marks + "/slow.started\n      - " + waitFor(marks+"/go") + "\n",
		"after.yml": "version: 0.2\nphases:\n  build:\n    commands:\n      - touch " + marks + "/after.ran\n",
	})
	run := r.background("run", "--plain")
	r.until("app-1", waitingFor(1, 0))
	res := r.stepline("", "stop", "app-1", "--reason", "wrong commit")
	require.Equal(t, ExitOK, res.code, "%s%s", res.out, res.err)
	assert.Contains(t, res.out, "is stopping: its running actions finish")
	again := r.stepline("", "stop", "app-1")
	assert.Equal(t, ExitFailed, again.code)
	assert.Contains(t, again.err, "already stopping")
	require.NoError(t, os.WriteFile(filepath.Join(marks, "go"), nil, 0o644))
	got := <-run
	assert.Equal(t, ExitCanceled, got.code, got.out)
	assert.NoFileExists(t, filepath.Join(marks, "after.ran"), "nothing new starts once stopping")
	rec := r.until("app-1", func(rec store.Record) bool { return rec.State.Done() })
	assert.Equal(t, engine.Succeeded, rec.State.Stages[1].Actions[0].Status, "the running build finished")
	assert.Regexp(t, `stopped by \S+: wrong commit`, rec.State.Message)

	res = r.stepline("", "stop", "app-1", "--abandon")
	assert.Equal(t, ExitFailed, res.code)
	assert.Contains(t, res.err, "the run has ended (CANCELED)")
}

func TestAbandonStopsTheRunningBuildNow(t *testing.T) {
	t.Parallel()
	marks := t.TempDir()
	r := newRepo(t, map[string]string{".stepline.yml": `version: 1
pipelines:
  - name: app
    stages:
      - name: Build
        actions:
          - {name: Slow, provider: codebuild, buildspec: slow.yml, inputs: [source]}
`, "slow.yml": "version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 30\n      - touch " + marks + "/slow.done\n"})
	run := r.background("run", "--plain")
	r.until("app-1", waitingFor(1, 0))
	start := time.Now()
	res := r.stepline("", "stop", "app-1", "--abandon", "--reason", "hung")
	require.Equal(t, ExitOK, res.code, "%s%s", res.out, res.err)
	got := <-run
	assert.Equal(t, ExitCanceled, got.code)
	assert.Less(t, time.Since(start), 20*time.Second, "the build was stopped, not waited for")
	rec := r.until("app-1", func(rec store.Record) bool { return rec.State.Done() })
	assert.Regexp(t, `abandoned by \S+: hung`, rec.State.Message)
}

func TestRetryOfAFailedStageRunsItAgainHere(t *testing.T) {
	t.Parallel()
	marks := t.TempDir()
	r := newRepo(t, map[string]string{".stepline.yml": `version: 1
pipelines:
  - name: app
    stages:
      - name: Build
        actions:
          - {name: Once, provider: codebuild, buildspec: once.yml, inputs: [source]}
          - {name: Flaky, provider: codebuild, buildspec: flaky.yml, inputs: [source]}
`, "once.yml": "version: 0.2\nphases:\n  build:\n    commands:\n      - echo x >> " + marks + "/once\n",
		"flaky.yml": "version: 0.2\nphases:\n  build:\n    commands:\n      - test -e " + marks + "/fixed\n"})
	res := r.stepline("", "run", "--plain")
	require.Equal(t, ExitFailed, res.code)

	res = r.stepline("", "retry", "app-1", "Source")
	assert.Equal(t, ExitFailed, res.code)
	assert.Contains(t, res.err, "refused: the run failed in stage Build, not in Source")

	require.NoError(t, os.WriteFile(filepath.Join(marks, "fixed"), nil, 0o644))
	res = r.stepline("", "retry", "app-1")
	require.Equal(t, ExitOK, res.code, "%s%s", res.out, res.err)
	assert.Contains(t, res.out, "retried stage Build: run app-1-")
	assert.Contains(t, res.out, "is SUCCEEDED")
	assert.Equal(t, "x\n", readFile(t, filepath.Join(marks, "once")), "the succeeded action did not run again")

	res = r.stepline("", "retry", "app-1")
	assert.Equal(t, ExitFailed, res.code)
	assert.Contains(t, res.err, "only a FAILED run can be retried; this one is SUCCEEDED")

	id := r.runID("app-1")
	assert.Contains(t, trace(r.events(), id), "pipeline:RESUMED")
}

func TestRollbackRedeploysAnEarlierRunsArtifacts(t *testing.T) {
	t.Parallel()
	file := `version: 1
pipelines:
  - name: site
    stages:
      - name: Deploy
        actions:
          - {name: Release, provider: local, inputs: [source], path: www}
`
	r := newRepo(t, map[string]string{".stepline.yml": file, "index.html": "one"})
	require.Equal(t, ExitOK, r.stepline("", "run", "--plain").code)
	r.commit("two", map[string]string{"index.html": "two"})
	require.Equal(t, ExitOK, r.stepline("", "run", "--plain").code)
	live := filepath.Join(r.state(), "deploy", "www", "current", "index.html")
	require.Equal(t, "two", readFile(t, live))

	res := r.stepline("", "rollback", "site-2", "Deploy", "--to", "site-1")
	require.Equal(t, ExitFailed, res.code, "the rolled-back run ends FAILED: %s%s", res.out, res.err)
	assert.Contains(t, res.out, "rolled back stage Deploy to run site-1-")
	assert.Equal(t, "one", readFile(t, live), "run 1's artifact is live again")
	rec := r.until("site-2", func(rec store.Record) bool { return rec.State.Done() })
	assert.Regexp(t, `rollback to run site-1-\S+ by \S+`, rec.State.Message)

	res = r.stepline("", "rollback", "site-2", "Deploy", "--to", "site-2")
	assert.Equal(t, ExitFailed, res.code)
	assert.Contains(t, res.err, "a run cannot be rolled back to itself")
	res = r.stepline("", "rollback", "site-1", "Deploy", "--to", "site-2")
	assert.Contains(t, res.err, "only a SUCCEEDED run can be rolled back to", "run 2 is no longer a success")
}

func TestStartRunsABranchOrACommit(t *testing.T) {
	t.Parallel()
	file := `version: 1
pipelines:
  - name: site
    stages:
      - name: Deploy
        actions:
          - {name: Release, provider: local, inputs: [source], path: "www-#{source.branch}"}
`
	r := newRepo(t, map[string]string{".stepline.yml": file, "index.html": "main"})
	first := r.git("rev-parse", "HEAD")
	r.git("checkout", "-q", "-b", "feature")
	r.commit("feature", map[string]string{"index.html": "feature"})
	r.git("checkout", "-q", "main")

	res := r.stepline("", "start", "--branch", "feature")
	require.Equal(t, ExitOK, res.code, "%s%s", res.out, res.err)
	assert.Equal(t, "feature", readFile(t, filepath.Join(r.state(), "deploy", "www-feature", "current", "index.html")))
	rec := r.until("site-1", func(rec store.Record) bool { return rec.State.Done() })
	assert.Equal(t, "feature", rec.Branch)
	assert.Equal(t, "manual (stepline start)", rec.Trigger)

	res = r.stepline("", "start", "--branch", "main", "--commit", first)
	require.Equal(t, ExitOK, res.code, "%s%s", res.out, res.err)
	rec = r.until("site-2", func(rec store.Record) bool { return rec.State.Done() })
	assert.Equal(t, first, rec.Commit)

	res = r.stepline("", "start", "--branch", "nope")
	assert.Equal(t, ExitFailed, res.code)
	assert.Contains(t, res.err, `start refused: the repository`)
	assert.Contains(t, res.err, `has no branch "nope"`)
}

func TestRunsFiltersByBranchAndStatus(t *testing.T) {
	t.Parallel()
	r := newRepo(t, map[string]string{".stepline.yml": gatedFile})
	require.Equal(t, ExitFailed, r.stepline("n\n", "run").code)
	require.Equal(t, ExitOK, r.stepline("y\n", "run").code)
	res := r.stepline("", "runs", "--status", "failed")
	require.Equal(t, ExitOK, res.code, res.err)
	assert.Contains(t, res.out, "rel-1-")
	assert.NotContains(t, res.out, "rel-2-")
	res = r.stepline("", "runs", "--branch", "other")
	assert.Contains(t, res.out, "no runs yet")
}
