package buildspec

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// processGone reports whether pid has exited. A zombie counts as gone: it runs nothing, and an
// init that reaps slowly must not make the test flaky.
func processGone(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(stat, ')')
	return i >= 0 && len(stat) > i+2 && stat[i+2] == 'Z'
}

// StopBuild on CodeBuild ends the running phase as STOPPED and runs nothing after it; locally
// cancelling the context does the same, for the foreground command and what it started in the
// background.
func TestRunStopsPromptlyWhenCancelled(t *testing.T) {
	t.Parallel()
	spec, _, err := Parse("buildspec.yml", []byte(`version: 0.2
phases:
  build:
    commands:
      - sleep 100 & echo $! > bg.pid; sleep 100
  post_build:
    commands:
      - echo not-run
artifacts:
  files: [bg.pid]
`))
	require.NoError(t, err)
	src := t.TempDir()
	var log syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for !strings.Contains(log.String(), "Running command sleep") {
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond)
		cancel()
	}()

	start := time.Now()
	res, err := Run(ctx, spec, Options{SrcDir: src, Log: &log, StopGrace: time.Second})
	require.NoError(t, err)
	assert.Less(t, time.Since(start), 5*time.Second, "Run must return promptly after cancellation")

	assert.Equal(t, StatusStopped, res.Status)
	assert.Equal(t, "INSTALL:SUCCEEDED PRE_BUILD:SUCCEEDED BUILD:STOPPED POST_BUILD:SKIPPED UPLOAD_ARTIFACTS:SKIPPED", phases(res))
	assert.NotContains(t, log.String(), "not-run")
	assert.Contains(t, log.String(), "Phase complete: BUILD State: STOPPED\n")

	data, err := os.ReadFile(filepath.Join(src, "bg.pid"))
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	require.NoError(t, err)
	assert.Eventually(t, func() bool { return processGone(pid) }, 2*time.Second, 20*time.Millisecond,
		"the background sleep must be stopped with the build")
}

func TestRunWithAnAlreadyCancelledContextRunsNothing(t *testing.T) {
	t.Parallel()
	spec, _, err := Parse("buildspec.yml", []byte("version: 0.2\nphases:\n  install:\n    commands: [echo not-run]\n"))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var log syncBuffer
	res, err := Run(ctx, spec, Options{SrcDir: t.TempDir(), Log: &log})
	require.NoError(t, err)
	assert.Equal(t, StatusStopped, res.Status)
	assert.NotContains(t, log.String(), "not-run")
}

// Background processes left running when a build ends are stopped, as they are when a
// CodeBuild container goes away.
func TestRunStopsLeftoverBackgroundProcesses(t *testing.T) {
	t.Parallel()
	spec, _, err := Parse("buildspec.yml", []byte("version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 100 >/dev/null 2>&1 & echo $! > bg.pid\n"))
	require.NoError(t, err)
	src := t.TempDir()
	start := time.Now()
	res, err := Run(context.Background(), spec, Options{SrcDir: src, StopGrace: time.Second})
	require.NoError(t, err)
	assert.Equal(t, StatusSucceeded, res.Status)
	assert.Less(t, time.Since(start), 3*time.Second)
	data, err := os.ReadFile(filepath.Join(src, "bg.pid"))
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	require.NoError(t, err)
	assert.Eventually(t, func() bool { return processGone(pid) }, 2*time.Second, 20*time.Millisecond)
}
