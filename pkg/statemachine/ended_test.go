package statemachine_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/advance"
	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/statemachine/asltest"
)

const queuedPipeline = `version: 1
pipelines:
  - name: web
    execution_mode: queued
    stages:
      - name: Build
        actions:
          - {name: Build, provider: codebuild, buildspec: ci/build.yml, inputs: [source]}
`

// statusChange is what EventBridge delivers to the advance function (ExecutionEndedRule) when
// the execution of run ends with status: the shape of "Step Functions Execution Status
// Change" (https://docs.aws.amazon.com/step-functions/latest/dg/cw-events.html), sent
// through JSON as the Lambda runtime would.
func statusChange(t *testing.T, run, status string, ex asltest.Execution) advance.Input {
	t.Helper()
	input, _ := json.Marshal(map[string]string{"run": run})
	arn := "arn:aws:states:us-east-1:123456789012:execution:stepline-pipeline:" + run
	raw, err := json.Marshal(map[string]any{
		"version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718", "detail-type": "Step Functions Execution Status Change",
		"source": "aws.states", "account": "123456789012", "time": "2026-12-07T01:02:03Z", "region": "us-east-1",
		"resources": []string{arn},
		"detail": map[string]any{
			"executionArn": arn, "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:stepline-pipeline",
			"name": run, "status": status, "startDate": 1796518800000, "stopDate": 1796518860000,
			"input": string(input), "inputDetails": map[string]any{"included": true}, "output": nil, "outputDetails": nil,
			"error": ex.Error, "cause": ex.Cause,
		},
	})
	require.NoError(t, err)
	var in advance.Input
	require.NoError(t, json.Unmarshal(raw, &in))
	return in
}

// TestARunWhoseExecutionEndsOutsideTheStateMachineHandsItsLockToTheQueuedRun runs two
// executions of a queued pipeline in the interpreter: web-1 holds the Build stage while its
// build runs, web-2 parks behind it. web-1's execution then ends where no Catch reaches,
// either stopped (StopExecution) or by a States.Runtime error; the status change event
// EventBridge would deliver abandons web-1, and web-2 starts its build and succeeds.
func TestARunWhoseExecutionEndsOutsideTheStateMachineHandsItsLockToTheQueuedRun(t *testing.T) {
	for _, c := range []struct {
		name, status, error string
		// end is what web-1's build does once web-2 waits.
		end func() (any, error)
	}{
		{"stopped while its build runs", "ABORTED", asltest.Aborted, func() (any, error) { return nil, asltest.ErrAbort }},
		// A result without the Build object fails the state's ResultSelector: States.Runtime,
		// which no Catch catches.
		{"failed with States.Runtime", "FAILED", "States.Runtime", func() (any, error) { return map[string]any{}, nil }},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t, queuedPipeline)
			ctx := context.Background()

			building := make(chan struct{})
			end := make(chan struct{})
			first := w.handlers()
			first["CodeBuild"] = func(json.RawMessage) (any, error) {
				close(building)
				<-end
				return c.end()
			}
			one := make(chan asltest.Execution, 1)
			go func() { one <- asltest.Interpret(t, w.start("web-1", 1), first) }()
			<-building

			two := make(chan asltest.Execution, 1)
			go func() { two <- asltest.Interpret(t, w.start("web-2", 2), w.handlers()) }()
			waitForToken(t, w.db, "web-2")

			close(end)
			ex1 := <-one
			require.Equal(t, c.error, ex1.Error, "web-1's execution ended outside the Catch paths: %s", ex1.Cause)
			rec, err := w.db.GetRun(ctx, "web-1")
			require.NoError(t, err)
			require.Equal(t, engine.InProgress, rec.State.Status, "nothing in the state machine ended the run")

			out, err := w.adv.Handle(ctx, statusChange(t, "web-1", c.status, ex1))
			require.NoError(t, err)
			assert.Empty(t, out.Route)

			var ex2 asltest.Execution
			select {
			case ex2 = <-two:
			case <-time.After(20 * time.Second):
				t.Fatal("web-2 never got the Build stage: web-1 still holds it")
			}
			require.Empty(t, ex2.Error, ex2.Cause)
			assert.Equal(t, []string{"Advance", "Route", "Source", "Advance", "Route", "Park", "Advance", "Route", "CodeBuild", "Advance", "Route", "Succeeded"}, ex2.Entered)
			rec, err = w.db.GetRun(ctx, "web-1")
			require.NoError(t, err)
			assert.Equal(t, engine.Canceled, rec.State.Status)
			assert.Contains(t, rec.State.Message, "the execution ended "+c.status)
			rec, err = w.db.GetRun(ctx, "web-2")
			require.NoError(t, err)
			assert.Equal(t, engine.Succeeded, rec.State.Status)

			// A second delivery of the event changes nothing.
			events := len(w.events.all)
			_, err = w.adv.Handle(ctx, statusChange(t, "web-1", c.status, ex1))
			require.NoError(t, err)
			assert.Len(t, w.events.all, events)
		})
	}
}

// TestAMapIterationThatFailsAbandonsTheRunInsteadOfEndingTheExecution gives the Dispatch map
// a task kind it does not know, as a newer functions/advance might: the iteration fails
// (UnknownKind), the Map's Catch abandons the run, and the execution ends through Advance
// with the stage lock released.
func TestAMapIterationThatFailsAbandonsTheRunInsteadOfEndingTheExecution(t *testing.T) {
	w := newWorld(t, examplePipeline)
	h := w.handlers()
	real := h["Advance"]
	h["Advance"] = func(in json.RawMessage) (any, error) {
		out, err := real(in)
		if err != nil {
			return out, err
		}
		b, _ := json.Marshal(out)
		var m map[string]any
		require.NoError(t, json.Unmarshal(b, &m))
		if tasks, ok := m["tasks"].([]any); ok {
			tasks[1].(map[string]any)["kind"] = "mystery"
		}
		return m, nil
	}
	h["Abandon"] = real
	ex := asltest.Interpret(t, w.start("api-7", 7), h)
	assert.Equal(t, "PipelineCanceled", ex.Error, ex.Cause)
	assert.Contains(t, ex.Entered, "UnknownKind")
	assert.Equal(t, []string{"Abandon", "Route", "Canceled"}, ex.Entered[len(ex.Entered)-3:])
	rec, err := w.db.GetRun(context.Background(), "api-7")
	require.NoError(t, err)
	assert.Equal(t, engine.Canceled, rec.State.Status)
	assert.Contains(t, rec.State.Message, "UnknownKind")
	g, err := w.db.Acquire(context.Background(), w.scope(), "Build", engine.ModeSuperseded, "api-8", 8)
	require.NoError(t, err)
	assert.True(t, g.Granted, "the abandoned run released its stage")
}
