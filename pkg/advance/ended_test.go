package advance_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/advance"
	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/statemachine"
	"github.com/stepline/stepline/pkg/store"
)

// endedEvent is EventBridge's "Step Functions Execution Status Change" for the execution of
// run, shaped as events/advance/execution-aborted.json (the shape of
// https://docs.aws.amazon.com/step-functions/latest/dg/cw-events.html).
func endedEvent(t *testing.T, run, status string) advance.Input {
	t.Helper()
	input, _ := json.Marshal(fmt.Sprintf(`{"run":%q}`, run))
	raw := fmt.Sprintf(`{"version":"0","id":"315c1398-40ff-a850-213b-158f73e60175","detail-type":"Step Functions Execution Status Change",
	"source":"aws.states","account":"123456789012","time":"2026-12-07T01:02:03Z","region":"us-east-1",
	"resources":["arn:aws:states:us-east-1:123456789012:execution:stepline-pipeline:%[1]s"],
	"detail":{"executionArn":"arn:aws:states:us-east-1:123456789012:execution:stepline-pipeline:%[1]s",
	"stateMachineArn":"arn:aws:states:us-east-1:123456789012:stateMachine:stepline-pipeline","name":"%[1]s","status":%[2]q,
	"startDate":1796518800000,"stopDate":1796522400000,"input":%[3]s,"output":null,"inputDetails":{"included":true},
	"outputDetails":null,"error":"States.Timeout","cause":"The execution timed out"}}`, run, status, input)
	var in advance.Input
	require.NoError(t, json.Unmarshal([]byte(raw), &in))
	return in
}

// parkedBehind drives api-1 into Deploy (queued mode) and parks api-2 behind it, its task
// token handed over.
func parkedBehind(t *testing.T, x *fixture) (statemachine.State, statemachine.Item) {
	t.Helper()
	x.create("api-1", 1)
	x.create("api-2", 2)
	s1, ship := x.toDeploy("api-1")
	s2 := x.advance(advance.Input{State: statemachine.State{Run: "api-2"}})
	s2 = x.advance(answered(s2, item(t, s2), `{"artifact":{"bucket":"artifacts","key":"runs/api-2/source.zip"}}`, nil))
	s2 = x.advance(answered(s2, item(t, s2), buildOK, nil))
	park := item(t, s2)
	require.Equal(t, statemachine.KindPark, park.Kind, "Deploy is held by api-1")
	_, err := x.h.Handle(context.Background(), advance.Input{State: statemachine.State{Run: "api-2", Task: &park}, Park: true, Token: "token-api-2"})
	require.NoError(t, err)
	require.Empty(t, x.sfn.calls, "the lock is still held")
	return s1, ship
}

func TestAnExecutionThatEndedOutsideTheStateMachineReleasesItsLockAndWakesTheRunBehind(t *testing.T) {
	t.Parallel()
	for _, status := range statemachine.EndedStatuses() {
		t.Run(status, func(t *testing.T) {
			t.Parallel()
			x := newFixture(t)
			parkedBehind(t, x)
			before := len(x.pub.events)

			out, err := x.h.Handle(context.Background(), endedEvent(t, "api-1", status))
			require.NoError(t, err)
			assert.Equal(t, statemachine.State{}, out, "EventBridge reads no answer")

			rec, err := x.db.GetRun(context.Background(), "api-1")
			require.NoError(t, err)
			assert.Equal(t, engine.Canceled, rec.State.Status)
			assert.Equal(t, "the execution ended "+status+" outside the state machine's paths: States.Timeout: The execution timed out", rec.State.Message)
			require.Greater(t, len(x.pub.events), before)
			assert.Equal(t, "pipeline:CANCELED", lastEvent(x.pub.events), "the pipeline state change is published")

			require.Len(t, x.sfn.calls, 1, "the parked run behind is woken")
			assert.Equal(t, "AWSStepFunctions.SendTaskSuccess", x.sfn.calls[0].Target)
			assert.Equal(t, "token-api-2", x.sfn.calls[0].Body["taskToken"])
			assert.JSONEq(t, `{"granted":"Deploy"}`, x.sfn.calls[0].Body["output"])
		})
	}
}

