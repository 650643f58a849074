package local

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/store"
)

func TestARunOfAnotherBranchDoesNotWaitBehindMainsLock(t *testing.T) {
	t.Parallel()
	st := store.NewMemory()
	ctx := context.Background()
	inside, release := make(chan struct{}), make(chan struct{})
	blocking := &fakeExec{fn: func(context.Context, engine.Task) Outcome {
		close(inside)
		<-release
		return Outcome{}
	}}
	mainDone := make(chan engine.State, 1)
	go func() {
		final, err := newTestRunner(t, def(engine.ModeQueued), st, blocking).Run(ctx, "", Meta{Repo: "/src/shop", Branch: "main"})
		assert.NoError(t, err)
		mainDone <- final
	}()
	<-inside // main's run holds Build

	featureDone := make(chan engine.State, 1)
	go func() {
		final, err := newTestRunner(t, def(engine.ModeQueued), st, &fakeExec{}).Run(ctx, "", Meta{Repo: "/src/shop", Branch: "feature/x"})
		assert.NoError(t, err)
		featureDone <- final
	}()
	select {
	case final := <-featureDone:
		assert.Equal(t, engine.Succeeded, final.Status)
	case <-time.After(10 * time.Second):
		t.Fatal("the feature branch's run waited behind main's lock")
	}
	close(release)
	assert.Equal(t, engine.Succeeded, (<-mainDone).Status)
}

func TestALocalRollbackGoesBackToItsOwnEnvironmentsLastSuccess(t *testing.T) {
	t.Parallel()
	st := store.NewMemory()
	ctx := context.Background()
	d := def(engine.ModeParallel)
	d.Stages[1].OnFailure = engine.FailurePolicy{Result: engine.Rollback}
	succeeded := func(id, repo, branch, env, src string, seq int64) store.Record {
		s := engine.New(d, engine.RunInfo{ID: id, Seq: seq, Variables: map[string]map[string]string{"env": {"name": env}}})
		s.Status, s.Started, s.Artifacts = engine.Succeeded, seq, map[string]string{"source": src}
		return store.Record{Definition: d, State: s, Repo: repo, Branch: branch}
	}
	for _, r := range []store.Record{
		succeeded("prod", "/src/shop", "main", "prod", "prod-source", 1),
		succeeded("feature", "/src/shop", "feature/x", "", "feature-source", 2),
		succeeded("staging", "/src/shop", "release/1", "staging", "staging-source", 3),
		succeeded("other-repo", "/src/blog", "main", "prod", "blog-source", 4),
	} {
		require.NoError(t, st.PutRun(ctx, r))
	}
	var rolledBackTo string
	fake := &fakeExec{fn: func(_ context.Context, task engine.Task) Outcome {
		if task.Rollback {
			rolledBackTo = task.Input("source")
			return Outcome{}
		}
		return Outcome{Err: errors.New("broken")}
	}}
	meta := Meta{Repo: "/src/shop", Branch: "main", Variables: func(string, int64) (map[string]map[string]string, error) {
		return map[string]map[string]string{"env": {"name": "prod"}}, nil
	}}

	final, err := newTestRunner(t, d, st, fake).Run(ctx, "", meta)

	require.NoError(t, err)
	assert.Equal(t, engine.Failed, final.Status)
	assert.Equal(t, "prod-source", rolledBackTo)
	assert.Equal(t, map[string]string{"source": "prod-source"}, final.Previous, "the run started with prod's last success too")
}
