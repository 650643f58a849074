package local

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/artifact"
	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/store"
)

// envExec records the Env of each attempt it runs.
type envExec struct {
	mu   sync.Mutex
	envs map[string]Env
}

func (e *envExec) Execute(_ context.Context, t engine.Task, env Env) Outcome {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.envs == nil {
		e.envs = map[string]Env{}
	}
	e.envs[t.Stage+"/"+t.Action] = env
	out := map[string]string{}
	for _, o := range t.Outputs {
		out[o] = "loc:" + o
	}
	return Outcome{Outputs: out}
}

func TestAnUntrustedRunBuildsButNeverDeploysNorAsksForApproval(t *testing.T) {
	t.Parallel()
	d := engine.Definition{Pipeline: "p", Stages: []engine.Stage{
		{Name: "Source", Actions: []engine.Action{{Name: "Source", Provider: "source", Outputs: []string{"source"}}}},
		{Name: "Build", Actions: []engine.Action{{Name: "Build", Provider: "codebuild", Inputs: []string{"source"}, Outputs: []string{"bin"}}}},
		{Name: "Approve", Actions: []engine.Action{{Name: "Approve", Provider: "approval"}}},
		{Name: "Deploy", Actions: []engine.Action{{Name: "Release", Provider: "local", Inputs: []string{"bin"}}}},
	}}
	for _, tc := range []struct {
		name      string
		meta      Meta
		untrusted bool
	}{
		{"a trusted run deploys", Meta{Branch: "main"}, false},
		{"a run its trigger marked untrusted", Meta{Branch: "main", Untrusted: true}, true},
		{"a fork's pull request, whatever the trigger said", Meta{Branch: "main", Variables: func(string, int64) (map[string]map[string]string, error) {
			return map[string]map[string]string{"source": {"fork": "true"}}, nil
		}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			ex := &envExec{}
			execs := map[string]Executor{"source": ex, "codebuild": ex, "approval": ex, "local": ex}
			r := NewRunner(d, store.NewMemory(), artifact.NewLocal(filepath.Join(dir, "artifacts")), execs, dir)
			final, err := r.Run(context.Background(), "", tc.meta)
			require.NoError(t, err)
			assert.Contains(t, ex.envs, "Build/Build", "the build runs either way")
			assert.Equal(t, tc.untrusted, ex.envs["Build/Build"].Untrusted, "the build is told, so it drops its secrets")
			if !tc.untrusted {
				assert.Equal(t, engine.Succeeded, final.Status)
				assert.Contains(t, ex.envs, "Deploy/Release")
				return
			}
			assert.Equal(t, engine.Failed, final.Status)
			assert.NotContains(t, ex.envs, "Approve/Approve", "an untrusted run never asks for approval")
			assert.NotContains(t, ex.envs, "Deploy/Release", "nor deploys")
			assert.Contains(t, final.Stages[2].Actions[0].Message, "action Approve/Approve (provider approval) refused: this run is untrusted")
		})
	}
}

func TestAnUntrustedBuildGetsNoSecrets(t *testing.T) {
	t.Parallel()
	arts := artifact.NewLocal(filepath.Join(t.TempDir(), "artifacts"))
	src := writeTree(t, map[string]string{"buildspec.yml": "version: 0.2\nphases:\n  build:\n    commands:\n      - echo \"token=${TOKEN:-none}\"\n"})
	loc, err := arts.PutDir(context.Background(), "p-1", "source", src)
	require.NoError(t, err)
	b := Build{Secrets: []string{"TOKEN=s3cr3t-value"}}
	task := engine.Task{Run: "p-1", Stage: "Build", Action: "Build", Attempt: 1, Provider: "codebuild",
		Inputs: []engine.Artifact{{Name: "source", Location: loc}}}
	run := func(untrusted bool) string {
		var log bytes.Buffer
		work := t.TempDir()
		require.NoError(t, os.MkdirAll(work, 0o755))
		out := b.Execute(context.Background(), task, Env{Work: work, Log: &log, Artifacts: arts, Untrusted: untrusted})
		require.NoError(t, out.Err, log.String())
		return log.String()
	}
	assert.Contains(t, run(false), "token=***", "a trusted build gets the secret, masked")
	untrusted := run(true)
	assert.Contains(t, untrusted, "token=none", "an untrusted build does not")
	assert.Contains(t, untrusted, "this run is untrusted: its build gets no secrets")
}
