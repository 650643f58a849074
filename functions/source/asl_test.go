package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/advance"
	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/pipeline"
	"github.com/stepline/stepline/pkg/scm"
	"github.com/stepline/stepline/pkg/statemachine/asltest"
	"github.com/stepline/stepline/pkg/store"
)

type nopEvents struct{}

func (nopEvents) Publish(context.Context, store.Record, []engine.Event) error { return nil }

type nopSFN struct{}

func (nopSFN) SendTaskSuccess(context.Context, *sfn.SendTaskSuccessInput, ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error) {
	return &sfn.SendTaskSuccessOutput{}, nil
}

// TestTheStateMachineRunsTheRealSourceHandler executes pipeline.asl.json in the interpreter
// with Advance bound to pkg/advance and Source to this function's Handler (a forge on
// httptest, Secrets Manager on moto, S3 on gofakes3), and a fake CodeBuild that checks it is
// handed the zip the source step wrote.
func TestTheStateMachineRunsTheRealSourceHandler(t *testing.T) {
	w := newWorld(t)
	const hook = "hook-asl-0123456789ab"
	w.register(t, hook, scm.GitHub, "octo/api")

	f, err := pipeline.Parse(".stepline.yml", []byte("version: 1\npipelines:\n  - name: api\n    stages:\n      - name: Build\n        actions:\n          - {name: Build, provider: codebuild, buildspec: ci.yml, inputs: [source]}\n"))
	require.NoError(t, err)
	p, _ := f.Pipeline("")
	def := p.Definition()
	db := store.NewMemory()
	commit := strings.Repeat("ab", 20)
	require.NoError(t, db.PutRun(context.Background(), store.Record{Definition: def, State: engine.New(def, engine.RunInfo{ID: "api-1", Seq: 1}),
		Repo: "octo/api", Provider: scm.GitHub, Hook: hook, Commit: commit}))
	adv := advance.New(db, nopEvents{}, nopSFN{}, advance.Config{Bucket: bucket, Project: "stepline-build"},
		advance.WithClock(func() time.Time { return time.Unix(1_795_000_000, 0) }))

	advanceFn := func(in json.RawMessage) (any, error) {
		var req advance.Input
		require.NoError(t, json.Unmarshal(in, &req))
		return adv.Handle(context.Background(), req)
	}
	sourceFn := func(in json.RawMessage) (any, error) {
		var req Input
		if err := json.Unmarshal(in, &req); err != nil {
			return nil, asltest.NamedError{Name: errorType(err), Msg: err.Error()}
		}
		out, err := w.h.Handle(context.Background(), req)
		if err != nil {
			return nil, asltest.NamedError{Name: errorType(err), Msg: err.Error()}
		}
		return out, nil
	}
	var location string
	buildFn := func(in json.RawMessage) (any, error) {
		var req struct {
			Location string `json:"SourceLocationOverride"`
		}
		require.NoError(t, json.Unmarshal(in, &req))
		location = req.Location
		return map[string]any{"Build": map[string]any{"Id": "stepline-build:1", "BuildStatus": "SUCCEEDED"}}, nil
	}
	ex := asltest.Interpret(t, map[string]any{"run": "api-1"}, map[string]asltest.HandlerFunc{
		"Advance": advanceFn, "Source": sourceFn, "MapSource": sourceFn, "CodeBuild": buildFn, "MapCodeBuild": buildFn,
	})
	require.Empty(t, ex.Error, ex.Cause)
	assert.Equal(t, []string{"Advance", "Route", "Source", "Advance", "Route", "CodeBuild", "Advance", "Route", "Succeeded"}, ex.Entered)
	assert.Equal(t, bucket+"/runs/api-1/source.zip", location, "CodeBuild builds the zip the source step wrote")
	assert.Contains(t, zipModes(t, w.object(t, "runs/api-1/source.zip")), "bin/build.sh", "the archive's files are at the zip's root")
}
