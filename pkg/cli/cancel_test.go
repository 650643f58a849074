package cli

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/local"
)

// TestCtrlCCancelsTheRunCleanly runs the real binary, presses Ctrl-C the way a terminal does
// (SIGINT to the foreground process group) while a build runs, and checks that the build's
// processes are gone and the run is recorded as canceled.
func TestCtrlCCancelsTheRunCleanly(t *testing.T) {
	t.Parallel()
	bin := buildStepline(t)

	marks := t.TempDir()
	r := newRepo(t, map[string]string{
		".stepline.yml": fmt.Sprintf(`version: 1
pipelines:
  - name: slow
    stages:
      - name: Build
        actions:
          - {name: Sleep, provider: codebuild, inputs: [source], env: {MARKS: %q}}
      - name: Deploy
        actions:
          - {name: Release, provider: local, inputs: [source], path: prod}
`, marks),
		"buildspec.yml": "version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 300 & echo $! > \"$MARKS/sleep.pid\"; wait\n",
	})
	cmd := exec.Command(bin, "run", "--plain", "--repo", r.dir, "--state-dir", r.state())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })

	pidFile := filepath.Join(marks, "sleep.pid")
	require.Eventually(t, func() bool { _, err := os.Stat(pidFile); return err == nil }, 30*time.Second, 50*time.Millisecond, "the build never started")
	pid, err := strconv.Atoi(strings.TrimSpace(readFile(t, pidFile)))
	require.NoError(t, err)

	require.NoError(t, syscall.Kill(-cmd.Process.Pid, syscall.SIGINT))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("stepline did not stop after Ctrl-C:\n%s", stdout.String())
	}
	var exitErr *exec.ExitError
	require.True(t, errors.As(err, &exitErr), "exit: %v", err)
	assert.Equal(t, ExitCanceled, exitErr.ExitCode(), "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	assert.False(t, local.Alive(pid), "the build's processes were stopped")
	assert.Contains(t, stdout.String(), "CANCELED  Build/Sleep")
	assert.NoDirExists(t, filepath.Join(r.state(), "deploy", "prod"))

	res := r.stepline("", "runs")
	assert.Regexp(t, `slow-1-[0-9a-f]{8}\s+slow\s+CANCELED`, res.out)
}
