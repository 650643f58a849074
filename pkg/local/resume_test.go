package local

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/store"
)

// A stop or an abandon queued while a run was driven, and never taken because the run ended
// first or its process died (then `stepline stop` reclaimed it), was meant for that driving:
// the retry that reopens the run must not be stopped by it.
func TestAResumedRunIsNotStoppedByARequestItsEarlierDrivingNeverTook(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := store.NewMemory()
	d := def(engine.ModeQueued)
	fails := true
	fake := &fakeExec{fn: func(context.Context, engine.Task) Outcome {
		if fails {
			return Outcome{Err: errors.New("flaky test"), Final: true}
		}
		return Outcome{}
	}}
	r := newTestRunner(t, d, st, fake, WithRequests(st))
	first, err := r.Run(ctx, "", Meta{Branch: "main"})
	require.NoError(t, err)
	require.Equal(t, engine.Failed, first.Status)
	require.NoError(t, st.PutRequest(ctx, first.Run, engine.Input{Kind: engine.KindCancel, Message: "abandoned by ana"}))

	fails = false
	rec, err := st.GetRun(ctx, first.Run)
	require.NoError(t, err)
	final, err := r.Resume(ctx, rec, engine.Input{Kind: engine.KindRetry, Stage: "Build", Who: "ana"})
	require.NoError(t, err)
	assert.Equal(t, engine.Succeeded, final.Status, final.Message)
	queued, err := st.TakeRequests(ctx, first.Run)
	require.NoError(t, err)
	assert.Empty(t, queued)
}
