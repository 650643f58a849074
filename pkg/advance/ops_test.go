package advance_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/advance"
	"github.com/stepline/stepline/pkg/approval"
	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/pipeline"
	"github.com/stepline/stepline/pkg/statemachine"
	"github.com/stepline/stepline/pkg/store"
)

// failedBuild drives run to a failed Package build: the run ends FAILED in Build.
func (x *fixture) failedBuild(run string) {
	x.t.Helper()
	s := x.advance(advance.Input{State: statemachine.State{Run: run}})
	s = x.advance(answered(s, item(x.t, s), `{"artifact":{"bucket":"artifacts","key":"runs/`+run+`/source.zip"}}`, nil))
	s = x.advance(answered(s, item(x.t, s), "", &statemachine.TaskError{Error: "States.TaskFailed", Cause: `{"BuildStatus":"FAILED","Id":"stepline-build:1"}`}))
	require.Equal(x.t, statemachine.RouteDone, s.Route)
	require.Equal(x.t, "FAILED", s.Status)
}

func TestAnExecutionResumesAFailedRunWithARetry(t *testing.T) {
	t.Parallel()
	x := newFixture(t)
	x.create("api-1", 1)
	x.failedBuild("api-1")
	retry := engine.Input{Kind: engine.KindRetry, Stage: "Build", Who: "arn:aws:iam::123456789012:user/ana"}
	s := x.advance(advance.Input{State: statemachine.State{Run: "api-1"}, Resume: &retry})
	it := item(t, s)
	assert.Equal(t, "Package", it.Task.Action, "the failed build runs again in the new execution")
	assert.Equal(t, 2, it.Task.Attempt)
	rec, err := x.db.GetRun(context.Background(), "api-1")
	require.NoError(t, err)
	assert.Equal(t, engine.InProgress, rec.State.Status)

	_, err = x.h.Handle(context.Background(), advance.Input{State: statemachine.State{Run: "api-1"}, Resume: &engine.Input{Kind: engine.KindCancel}})
	assert.ErrorContains(t, err, "resumes a run with a retry or a rollback", "an execution input cannot cancel a run")
}

// A stop kept for the run's earlier execution and never taken (asked as its last step ran)
// belongs to the run that ended: `stepline stop` refuses an ended run, so no stop can be meant
// for the execution a retry starts before that execution's first step.
func TestAResumedRunIsNotStoppedByAStopItsEarlierExecutionNeverTook(t *testing.T) {
	t.Parallel()
	x := newFixture(t)
	x.create("api-1", 1)
	x.failedBuild("api-1")
	stop, _ := json.Marshal(engine.Input{Kind: engine.KindStop, Who: "ana", Message: "freeze"})
	require.NoError(t, x.db.PutToken(context.Background(), "api-1", advance.StopKey, string(stop), time.Unix(1_795_000_000, 0).Add(time.Hour)))

	retry := engine.Input{Kind: engine.KindRetry, Stage: "Build", Who: "arn:aws:iam::123456789012:user/ana"}
	s := x.advance(advance.Input{State: statemachine.State{Run: "api-1"}, Resume: &retry})
	s = x.advance(answered(s, item(t, s), buildOK, nil))
	assert.NotEqual(t, "CANCELED", s.Status, "the retried build's success goes on to the next stage")
	rec, err := x.db.GetRun(context.Background(), "api-1")
	require.NoError(t, err)
	assert.Empty(t, rec.State.Stopping)
	assert.Equal(t, engine.InProgress, rec.State.Status)
	_, err = x.db.Token(context.Background(), "api-1", advance.StopKey)
	assert.ErrorIs(t, err, store.ErrNotFound, "the stale request is gone")
}

func TestAStopAskedDuringAWaveIsAppliedWhenTheWaveReturns(t *testing.T) {
	t.Parallel()
	x := newFixture(t)
	x.create("api-1", 1)
	s, ship := x.toDeploy("api-1")
	stop, _ := json.Marshal(engine.Input{Kind: engine.KindStop, Who: "ana", Message: "freeze"})
	require.NoError(t, x.db.PutToken(context.Background(), "api-1", advance.StopKey, string(stop), time.Unix(1_795_000_000, 0).Add(time.Hour)))

	s = x.advance(answered(s, ship, buildOK, nil))
	assert.Equal(t, statemachine.RouteDone, s.Route)
	assert.Equal(t, "CANCELED", s.Status)
	rec, err := x.db.GetRun(context.Background(), "api-1")
	require.NoError(t, err)
	assert.Equal(t, "stopped by ana: freeze", rec.State.Message)
	assert.Equal(t, engine.Succeeded, rec.State.Stages[2].Actions[0].Status, "the running deploy finished")
	_, err = x.db.Token(context.Background(), "api-1", advance.StopKey)
	assert.ErrorIs(t, err, store.ErrNotFound, "the request is taken once")
}

