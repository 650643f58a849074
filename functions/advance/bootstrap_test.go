package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/awstest"
	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/lambdatest"
	"github.com/stepline/stepline/pkg/pipeline"
	"github.com/stepline/stepline/pkg/statemachine"
	"github.com/stepline/stepline/pkg/store"
	"github.com/stepline/stepline/pkg/store/dynamo"
	"github.com/stepline/stepline/pkg/store/dynamo/dynamotest"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// TestTheBootstrapStartsARunFromItsSampleEvent runs the real bootstrap under the Runtime API
// harness against DynamoDB and EventBridge on moto: events/advance/start.json names a run the
// trigger step created, and the answer is the first wave, the source, routed straight to its
// state.
func TestTheBootstrapStartsARunFromItsSampleEvent(t *testing.T) {
	moto := awstest.StartMoto(t)
	ctx := context.Background()
	table := dynamotest.TableAndBus(t, moto, "advance")
	ddb := dynamodb.NewFromConfig(moto.Config())
	var err error

	f, err := pipeline.Parse(".stepline.yml", []byte("version: 1\npipelines:\n  - name: api\n    stages:\n      - name: Build\n        actions:\n          - {name: Build, provider: codebuild, inputs: [source]}\n"))
	require.NoError(t, err)
	p, _ := f.Pipeline("")
	def := p.Definition()
	require.NoError(t, dynamo.New(ddb, table).PutRun(ctx, store.Record{Definition: def,
		State: engine.New(def, engine.RunInfo{ID: "api-1", Seq: 1}), Repo: "octo/api", Provider: "github", Hook: "hook-0123456789abcdef", Commit: "c0ffee"}))

	fn := lambdatest.Start(t, lambdatest.Build(t, "."), map[string]string{
		"STEPLINE_TABLE": table, "STEPLINE_EVENT_BUS": table, "STEPLINE_BUCKET": "artifacts", "STEPLINE_CODEBUILD_PROJECT": "stepline-build", "STEPLINE_CODEBUILD_UNTRUSTED_PROJECT": "stepline-untrusted",
		"AWS_ENDPOINT_URL": moto.Endpoint, "AWS_REGION": awstest.Region, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
	})
	event, err := os.ReadFile(filepath.Join("..", "..", "events", "advance", "start.json"))
	require.NoError(t, err)
	res, err := fn.Invoke(ctx, event)
	require.NoError(t, err)
	require.False(t, res.Failed(), "%s: %s", res.ErrorType, res.ErrorMessage)

	var out statemachine.State
	require.NoError(t, json.Unmarshal(res.Payload, &out))
	assert.Equal(t, statemachine.RouteSingle, out.Route)
	require.NotNil(t, out.Task)
	assert.Equal(t, statemachine.KindSource, out.Task.Kind)
	assert.Equal(t, "runs/api-1/source.zip", out.Task.Source.Key)
	t.Logf("advance: exec to first response %s", fn.FirstResponse().Round(time.Microsecond))

	// The sample event round-trips through the handler's input type.
	var in struct {
		Run string `json:"run"`
	}
	require.NoError(t, json.Unmarshal(event, &in))
	assert.Equal(t, "api-1", in.Run)
}

// TestTheBootstrapAbandonsTheRunOfTheSampleAbortedExecution delivers
// events/advance/execution-aborted.json, as ExecutionEndedRule would, to the real bootstrap:
// run api-1, which holds its Build stage, ends CANCELED and the stage is free again. The
// sample round-trips through aws-lambda-go's event type, and a malformed one is refused.
func TestTheBootstrapAbandonsTheRunOfTheSampleAbortedExecution(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "events", "advance", "execution-aborted.json"))
	require.NoError(t, err)
	var e events.CloudWatchEvent
	require.NoError(t, json.Unmarshal(raw, &e))
	again, err := json.Marshal(e)
	require.NoError(t, err)
	assert.JSONEq(t, string(raw), string(again))
	assert.Equal(t, statemachine.ExecutionStatusChange, e.DetailType)

	moto := awstest.StartMoto(t)
	ctx := context.Background()
	table := dynamotest.TableAndBus(t, moto, "ended")
	db := dynamo.New(dynamodb.NewFromConfig(moto.Config()), table)
	f, err := pipeline.Parse(".stepline.yml", []byte("version: 1\npipelines:\n  - name: api\n    execution_mode: queued\n    stages:\n      - name: Build\n        actions:\n          - {name: Build, provider: codebuild, inputs: [source]}\n"))
	require.NoError(t, err)
	p, _ := f.Pipeline("")
	def := p.Definition()
	st := engine.New(def, engine.RunInfo{ID: "api-1", Seq: 1})
	st, d, err := engine.Advance(def, st, nil, time.Unix(1_796_605_200, 0))
	require.NoError(t, err)
	require.Equal(t, "Source", d.Acquire)
	scope := store.Scope{Provider: "github", Repository: "octo/api", Pipeline: "api"} // the record below: no environment, no branch
	g, err := db.Acquire(ctx, scope, "Source", engine.ModeQueued, "api-1", 1)
	require.NoError(t, err)
	require.True(t, g.Granted)
	st, _, err = engine.Advance(def, st, []engine.Input{{Kind: engine.KindGranted, Stage: "Source"}}, time.Unix(1_796_605_201, 0))
	require.NoError(t, err)
	require.NoError(t, db.PutRun(ctx, store.Record{Definition: def, State: st, Repo: "octo/api", Provider: "github", Hook: "hook-0123456789abcdef", Commit: "c0ffee"}))

	fn := lambdatest.Start(t, lambdatest.Build(t, "."), map[string]string{
		"STEPLINE_TABLE": table, "STEPLINE_EVENT_BUS": table, "STEPLINE_BUCKET": "artifacts", "STEPLINE_CODEBUILD_PROJECT": "stepline-build", "STEPLINE_CODEBUILD_UNTRUSTED_PROJECT": "stepline-untrusted",
		"AWS_ENDPOINT_URL": moto.Endpoint, "AWS_REGION": awstest.Region, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
	})
	res, err := fn.Invoke(ctx, raw)
	require.NoError(t, err)
	require.False(t, res.Failed(), "%s: %s", res.ErrorType, res.ErrorMessage)

	rec, err := db.GetRun(ctx, "api-1")
	require.NoError(t, err)
	assert.Equal(t, engine.Canceled, rec.State.Status)
	assert.Equal(t, "the execution ended ABORTED outside the state machine's paths", rec.State.Message)
	g, err = db.Acquire(ctx, scope, "Source", engine.ModeQueued, "api-2", 2)
	require.NoError(t, err)
	assert.True(t, g.Granted, "the aborted run released its stage")

	res, err = fn.Invoke(ctx, []byte(`{"source":"aws.states","detail-type":"Step Functions Execution Status Change","detail":"nope"}`))
	require.NoError(t, err)
	assert.True(t, res.Failed(), "a malformed event is refused")
}
