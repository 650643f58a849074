package runops_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/runops"
	"github.com/stepline/stepline/pkg/store"
)

// localRun records a run of gated on main driven by steps in a bbolt history, its driver as
// given.
func localRun(t *testing.T, db *store.Bolt, id string, seq int64, driver *store.Driver, steps ...func(engine.Decision) []engine.Input) store.Record {
	t.Helper()
	return localRunOn(t, db, "main", id, seq, driver, steps...)
}

// localRunOn is localRun on branch.
func localRunOn(t *testing.T, db *store.Bolt, branch, id string, seq int64, driver *store.Driver, steps ...func(engine.Decision) []engine.Input) store.Record {
	t.Helper()
	def := gated()
	st, d, err := engine.Advance(def, engine.New(def, engine.RunInfo{ID: id, Seq: seq}), nil, engine.Time(1_795_000_000_000+seq))
	require.NoError(t, err)
	for _, step := range steps {
		st, d, err = engine.Advance(def, st, step(d), engine.Time(1_795_000_000_000+seq))
		require.NoError(t, err)
	}
	rec := store.Record{Definition: def, State: st, Repo: "/src/api", Branch: branch, Driver: driver}
	require.NoError(t, db.PutRun(context.Background(), rec))
	return rec
}

func TestLocalRefusesDecisionsNobodyWouldTakeAndEndsRunsWhoseDriverIsGone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	db := store.NewBolt(filepath.Join(dir, "stepline.db"))
	host, _ := os.Hostname()
	gone := &store.Driver{Host: host, PID: 0}
	op := runops.NewLocal(db, dir, nil, runops.WithWho("ana"))

	waiting := localRun(t, db, "api-1-aaaa", 1, gone, succeed, succeed)
	refusedWith(t, op.Approve(ctx, waiting.ID(), "Release", "Approve", ""), "the process driving it (pid 0) is gone")
	elsewhere := localRun(t, db, "api-2-bbbb", 2, &store.Driver{Host: host + "-other", PID: os.Getpid()}, succeed, succeed)
	refusedWith(t, op.Approve(ctx, elsewhere.ID(), "Release", "Approve", ""), "driven by a process on host "+host+"-other")
	refusedWith(t, op.Stop(ctx, elsewhere.ID(), false, ""), "stop it there")
	refusedWith(t, op.Stop(ctx, localRun(t, db, "api-4-dddd", 4, nil, succeed).ID(), true, ""), "no local process drives it")

	require.NoError(t, op.Stop(ctx, waiting.ID(), false, ""))
	rec, err := db.GetRun(ctx, waiting.ID())
	require.NoError(t, err)
	assert.Equal(t, engine.Canceled, rec.State.Status, "reclaimed: nobody drives it")
	assert.True(t, rec.Abandoned)

	refusedWith(t, op.Retry(ctx, localRun(t, db, "api-3-cccc", 3, gone, succeed, fail).ID(), "Build", false), "cannot drive local runs here")
	_, err = op.Start(ctx, "api", "main", "")
	refusedWith(t, err, "cannot drive local runs here")

	p, err := op.Runs(ctx, runops.Filter{Status: engine.Canceled})
	require.NoError(t, err)
	require.Len(t, p.Runs, 1)
	assert.Equal(t, waiting.ID(), p.Runs[0].ID())
	_, err = op.Runs(ctx, runops.Filter{Token: "api-9"})
	assert.ErrorContains(t, err, "names no run")
}

// slowDriver drives runs until release is closed; started is told each start.
type slowDriver struct {
	release chan struct{}
	resumed chan store.Record
}

func (d slowDriver) Resume(_ context.Context, rec store.Record, _ engine.Input) (engine.State, error) {
	d.resumed <- rec
	<-d.release
	return rec.State, nil
}

func (d slowDriver) Start(_ context.Context, _, _, _ string, started func(string)) (engine.State, error) {
	if started != nil {
		started("api-7-ffff")
	}
	<-d.release
	return engine.State{Run: "api-7-ffff", Status: engine.Succeeded}, nil
}

func TestLocalInTheBackgroundAnswersOnceTheRunIsUnderWay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	db := store.NewBolt(filepath.Join(dir, "stepline.db"))
	d := slowDriver{release: make(chan struct{}), resumed: make(chan store.Record, 1)}
	ended := make(chan string, 2)
	op := runops.NewLocal(db, dir, d, runops.WithBackground(ctx, func(id string, err error) {
		assert.NoError(t, err)
		ended <- id
	}))

	id, err := op.Start(ctx, "api", "main", "")
	require.NoError(t, err)
	assert.Equal(t, "api-7-ffff", id, "the id comes back while the run goes on")
	failed := localRun(t, db, "api-1-aaaa", 1, nil, succeed, fail)
	require.NoError(t, op.Retry(ctx, failed.ID(), "Build", false))
	assert.Equal(t, failed.ID(), (<-d.resumed).ID())
	assert.Empty(t, ended, "nothing has ended yet")
	close(d.release)
	got := []string{<-ended, <-ended}
	assert.ElementsMatch(t, []string{"api-7-ffff", "api-1-aaaa"}, got)
}

// resumeless is a driver that must not be asked to drive anything.
type resumeless struct{ t *testing.T }

func (d resumeless) Resume(context.Context, store.Record, engine.Input) (engine.State, error) {
	d.t.Error("a refused rollback reached the driver")
	return engine.State{}, nil
}

func (d resumeless) Start(context.Context, string, string, string, func(string)) (engine.State, error) {
	d.t.Error("a refused rollback started a run")
	return engine.State{}, nil
}

func TestARollbackOfAnUntrustedRunIsRefusedBeforeAnythingIsDriven(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	db := store.NewBolt(filepath.Join(dir, "stepline.db"))
	op := runops.NewLocal(db, dir, resumeless{t})
	untrusted := func(rec store.Record) store.Record {
		rec.Untrusted = true
		require.NoError(t, db.PutRun(ctx, rec))
		return rec
	}
	// Both of one scope (an untrusted run's branch), so only the verdict stands in the way.
	good := untrusted(localRun(t, db, "api-1-aaaa", 1, nil, succeed, succeed, succeed, succeed))
	require.Equal(t, engine.Succeeded, good.State.Status)
	bad := untrusted(localRun(t, db, "api-2-bbbb", 2, nil, succeed, succeed, succeed, fail))
	require.Equal(t, engine.Failed, bad.State.Status)

	refusedWith(t, op.Rollback(ctx, bad.ID(), "Release", good.ID()), "the run is untrusted")
	rec, err := db.GetRun(ctx, bad.ID())
	require.NoError(t, err)
	assert.Equal(t, bad.State, rec.State, "nothing reopened")

	fork := localRun(t, db, "api-3-cccc", 3, nil, succeed, succeed, succeed, fail)
	fork.State.Vars = map[string]map[string]string{"source": {"fork": "true"}}
	require.NoError(t, db.PutRun(ctx, fork))
	refusedWith(t, op.Rollback(ctx, fork.ID(), "Release", good.ID()), "the run is untrusted")
}
