package cli

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/local"
	"github.com/stepline/stepline/pkg/serve"
	"github.com/stepline/stepline/pkg/store"
)

// buildStepline builds the real binary, for tests that signal it as a user or a crash would.
func buildStepline(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "stepline")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/stepline/stepline/cmd/stepline").CombinedOutput()
	require.NoError(t, err, "%s", out)
	return bin
}

// sleepyRepo is a repository whose queued pipeline web builds for a long time while the file
// slow exists in marks (removing it first, so the next build is quick), writing the pid of its
// sleep to marks/sleep.pid.
func sleepyRepo(t *testing.T) (r *repo, marks string) {
	t.Helper()
	marks = t.TempDir()
	r = newRepo(t, map[string]string{
		".stepline.yml": fmt.Sprintf(`version: 1
pipelines:
  - name: web
    execution_mode: queued
    triggers:
      - on: push
        branches: [main]
    stages:
      - name: Build
        actions:
          - {name: Build, provider: codebuild, inputs: [source], env: {MARKS: %q}}
`, marks),
		"buildspec.yml": "version: 0.2\nphases:\n  build:\n    commands:\n" +
			"      - if [ -e \"$MARKS/slow\" ]; then rm \"$MARKS/slow\"; sleep 300 & echo $! > \"$MARKS/sleep.pid\"; wait; fi\n",
	})
	r.commit("change", map[string]string{"index.html": "<h1>hi</h1>\n"})
	require.NoError(t, os.WriteFile(filepath.Join(marks, "slow"), nil, 0o644))
	return r, marks
}

// orphanedBuild waits for the slow build's sleep and returns its process group, which the
// test ends whatever happens.
func orphanedBuild(t *testing.T, marks string) int {
	t.Helper()
	pidFile := filepath.Join(marks, "sleep.pid")
	require.Eventually(t, func() bool { _, err := os.Stat(pidFile); return err == nil }, 60*time.Second, 50*time.Millisecond, "the build never started")
	pid, err := strconv.Atoi(strings.TrimSpace(readFile(t, pidFile)))
	require.NoError(t, err)
	pgid, err := syscall.Getpgid(pid)
	require.NoError(t, err)
	require.NotEqual(t, syscall.Getpgrp(), pgid, "builds run in a process group of their own")
	t.Cleanup(func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) })
	return pgid
}

// kill9 kills cmd's process alone, as kill -9 would, and reaps it.
func kill9(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
}

// startServeProcess starts `stepline serve` as its own process and returns its GitHub URL.
func startServeProcess(t *testing.T, bin string, r *repo, secretFile string) (*exec.Cmd, *syncBuffer, string) {
	t.Helper()
	out := &syncBuffer{}
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--repo", r.dir, "--state-dir", r.state(), "--secret-file", secretFile)
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, out, waitForMatch(t, out, regexp.MustCompile(`github +(http://\S+)`))
}

// TestAServeKilledMidBuildLosesNoDeliveryAndLeavesNoBuild kills serve with SIGKILL while a
// delivery's build runs, starts it again and redelivers: the old run is ended as canceled, its
// orphaned build is stopped before anything else starts, and the redelivery runs to the end.
func TestAServeKilledMidBuildLosesNoDeliveryAndLeavesNoBuild(t *testing.T) {
	t.Parallel()
	bin := buildStepline(t)
	r, marks := sleepyRepo(t)
	secretFile := filepath.Join(t.TempDir(), "secret")
	require.NoError(t, os.WriteFile(secretFile, []byte("topsecret\n"), 0o600))
	body := pushFile(t, r, "main")
	send := func(url string) {
		var o, e bytes.Buffer
		code := Main(context.Background(), []string{"webhook", "send", "--provider", "github", "--event", "push",
			"--secret", "topsecret", "--delivery", "d-1", "--url", url, body}, IO{Out: &o, Err: &e})
		require.Equal(t, ExitOK, code, o.String()+e.String())
		require.Contains(t, o.String(), "202 Accepted")
	}

	first, out1, url := startServeProcess(t, bin, r, secretFile)
	send(url)
	pgid := orphanedBuild(t, marks)
	kill9(t, first)
	require.NotEmpty(t, local.GroupMembers(pgid), "kill -9 of serve leaves its build running (the case to reclaim):\n%s", out1)
	before := r.stepline("", "runs")
	require.Regexp(t, `web-1-[0-9a-f]{8}\s+web\s+IN_PROGRESS`, before.out)

	second, out2, url := startServeProcess(t, bin, r, secretFile)
	waitForMatch(t, out2, regexp.MustCompile(`delivery (\S+) may run again`))
	assert.Empty(t, local.GroupMembers(pgid), "the orphaned build was stopped when serve started again")
	send(url)
	waitForMatch(t, out2, regexp.MustCompile(`SUCCEEDED pipeline web run (web-2-\S+)`))
	assert.NotContains(t, out2.String(), "already handled")

	// The delivery ran to the end once: after another restart it is handled, as any other.
	kill9(t, second)
	_, out3, url := startServeProcess(t, bin, r, secretFile)
	send(url)
	waitForMatch(t, out3, regexp.MustCompile(`already handled`))
	assert.NotContains(t, out3.String(), "may run again")

	runs := r.stepline("", "runs")
	assert.Regexp(t, `web-1-[0-9a-f]{8}\s+web\s+CANCELED`, runs.out)
	assert.Regexp(t, `web-2-[0-9a-f]{8}\s+web\s+SUCCEEDED`, runs.out)
	show := r.stepline("", "show", "web-1")
	assert.Contains(t, show.out, "stopped without ending it")
}

