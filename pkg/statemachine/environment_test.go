package statemachine_test

import (
	"encoding/json"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/statemachine"
	"github.com/stepline/stepline/pkg/statemachine/asltest"
)

const dockerPipeline = `version: 1
pipelines:
  - name: api
    stages:
      - name: Build
        actions:
          - {name: Image, provider: codebuild, buildspec: ci/image.yml, inputs: [source], privileged: true,
             image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/builder:2"}
      - name: Test
        actions:
          - {name: Docker, provider: codebuild, buildspec: ci/docker.yml, inputs: [source], privileged: true, compute_type: BUILD_GENERAL1_LARGE}
          - {name: Unit, provider: codebuild, buildspec: ci/unit.yml, inputs: [source]}
`

// TestABuildThatSetsItsEnvironmentReachesCodeBuildWithIt runs builds that set image,
// compute_type and privileged, alone and in a wave beside a build that sets none, through the
// real file: each reaches StartBuild with its overrides and what it leaves out filled from the
// stack's project, the other with no environment override at all, at the same cost.
func TestABuildThatSetsItsEnvironmentReachesCodeBuildWithIt(t *testing.T) {
	w := newWorld(t, dockerPipeline)
	var mu sync.Mutex
	sent := map[string]map[string]any{} // buildspec → the StartBuild parameters
	states := map[string]string{}       // buildspec → the state that sent them
	h := w.handlers()
	for _, name := range []string{"CodeBuild", "MapCodeBuild", "CodeBuildEnvironment", "MapCodeBuildEnvironment"} {
		build := h[name]
		h[name] = func(in json.RawMessage) (any, error) {
			var params map[string]any
			require.NoError(t, json.Unmarshal(in, &params))
			spec, _ := params["BuildspecOverride"].(string)
			mu.Lock()
			sent[spec], states[spec] = params, name
			mu.Unlock()
			return build(in)
		}
	}
	ex := asltest.Interpret(t, w.start("api-7", 7), h)
	require.Empty(t, ex.Error, ex.Cause)

	assert.Equal(t, []string{
		"Advance", "Route", "Source",
		"Advance", "Route", "CodeBuildEnvironment", // Image
		"Advance", "Route", "Dispatch", "Kind", "Kind", "MapCodeBuild", "MapCodeBuildEnvironment", // Docker and Unit (sorted)
		"Advance", "Route", "Succeeded",
	}, sortedWaves(ex.Entered))
	assert.Len(t, ex.Entered, statemachine.Transitions(w.def), "choosing the environment's state costs no transition")

	assert.Equal(t, map[string]string{"ci/image.yml": "CodeBuildEnvironment", "ci/docker.yml": "MapCodeBuildEnvironment", "ci/unit.yml": "MapCodeBuild"}, states)
	environment := func(spec string) map[string]any {
		out := map[string]any{}
		for _, k := range []string{"ImageOverride", "ComputeTypeOverride", "PrivilegedModeOverride", "ImagePullCredentialsTypeOverride"} {
			if v, ok := sent[spec][k]; ok {
				out[k] = v
			}
		}
		return out
	}
	assert.Equal(t, map[string]any{"ImageOverride": "123456789012.dkr.ecr.us-east-1.amazonaws.com/builder:2",
		"ComputeTypeOverride": "BUILD_GENERAL1_SMALL", "PrivilegedModeOverride": true, "ImagePullCredentialsTypeOverride": "SERVICE_ROLE"},
		environment("ci/image.yml"), "an ECR image, privileged, on the project's compute type, pulled with the service role")
	assert.Equal(t, map[string]any{"ImageOverride": "aws/codebuild/amazonlinux-aarch64-standard:3.0",
		"ComputeTypeOverride": "BUILD_GENERAL1_LARGE", "PrivilegedModeOverride": true, "ImagePullCredentialsTypeOverride": "CODEBUILD"},
		environment("ci/docker.yml"), "the project's curated image, larger and privileged, pulled with CodeBuild's credentials")
	assert.Empty(t, environment("ci/unit.yml"), "a build that sets nothing keeps its project's environment")
	for spec, params := range sent {
		assert.Equal(t, "stepline-build", params["ProjectName"], spec)
		assert.Equal(t, "S3", params["SourceTypeOverride"], spec)
	}
}