// snapshot is what an event that ends no run must leave alone.
type snapshot struct {
	runs   []store.Record
	events int
	calls  int
}

func (x *fixture) snapshot() snapshot {
	x.t.Helper()
	var s snapshot
	for _, id := range []string{"api-1", "api-2"} {
		rec, err := x.db.GetRun(context.Background(), id)
		require.NoError(x.t, err)
		s.runs = append(s.runs, rec)
	}
	s.events, s.calls = len(x.pub.events), len(x.sfn.calls)
	return s
}

func TestExecutionEventsThatEndNoRunChangeNothing(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		// prepare runs after api-1 holds Deploy and api-2 waits; event is what arrives then.
		prepare func(t *testing.T, x *fixture, s1 statemachine.State, ship statemachine.Item)
		event   func(t *testing.T) advance.Input
	}{
		{"a second delivery of an event already handled",
			func(t *testing.T, x *fixture, _ statemachine.State, _ statemachine.Item) {
				_, err := x.h.Handle(context.Background(), endedEvent(t, "api-1", "ABORTED"))
				require.NoError(t, err)
			},
			func(t *testing.T) advance.Input { return endedEvent(t, "api-1", "ABORTED") }},
		{"a run that failed through Advance, whose execution then ends FAILED",
			func(t *testing.T, x *fixture, s1 statemachine.State, ship statemachine.Item) {
				s := x.advance(answered(s1, ship, "", &statemachine.TaskError{Error: "States.TaskFailed", Cause: `{"BuildStatus":"FAILED"}`}))
				require.Equal(t, statemachine.RouteDone, s.Route)
				require.Len(t, x.sfn.calls, 1, "the normal path released Deploy and woke api-2")
			},
			func(t *testing.T) advance.Input { return endedEvent(t, "api-1", "FAILED") }},
		{"an execution whose input names no run",
			nil,
			func(t *testing.T) advance.Input {
				in := endedEvent(t, "api-1", "ABORTED")
				in.Detail.Input = ptr(`{}`)
				return in
			}},
		{"an execution whose input EventBridge left out",
			nil,
			func(t *testing.T) advance.Input {
				in := endedEvent(t, "api-1", "ABORTED")
				in.Detail.Input = nil
				return in
			}},
		{"a run with no record", nil, func(t *testing.T) advance.Input { return endedEvent(t, "api-9", "TIMED_OUT") }},
		{"a run id that is only the prefix of runs", nil, func(t *testing.T) advance.Input { return endedEvent(t, "api-", "TIMED_OUT") }},
		{"an execution that succeeded", nil, func(t *testing.T) advance.Input { return endedEvent(t, "api-1", "SUCCEEDED") }},
		{"an event of another service", nil,
			func(t *testing.T) advance.Input {
				in := endedEvent(t, "api-1", "ABORTED")
				in.Source = "aws.codebuild"
				return in
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			x := newFixture(t)
			s1, ship := parkedBehind(t, x)
			if c.prepare != nil {
				c.prepare(t, x, s1, ship)
			}
			before := x.snapshot()
			_, err := x.h.Handle(context.Background(), c.event(t))
			require.NoError(t, err, "nothing to retry: the event is logged and dropped")
			assert.Equal(t, before, x.snapshot())
		})
	}
}

func TestAStoreThatCannotReadTheRunMakesTheEndedEventRetryable(t *testing.T) {
	t.Parallel()
	x := newFixture(t)
	x.create("api-1", 1)
	x.db.Fail = func(method string) error {
		if method == "GetRun" {
			return errors.New("ProvisionedThroughputExceededException")
		}
		return nil
	}
	_, err := x.h.Handle(context.Background(), endedEvent(t, "api-1", "ABORTED"))
	var unavailable *advance.AdvanceUnavailable
	require.ErrorAs(t, err, &unavailable, "an error makes Lambda retry the asynchronous invocation, then send it to the DLQ")
}

func ptr(s string) *string { return &s }

func lastEvent(evs []engine.Event) string {
	if len(evs) == 0 {
		return ""
	}
	e := evs[len(evs)-1]
	return strings.Join([]string{string(e.Type), e.State}, ":")
}