// TestARunKilledMidBuildLeavesNoBuildForTheNextRun kills `stepline run` with SIGKILL while its
// build runs: the next run ends the old one as canceled and stops its build before it takes
// the queued pipeline's lock, and then runs.
func TestARunKilledMidBuildLeavesNoBuildForTheNextRun(t *testing.T) {
	t.Parallel()
	bin := buildStepline(t)
	r, marks := sleepyRepo(t)
	var stdout bytes.Buffer
	cmd := exec.Command(bin, "run", "--plain", "--repo", r.dir, "--state-dir", r.state())
	cmd.Stdout, cmd.Stderr = &stdout, &stdout
	require.NoError(t, cmd.Start())
	pgid := orphanedBuild(t, marks)
	kill9(t, cmd)
	require.NotEmpty(t, local.GroupMembers(pgid), "kill -9 of run leaves its build running (the case to reclaim):\n%s", stdout.String())

	next := r.stepline("", "run", "--plain")
	require.Equal(t, ExitOK, next.code, next.out+next.err)
	assert.Empty(t, local.GroupMembers(pgid), "the orphaned build was stopped")
	runs := r.stepline("", "runs")
	assert.Regexp(t, `web-1-[0-9a-f]{8}\s+web\s+CANCELED`, runs.out)
	assert.Regexp(t, `web-2-[0-9a-f]{8}\s+web\s+SUCCEEDED`, runs.out)
	left, err := filepath.Glob(filepath.Join(r.state(), "runs", "*", "groups", "*", "*"))
	require.NoError(t, err)
	assert.Empty(t, left, "a finished attempt and a reclaimed run leave no process group on record")
}

// TestServeLetsRunAgainOnlyDeliveriesWhoseEveryRunWasLost checks serve's start on a history
// where `stepline run` reclaimed a lost run before serve restarted, and where a lost delivery
// already ran again.
func TestServeLetsRunAgainOnlyDeliveriesWhoseEveryRunWasLost(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	db := store.NewBolt(filepath.Join(dir, "stepline.db"))
	d := engine.Definition{Pipeline: "web", Stages: []engine.Stage{{Name: "Build", Actions: []engine.Action{{Name: "Build", Provider: "codebuild"}}}}}
	put := func(id, delivery string, status engine.Status, abandoned bool) {
		st := engine.New(d, engine.RunInfo{ID: id, Seq: 1})
		st.Status = status
		require.NoError(t, db.PutRun(ctx, store.Record{Definition: d, State: st, Delivery: delivery, Abandoned: abandoned}))
	}
	put("web-1-a", "lost", engine.Canceled, true)
	put("web-2-a", "lost-then-ran", engine.Canceled, true)
	put("web-3-a", "lost-then-ran", engine.Succeeded, false)
	put("web-4-a", "ran", engine.Failed, false)
	seen, err := serve.OpenSeen(filepath.Join(dir, "deliveries"))
	require.NoError(t, err)
	for _, k := range []string{"lost", "lost-then-ran", "ran"} {
		require.True(t, seen.Reserve(k))
		require.NoError(t, seen.Commit(k))
	}

	var out bytes.Buffer
	require.NoError(t, reclaimLost(ctx, &out, slog.New(slog.DiscardHandler), db, dir, seen))
	assert.Equal(t, "stepline serve: delivery lost may run again: redeliver it\n", out.String())
	assert.True(t, seen.Reserve("lost"))
	assert.False(t, seen.Reserve("lost-then-ran"))
	assert.False(t, seen.Reserve("ran"))
}
