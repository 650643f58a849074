package local

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/artifact"
	"github.com/stepline/stepline/pkg/engine"
)

type deployFixture struct {
	t     *testing.T
	arts  *artifact.Local
	root  string
	log   bytes.Buffer
	count int
}

func newDeployFixture(t *testing.T) *deployFixture {
	return &deployFixture{t: t, arts: artifact.NewLocal(t.TempDir()), root: t.TempDir()}
}

// deploy releases a tree with the given files and config.
func (f *deployFixture) deploy(files map[string]string, cfg map[string]any) Outcome {
	f.t.Helper()
	f.count++
	loc, err := f.arts.PutDir(context.Background(), "r", "app", writeTree(f.t, files))
	require.NoError(f.t, err)
	task := engine.Task{Run: "r", Action: "Release", Attempt: f.count, Config: cfg,
		Inputs: []engine.Artifact{{Name: "app", Location: loc}}}
	return Deploy{Root: f.root}.Execute(context.Background(), task, Env{Log: &f.log, Artifacts: f.arts})
}

func (f *deployFixture) current(file string) string {
	b, err := os.ReadFile(filepath.Join(f.root, "site", "current", file))
	require.NoError(f.t, err)
	return string(b)
}

func TestDeploySwapsCurrentAndRestoresItWhenTheHealthCheckFails(t *testing.T) {
	t.Parallel()
	f := newDeployFixture(t)
	cfg := map[string]any{"path": "site", "health_check": `test "$(cat version)" != bad && test -n "$RELEASE_DIR"`}
	out := f.deploy(map[string]string{"version": "v1"}, cfg)
	require.NoError(t, out.Err)
	assert.Equal(t, "v1", f.current("version"))
	assert.Equal(t, filepath.Join(f.root, "site", "releases", "r.Release.1"), out.Variables["release_dir"])

	out = f.deploy(map[string]string{"version": "bad"}, cfg)
	require.Error(t, out.Err)
	assert.Contains(t, out.Err.Error(), "health check failed")
	assert.Contains(t, out.Err.Error(), "restored the previous release r.Release.1")
	assert.False(t, out.Final, "a failed health check may be retried")
	assert.Equal(t, "v1", f.current("version"))
	assert.Contains(t, f.log.String(), "restored the previous release")
}

func TestAFirstDeployFailingItsHealthCheckLeavesNothingLive(t *testing.T) {
	t.Parallel()
	f := newDeployFixture(t)
	out := f.deploy(map[string]string{"v": "1"}, map[string]any{"path": "site", "health_check": "exit 3"})
	require.Error(t, out.Err)
	assert.Contains(t, out.Err.Error(), "no previous release")
	_, err := os.Lstat(filepath.Join(f.root, "site", "current"))
	assert.True(t, os.IsNotExist(err))
}

func TestAHangingHealthCheckTimesOut(t *testing.T) {
	t.Parallel()
	f := newDeployFixture(t)
	out := f.deploy(map[string]string{"v": "1"}, map[string]any{"path": "site", "health_check": "sleep 30", "health_timeout": "200ms"})
	require.Error(t, out.Err)
	assert.Contains(t, out.Err.Error(), "no answer within 200ms")
}

func TestOldReleasesArePrunedButCurrentAndPreviousKept(t *testing.T) {
	t.Parallel()
	f := newDeployFixture(t)
	for i := 0; i < 5; i++ {
		require.NoError(t, f.deploy(map[string]string{"v": strings.Repeat("x", i)}, map[string]any{"path": "site", "keep": 2}).Err)
	}
	entries, err := os.ReadDir(filepath.Join(f.root, "site", "releases"))
	require.NoError(t, err)
	assert.Len(t, entries, 2)
}

func TestDeployConfigurationMistakesAreFinal(t *testing.T) {
	t.Parallel()
	f := newDeployFixture(t)
	for name, cfg := range map[string]map[string]any{
		"no path":              {},
		"a bad health timeout": {"path": "site", "health_timeout": "soon"},
	} {
		out := f.deploy(map[string]string{"v": "1"}, cfg)
		require.Error(t, out.Err, name)
		assert.True(t, out.Final, name)
	}
}

func TestApprovalAnswers(t *testing.T) {
	t.Parallel()
	task := engine.Task{Stage: "Release", Action: "Gate", Config: map[string]any{"message": "ship?", "url": "https://x"}}
	for _, c := range []struct {
		name, in string
		ok       bool
	}{
		{"y approves", "y\n", true},
		{"YES approves", "YES\n", true},
		{"n rejects", "n\n", false},
		{"an empty answer rejects", "\n", false},
		{"a closed input rejects", "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, log bytes.Buffer
			res := NewApproval(false, strings.NewReader(c.in), &out, nil).Execute(context.Background(), task, Env{Log: &log})
			assert.Equal(t, "Approve Release/Gate: ship? (https://x)? [y/N] ", strings.TrimRight(out.String(), "\n"))
			if c.ok {
				assert.NoError(t, res.Err)
			} else {
				assert.ErrorIs(t, res.Err, ErrRejected)
				assert.True(t, res.Final)
			}
		})
	}
	t.Run("two questions read two answers", func(t *testing.T) {
		var out, log bytes.Buffer
		a := NewApproval(false, strings.NewReader("y\nn\n"), &out, nil)
		assert.NoError(t, a.Execute(context.Background(), task, Env{Log: &log}).Err)
		assert.Error(t, a.Execute(context.Background(), task, Env{Log: &log}).Err)
	})
}

func TestAFailedHealthCheckLeavesALinkAnotherDeploySwitched(t *testing.T) {
	t.Parallel()
	f := newDeployFixture(t)
	require.NoError(t, f.deploy(map[string]string{"version": "v1"}, map[string]any{"path": "site"}).Err)
	other := filepath.Join(f.root, "site", "releases", "r.Release.1")
	// The check plays another deploy switching current to v1 meanwhile, then fails.
	out := f.deploy(map[string]string{"version": "v2"}, map[string]any{"path": "site", "keep": 1,
		"health_check": "ln -sfn " + other + " ../../current && exit 1"})
	require.Error(t, out.Err)
	assert.Contains(t, out.Err.Error(), "left alone")
	live, err := os.Readlink(filepath.Join(f.root, "site", "current"))
	require.NoError(t, err)
	assert.Equal(t, other, live, "the other deploy's release stays live")
	assert.DirExists(t, other, "and is not pruned")
}

// The health check is a command from the pipeline file at the commit, so it gets a build's host
// variables, not stepline's environment (serve's webhook secret among it).
func TestTheHealthCheckSeesOnlyABuildsHostVariables(t *testing.T) {
	t.Setenv("STEPLINE_WEBHOOK_SECRET", "hook-secret-value")
	f := newDeployFixture(t)
	cfg := map[string]any{"path": "site", "health_check": `env; test -z "$STEPLINE_WEBHOOK_SECRET" && test -n "$PATH" && test -n "$RELEASE_DIR"`}
	out := f.deploy(map[string]string{"version": "v1"}, cfg)
	require.NoError(t, out.Err, f.log.String())
	assert.NotContains(t, f.log.String(), "hook-secret-value")
}
