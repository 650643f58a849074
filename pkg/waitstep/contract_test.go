package waitstep

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/advance"
	"github.com/stepline/stepline/pkg/approval"
	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/pipeline"
	"github.com/stepline/stepline/pkg/statemachine"
	"github.com/stepline/stepline/pkg/store"
)

type noEvents struct{}

func (noEvents) Publish(context.Context, store.Record, []engine.Event) error { return nil }

// TestAdvanceReadsWhatTheApprovalRoutesAnswer drives functions/advance's handler through a
// run with one approval, feeding back what the Wait state would catch or return: the
// callback's approved output succeeds the run; ActionRejected (the callback's rejection) and
// ActionTimedOut (the deadline's expiry) fail it for good with their cause, never retried.
// The Wait state's item Advance produces is also what this package's handler accepts.
func TestAdvanceReadsWhatTheApprovalRoutesAnswer(t *testing.T) {
	t.Parallel()
	approved, _ := json.Marshal(approval.Output{Approved: true, Comment: "ok", Time: "2026-12-02T09:00:00Z"})
	cases := []struct {
		name    string
		output  json.RawMessage
		err     *statemachine.TaskError
		status  string
		message string
	}{
		{"an approval succeeds the run", approved, nil, "SUCCEEDED", ""},
		{"a rejection fails it with the comment", nil, &statemachine.TaskError{Error: statemachine.ErrActionRejected, Cause: "not on a Friday"}, "FAILED", "ActionRejected: not on a Friday"},
		{"an expiry fails it as timed out", nil, &statemachine.TaskError{Error: statemachine.ErrActionTimedOut, Cause: "the approval was not answered by its deadline"}, "FAILED", "ActionTimedOut: the approval was not answered by its deadline"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f, err := pipeline.Parse(".stepline.yml", []byte("version: 1\npipelines:\n  - name: api\n    execution_mode: parallel\n    stages:\n      - name: Release\n        actions:\n          - {name: Approve, provider: approval, timeout: 1h, message: \"Ship it?\"}\n"))
			require.NoError(t, err)
			p, err := f.Pipeline("")
			require.NoError(t, err)
			def := p.Definition()
			db := store.NewMemory()
			require.NoError(t, db.PutRun(ctx, store.Record{Definition: def, State: engine.New(def, engine.RunInfo{ID: "api-1", Seq: 1})}))
			h := advance.New(db, noEvents{}, nil, advance.Config{Bucket: "artifacts", Project: "build"}, advance.WithClock(func() time.Time { return testNow }))

			out, err := h.Handle(ctx, advance.Input{State: statemachine.State{Run: "api-1"}})
			require.NoError(t, err)
			require.Equal(t, statemachine.KindSource, out.Task.Kind)
			out, err = h.Handle(ctx, advance.Input{State: statemachine.State{Run: "api-1", Task: out.Task, Step: out.Step,
				Output: json.RawMessage(`{"artifact":{"bucket":"artifacts","key":"runs/api-1/source.zip"}}`)}})
			require.NoError(t, err)
			require.Equal(t, statemachine.RouteSingle, out.Route)
			require.Equal(t, statemachine.KindWait, out.Task.Kind)
			assert.Equal(t, 3600, out.Task.TimeoutSeconds)

			// The item is what the wait handler takes from the Wait state.
			r := newRig()
			started, err := r.h.Handle(lambdaCtx(), Input{Token: testToken, Run: "api-1", Task: out.Task})
			require.NoError(t, err)
			assert.Equal(t, "Release.Approve.1", started.Waiting)
			assert.Equal(t, testNow.Add(time.Hour).Add(time.Second-1).Truncate(time.Second).UTC(), *started.Expires)
			assert.Equal(t, "Ship it?", details[approval.RequestedDetail](t, r.bus, approval.DetailRequested)[0].Message)
			assert.Equal(t, "stepline", aws.ToString(r.sched.created[0].GroupName))

			out, err = h.Handle(ctx, advance.Input{State: statemachine.State{Run: "api-1", Task: out.Task, Step: out.Step, Output: c.output, Error: c.err}})
			require.NoError(t, err)
			assert.Equal(t, statemachine.RouteDone, out.Route, "never a retry")
			assert.Equal(t, c.status, out.Status)
			rec, err := db.GetRun(ctx, "api-1")
			require.NoError(t, err)
			assert.Contains(t, rec.State.Stages[len(rec.State.Stages)-1].Actions[0].Message, c.message)
		})
	}
}
