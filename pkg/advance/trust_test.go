package advance_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/advance"
	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/pipeline"
	"github.com/stepline/stepline/pkg/statemachine"
	"github.com/stepline/stepline/pkg/store"
)

// trustPipeline builds, then deploys to ECS after an approval.
const trustPipeline = `version: 1
pipelines:
  - name: api
    execution_mode: parallel
    stages:
      - name: Build
        actions:
          - {name: Package, provider: codebuild, buildspec: ci/package.yml, inputs: [source], outputs: [bin]}
      - name: Deploy
        actions:
          - {name: Ship, provider: ecs, cluster: main, service: api, image_definitions: "bin::imagedefinitions.json", inputs: [bin]}
`

// trustRun stores run id of trustPipeline as the trigger step does, with source variables and
// the trigger's verdict, and returns a handler with both projects configured.
func trustRun(t *testing.T, id string, source map[string]string, untrusted bool) (*advance.Handler, *store.Memory) {
	t.Helper()
	f, err := pipeline.Parse(".stepline.yml", []byte(trustPipeline))
	require.NoError(t, err)
	p, err := f.Pipeline("")
	require.NoError(t, err)
	def := p.Definition()
	db := store.NewMemory()
	st := engine.New(def, engine.RunInfo{ID: id, Seq: 1, Variables: map[string]map[string]string{"source": source}})
	require.NoError(t, db.PutRun(context.Background(), store.Record{Definition: def, State: st, Repo: "octo/api",
		Provider: "github", Branch: "main", Commit: strings.Repeat("c", 40), Untrusted: untrusted}))
	sfn := &stepFunctions{}
	h := advance.New(db, &published{}, sfn.client(t),
		advance.Config{Bucket: "artifacts", Project: "stepline-build", UntrustedProject: "stepline-untrusted",
			Image: "aws/codebuild/amazonlinux-aarch64-standard:3.0", ComputeType: "BUILD_GENERAL1_SMALL"},
		advance.WithClock(func() time.Time { return time.Unix(1_795_000_000, 0) }))
	return h, db
}

func step(t *testing.T, h *advance.Handler, in advance.Input) statemachine.State {
	t.Helper()
	out, err := h.Handle(context.Background(), in)
	require.NoError(t, err)
	return out
}

func TestAnUntrustedRunBuildsInTheUntrustedProjectUnderItsOwnPrefixAndNeverDeploys(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		source    map[string]string
		untrusted bool
	}{
		{"a fork's pull request", map[string]string{"fork": "true"}, false},
		{"a run of a trigger marked trusted: false", map[string]string{"fork": "false"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h, db := trustRun(t, "api-1", tc.source, tc.untrusted)
			s := step(t, h, advance.Input{State: statemachine.State{Run: "api-1"}})
			src := item(t, s)
			require.Equal(t, statemachine.KindSource, src.Kind)
			assert.Equal(t, "untrusted/api-1/source.zip", src.Source.Key, "the source archive lands where only untrusted builds read")

			s = step(t, h, answered(s, src, `{"artifact":{"bucket":"artifacts","key":"untrusted/api-1/source.zip"}}`, nil))
			build := item(t, s)
			require.Equal(t, statemachine.KindCodeBuild, build.Kind)
			assert.Equal(t, "stepline-untrusted", build.CodeBuild.Project)
			assert.Equal(t, "artifacts/untrusted/api-1/source.zip", build.CodeBuild.SourceLocation)
			assert.Equal(t, "untrusted/api-1", build.CodeBuild.Artifacts.Path, "its output goes where no deploy reads")

			s = step(t, h, answered(s, build, buildOK, nil))
			assert.Equal(t, statemachine.RouteDone, s.Route, "the deploy is never routed: %+v", s)
			assert.Equal(t, "FAILED", s.Status)
			rec, err := db.GetRun(context.Background(), "api-1")
			require.NoError(t, err)
			assert.Equal(t, "s3://artifacts/untrusted/api-1/bin.zip", rec.State.Artifacts["bin"])
			ship := rec.State.Stages[2].Actions[0]
			assert.Equal(t, engine.Failed, ship.Status)
			assert.Contains(t, ship.Message, "action Deploy/Ship (provider ecs) refused: this run is untrusted")
		})
	}
}

func TestATrustedRunBuildsInTheStacksProjectUnderRuns(t *testing.T) {
	t.Parallel()
	h, _ := trustRun(t, "api-1", map[string]string{"fork": "false"}, false)
	s := step(t, h, advance.Input{State: statemachine.State{Run: "api-1"}})
	src := item(t, s)
	assert.Equal(t, "runs/api-1/source.zip", src.Source.Key)
	s = step(t, h, answered(s, src, `{"artifact":{"bucket":"artifacts","key":"runs/api-1/source.zip"}}`, nil))
	build := item(t, s)
	assert.Equal(t, "stepline-build", build.CodeBuild.Project)
	assert.Equal(t, "runs/api-1", build.CodeBuild.Artifacts.Path)
	s = step(t, h, answered(s, build, buildOK, nil))
	ship := item(t, s)
	assert.Equal(t, statemachine.KindWait, ship.Kind, "a trusted run deploys")
}

func TestAnUntrustedBuildNamingItsOwnProjectIsRefused(t *testing.T) {
	t.Parallel()
	task := engine.Task{Run: "api-1", Stage: "Build", Action: "Package", Provider: "codebuild",
		Config:  map[string]any{"project": "stepline-deployer"},
		Inputs:  []engine.Artifact{{Name: "source", Location: "s3://artifacts/untrusted/api-1/source.zip"}},
		Outputs: []string{"bin"}}
	h, db := trustRun(t, "api-1", map[string]string{"fork": "true"}, false)
	rec, err := db.GetRun(context.Background(), "api-1")
	require.NoError(t, err)
	rec.Definition.Stages[1].Actions[0].Config = map[string]any{"project": "stepline-deployer", "buildspec": "ci/package.yml"}
	require.NoError(t, db.PutRun(context.Background(), rec))

	s := step(t, h, advance.Input{State: statemachine.State{Run: "api-1"}})
	s = step(t, h, answered(s, item(t, s), `{"artifact":{"bucket":"artifacts","key":"untrusted/api-1/source.zip"}}`, nil))
	assert.Equal(t, statemachine.RouteDone, s.Route, "the build is never started: %+v", s)
	rec, err = db.GetRun(context.Background(), "api-1")
	require.NoError(t, err)
	assert.Contains(t, rec.State.Stages[1].Actions[0].Message, "names project stepline-deployer: an untrusted run builds only in the stack's untrusted project")

	_, err = advance.CodeBuildRequest(advance.Config{Bucket: "artifacts", Project: "stepline-build"}, task)
	require.NoError(t, err, "a trusted run may name its project")
}