const gatedPipeline = `version: 1
pipelines:
  - name: rel
    stages:
      - name: Release
        actions:
          - {name: Approve, provider: approval}
`

func TestAnApprovalAnswerRecordsWhoDecided(t *testing.T) {
	t.Parallel()
	f, err := pipeline.Parse(".stepline.yml", []byte(gatedPipeline))
	require.NoError(t, err)
	p, err := f.Pipeline("")
	require.NoError(t, err)
	for _, tc := range []struct {
		name   string
		output string
		err    *statemachine.TaskError
		status engine.Status
		msg    string
	}{
		{"an approval from the command line", `{"approved":true,"comment":"ok","time":"2026-12-07T01:00:00Z","by":"arn:aws:iam::123456789012:user/ana"}`, nil,
			engine.Succeeded, "approved by arn:aws:iam::123456789012:user/ana: ok"},
		{"an approval from the page", `{"approved":true,"comment":"fine","time":"2026-12-07T01:00:00Z"}`, nil, engine.Succeeded, "approved: fine"},
		{"a rejection from the command line", "", &statemachine.TaskError{Error: statemachine.ErrActionRejected,
			Cause: approval.Rejection{By: "arn:aws:iam::123456789012:user/bo", Comment: "no"}.Cause()}, engine.Failed, "rejected by arn:aws:iam::123456789012:user/bo: no"},
		{"a rejection from the page", "", &statemachine.TaskError{Error: statemachine.ErrActionRejected, Cause: "not today"}, engine.Failed, "ActionRejected: not today"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			x := newFixture(t)
			x.def = p.Definition()
			x.create("rel-1", 1)
			s := x.advance(advance.Input{State: statemachine.State{Run: "rel-1"}})
			s = x.advance(answered(s, item(t, s), `{"artifact":{"bucket":"artifacts","key":"runs/rel-1/source.zip"}}`, nil))
			gate := item(t, s)
			require.Equal(t, "Approve", gate.Task.Action)
			x.advance(answered(s, gate, tc.output, tc.err))
			rec, err := x.db.GetRun(context.Background(), "rel-1")
			require.NoError(t, err)
			as := rec.State.Stages[1].Actions[0]
			assert.Equal(t, tc.status, as.Status)
			assert.Contains(t, as.Message, tc.msg)
		})
	}
}

func TestTheEndOfAnExecutionARetryReplacedChangesNothing(t *testing.T) {
	t.Parallel()
	x := newFixture(t)
	x.create("api-1", 1)
	x.toDeploy("api-1")
	rec, err := x.db.GetRun(context.Background(), "api-1")
	require.NoError(t, err)
	rec.ExecutionARN = "arn:aws:states:us-east-1:123456789012:execution:stepline-pipeline:api-1-resume-1"
	require.NoError(t, x.db.PutRun(context.Background(), rec))

	_, err = x.h.Handle(context.Background(), endedEvent(t, "api-1", "FAILED"))
	require.NoError(t, err)
	rec, err = x.db.GetRun(context.Background(), "api-1")
	require.NoError(t, err)
	assert.Equal(t, engine.InProgress, rec.State.Status, "the newer execution drives the run")
}

func TestAStopExecutionFromTheCommandLineSaysWhoStoppedTheRun(t *testing.T) {
	t.Parallel()
	x := newFixture(t)
	x.create("api-1", 1)
	x.toDeploy("api-1")
	ev := endedEvent(t, "api-1", "ABORTED")
	ev.Detail.Error, ev.Detail.Cause = ptr(statemachine.ErrRunStopped), ptr("abandoned by arn:aws:iam::123456789012:user/ana: hung")
	_, err := x.h.Handle(context.Background(), ev)
	require.NoError(t, err)
	rec, err := x.db.GetRun(context.Background(), "api-1")
	require.NoError(t, err)
	assert.Equal(t, engine.Canceled, rec.State.Status)
	assert.Equal(t, "abandoned by arn:aws:iam::123456789012:user/ana: hung", rec.State.Message)
}
