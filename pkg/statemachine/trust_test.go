package statemachine_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/statemachine/asltest"
	"github.com/stepline/stepline/pkg/store"
)

// forkPipeline builds alone, then in a wave (one build overriding its environment), then
// deploys to ECS.
const forkPipeline = `version: 1
pipelines:
  - name: api
    stages:
      - name: Build
        actions:
          - {name: Package, provider: codebuild, buildspec: ci/package.yml, inputs: [source], outputs: [bin]}
      - name: Test
        actions:
          - {name: Docker, provider: codebuild, buildspec: ci/docker.yml, inputs: [bin], privileged: true}
          - {name: Unit, provider: codebuild, buildspec: ci/unit.yml, inputs: [source]}
      - name: Deploy
        actions:
          - {name: Ship, provider: ecs, cluster: main, service: api, image_definitions: "bin::imagedefinitions.json", inputs: [bin]}
`

// TestAForksRunBuildsInTheUntrustedProjectAndNeverReachesItsDeploy runs a fork's pull request
// through the real file: every build, alone or in the Map, with or without an environment
// override, reaches StartBuild in the untrusted project with its source and artifacts under
// untrusted/<run>/, and the deploy never reaches the Wait state.
func TestAForksRunBuildsInTheUntrustedProjectAndNeverReachesItsDeploy(t *testing.T) {
	w := newWorld(t, forkPipeline)
	st := engine.New(w.def, engine.RunInfo{ID: "api-9", Seq: 9, Variables: map[string]map[string]string{"source": {"branch": "main", "fork": "true"}}})
	require.NoError(t, w.db.PutRun(context.Background(), store.Record{Definition: w.def, State: st, Repo: "octo/api",
		Provider: "github", Hook: "hook-0123456789abcdef", Commit: strings.Repeat("c", 40), Branch: "main"}))

	var mu sync.Mutex
	sent := map[string]map[string]any{} // buildspec → the StartBuild parameters
	h := w.handlers()
	for _, name := range []string{"CodeBuild", "MapCodeBuild", "CodeBuildEnvironment", "MapCodeBuildEnvironment"} {
		build := h[name]
		h[name] = func(in json.RawMessage) (any, error) {
			var params map[string]any
			require.NoError(t, json.Unmarshal(in, &params))
			spec, _ := params["BuildspecOverride"].(string)
			mu.Lock()
			sent[spec] = params
			mu.Unlock()
			return build(in)
		}
	}
	source := h["Source"]
	var key string
	h["Source"] = func(in json.RawMessage) (any, error) {
		var req struct {
			Task struct {
				Source struct{ Key string } `json:"source"`
			} `json:"task"`
		}
		require.NoError(t, json.Unmarshal(in, &req))
		mu.Lock()
		key = req.Task.Source.Key
		mu.Unlock()
		return source(in)
	}
	deployed := false
	h["Wait"] = func(json.RawMessage) (any, error) {
		mu.Lock()
		deployed = true
		mu.Unlock()
		return map[string]any{}, nil
	}
	h["MapWait"] = h["Wait"]

	ex := asltest.Interpret(t, map[string]any{"run": "api-9"}, h)
	assert.Equal(t, "PipelineFailed", ex.Error, "the refused deploy fails the run")
	assert.False(t, deployed, "a fork's deploy never reaches the wait function")
	assert.NotContains(t, ex.Entered, "Wait")
	assert.Equal(t, "untrusted/api-9/source.zip", key)

	require.Len(t, sent, 3)
	for spec, params := range sent {
		assert.Equal(t, "stepline-untrusted", params["ProjectName"], spec)
		assert.True(t, strings.HasPrefix(params["SourceLocationOverride"].(string), "artifacts/untrusted/api-9/"), "%s: %v", spec, params["SourceLocationOverride"])
	}
	assert.Equal(t, "untrusted/api-9", sent["ci/package.yml"]["ArtifactsOverride"].(map[string]any)["Path"])
	assert.Equal(t, true, sent["ci/docker.yml"]["PrivilegedModeOverride"], "an environment override still goes through CodeBuildEnvironment")

	rec, err := w.db.GetRun(context.Background(), "api-9")
	require.NoError(t, err)
	assert.Contains(t, rec.State.Stages[3].Actions[0].Message, "refused: this run is untrusted")
}
