// Package storetest is the contract every store.Store implementation must meet, as a test
// suite: an implementation's own test calls Run with a constructor of empty stores. Callers of
// a Store may then rely on exactly what the suite checks, whichever store they run against.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/store"
)

// Run runs the contract suite. newStore must return a new, empty store each time it is
// called; subtests run in parallel, each on its own store.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Helper()
	for _, tc := range []struct {
		name string
		test func(t *testing.T, s store.Store)
	}{
		{"NextSeq numbers a pipeline's runs from one", nextSeqCountsFromOne},
		{"NextSeq counts each pipeline on its own", nextSeqPerPipeline},
		{"NextSeq never hands out a number twice to concurrent callers", nextSeqConcurrent},
		{"GetRun returns the record PutRun was given", getReturnsWhatWasPut},
		{"PutRun replaces the record with the same id", putReplaces},
		{"GetRun answers only the exact id, never a run it prefixes", getIsExact},
		{"GetRun of a run's id is that run, even when ten longer ids start with it", getExactAmongLonger},
		{"GetRun reports a missing run as not found", getMissing},
		{"FindRun finds a run by a unique prefix of its id", findByPrefix},
		{"FindRun prefers an exact id over longer ids it prefixes", findPrefersExact},
		{"FindRun reports a prefix shared by several runs as ambiguous, naming them", findAmbiguous},
		{"FindRun names at most MaxMatches runs of a prefix many share", findAmbiguousMany},
		{"FindRun reports a prefix of no run as not found", findMissing},
		{"PutRun refuses a record without a run id or a pipeline", putRefusesIncomplete},
		{"ListRuns returns runs newest first by start time then seq", listOrder},
		{"ListRuns keeps only the filtered pipeline's runs", listFilter},
		{"ListRuns returns at most Limit runs, the newest ones", listLimit},
		{"ListRuns returns at most Limit runs, running and ended ones in one order", listLimitMixed},
		{"ListRuns of an empty store returns nothing and no error", listEmpty},
		{"ListRuns moves a replaced run to its new place without duplicating it", listAfterReplace},
		{"ListRuns with Unfinished returns only the runs not done, newest first", listUnfinished},
		{"ListRuns with Unfinished follows a run as it is replaced and ends", listUnfinishedAfterReplace},
		{"ListRuns with Branch and Status keeps only those runs, running and ended ones in one order", listBranchAndStatus},
		{"ListRuns after a run, page by page, lists what one call lists, filtered or not", listPages},
		{"ListRuns after a run that does not exist reports not found", listAfterMissing},
		{"ListRuns with Branch and Status follows a run as it is retried, ends and is rewritten", listFilterAfterReplace},
		{"Latest returns the newest run of every scope, newest first", latest},
		{"Latest follows the newest run as it is replaced, never an older run written again", latestAfterReplace},
		{"Latest returns one run for each of many scopes", latestManyScopes},
		{"LastSucceeded returns the newest succeeded run, skipping failed and running ones", lastSucceeded},
		{"LastSucceeded reports not found when no run has succeeded", lastSucceededNone},
		{"LastSucceeded follows a run's status as it is replaced", lastSucceededAfterReplace},
		{"Acquire grants a free lane", acquireFree},
		{"Acquire queues runs in arrival order in queued mode", acquireQueued},
		{"Acquire keeps only the newest waiter in superseded mode", acquireSuperseded},
		{"Acquire always grants in parallel mode", acquireParallel},
		{"Acquire asked twice by the same run changes nothing", acquireTwice},
		{"Release hands the lane to the next waiter", releaseHandsOver},
		{"Release by a waiter withdraws it from the queue", releaseWithdraws},
		{"Release of a lane nobody holds hands it to nobody", releaseFree},
		{"Lanes of different stages and pipelines are independent", lanesIndependent},
		{"Concurrent Acquire of one queued lane leaves exactly one holder", acquireConcurrentQueued},
		{"Concurrent Acquire of one superseded lane keeps one holder and the newest waiter", acquireConcurrentSuperseded},
		{"Every method refuses a canceled context", canceledContext},
		{"NextSeq keeps one sequence per repository and pipeline, whatever the branch or environment", nextSeqPerRepository},
		{"LastSucceeded never returns a run of another branch, environment, fork or repository", lastSucceededPerScope},
		{"LastSucceeded follows the environment, not the branch, of runs that have one", lastSucceededPerEnvironment},
		{"A feature branch's runs neither queue behind main nor supersede its waiting runs", lanesPerBranch},
		{"Lanes of different environments and repositories are independent", lanesPerEnvironmentAndRepository},
		{"Scopes whose names would run together in a plain key stay apart", scopesWithSeparatorsInNames},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.test(t, newStore(t))
		})
	}
}

// updated is a fixed time in UTC: records must come back equal, and a time in another
// location would not survive a JSON round trip as the same value.
var updated = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

var definition = engine.Definition{
	Pipeline: "api",
	Mode:     engine.ModeQueued,
	Stages: []engine.Stage{
		{Name: "Source", Actions: []engine.Action{{Name: "Source", Provider: engine.ProviderSource, Outputs: []string{"source"}}}},
		{Name: "Build", Actions: []engine.Action{{Name: "Build", Provider: "local", Inputs: []string{"source"},
			Config: map[string]any{"buildspec": "buildspec.yml"}, Timeout: time.Hour}}},
	},
}

// run builds the record of a run of pipeline on main of the repository acme/shop (its scope
// is scope(pipeline)); started is in Unix milliseconds.
func run(pipeline, id string, seq, started int64, status engine.Status) store.Record {
	def := definition
	def.Pipeline = pipeline
	st := engine.New(def, engine.RunInfo{ID: id, Seq: seq})
	st.Status = status
	st.Started = started
	return store.Record{Definition: def, State: st, Trigger: "manual", Updated: updated,
		Provider: "github", Repo: "acme/shop", Branch: "main"}
}

// scope is the scope of run's records of pipeline.
func scope(pipeline string) store.Scope {
	return store.Scope{Provider: "github", Repository: "acme/shop", Pipeline: pipeline, Branch: "main"}
}

func put(t *testing.T, s store.Store, recs ...store.Record) {
	t.Helper()
	for _, r := range recs {
		require.NoError(t, s.PutRun(t.Context(), r))
	}
}

func ids(recs []store.Record) []string {
	out := []string{}
	for _, r := range recs {
		out = append(out, r.ID())
	}
	return out
}

func list(t *testing.T, s store.Store, f store.Filter) []string {
	t.Helper()
	recs, err := s.ListRuns(t.Context(), f)
	require.NoError(t, err)
	return ids(recs)
}

func nextSeqCountsFromOne(t *testing.T, s store.Store) {
	for want := int64(1); want <= 3; want++ {
		got, err := s.NextSeq(t.Context(), scope("api"))
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
}

func nextSeqPerPipeline(t *testing.T, s store.Store) {
	for _, p := range []string{"api", "api", "web", "api", "web"} {
		_, err := s.NextSeq(t.Context(), scope(p))
		require.NoError(t, err)
	}
	api, err := s.NextSeq(t.Context(), scope("api"))
	require.NoError(t, err)
	web, err := s.NextSeq(t.Context(), scope("web"))
	require.NoError(t, err)
	assert.Equal(t, []int64{4, 3}, []int64{api, web})
}

func nextSeqConcurrent(t *testing.T, s store.Store) {
	const workers, each = 8, 10
	var mu sync.Mutex
	var got []int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				n, err := s.NextSeq(t.Context(), scope("api"))
				assert.NoError(t, err)
				mu.Lock()
				got = append(got, n)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(got)
	want := make([]int64, workers*each)
	for i := range want {
		want[i] = int64(i + 1)
	}
	assert.Equal(t, want, got)
}

func getReturnsWhatWasPut(t *testing.T, s store.Store) {
	r := run("api", "api-7-f00d", 7, 1_700_000_000_000, engine.InProgress)
	r.Repo, r.Trigger, r.Branch, r.Commit = "/src/api", "push", "main", "0123abcd"
	r.Logs = map[string]string{"Build/Build": "/logs/api-7/Build/Build.log"}
	r.State.Artifacts = map[string]string{"source": "/artifacts/api-7/source.zip"}
	r.State.Vars = map[string]map[string]string{"source": {"branch": "main"}}
	r.State.Stages[0].Status = engine.Succeeded
	put(t, s, r)

	got, err := s.GetRun(t.Context(), "api-7-f00d")

	require.NoError(t, err)
	assert.Equal(t, r, got)
	assert.Equal(t, "api-7-f00d", got.ID())
	assert.Equal(t, "api", got.Pipeline())
}

func putReplaces(t *testing.T, s store.Store) {
	r := run("api", "r1", 1, 100, engine.InProgress)
	put(t, s, r)
	r.State.Status = engine.Failed
	r.State.Message = "build failed"
	put(t, s, r)

	got, err := s.GetRun(t.Context(), "r1")

	require.NoError(t, err)
	assert.Equal(t, r, got)
	assert.Equal(t, []string{"r1"}, list(t, s, store.Filter{}))
}

func getIsExact(t *testing.T, s store.Store) {
	put(t, s, run("node-18", "node-18-1", 1, 100, engine.InProgress))

	for _, id := range []string{"node-1", "node-18-", "node", "n"} {
		got, err := s.GetRun(t.Context(), id)
		require.ErrorIs(t, err, store.ErrNotFound, "GetRun(%q) answered %q", id, got.ID())
		assert.NotErrorIs(t, err, store.ErrAmbiguous)
	}
}

func getExactAmongLonger(t *testing.T, s store.Store) {
	put(t, s, run("node", "node-1", 1, 100, engine.InProgress))
	for n := 10; n < 20; n++ {
		put(t, s, run("node", fmt.Sprintf("node-%d", n), int64(n), int64(100+n), engine.InProgress))
	}

	got, err := s.GetRun(t.Context(), "node-1")

	require.NoError(t, err)
	assert.Equal(t, "node-1", got.ID())
}

func findByPrefix(t *testing.T, s store.Store) {
	put(t, s, run("api", "7f3a9c", 1, 100, engine.Succeeded), run("api", "7e11b0", 2, 200, engine.Succeeded))

	got, err := finder(t, s).FindRun(t.Context(), "7f")

	require.NoError(t, err)
	assert.Equal(t, "7f3a9c", got.ID())
}

func findPrefersExact(t *testing.T, s store.Store) {
	put(t, s, run("api", "run-1", 1, 100, engine.Succeeded), run("api", "run-12", 12, 200, engine.Succeeded))

	short, err := finder(t, s).FindRun(t.Context(), "run-1")
	require.NoError(t, err)
	long, err := finder(t, s).FindRun(t.Context(), "run-12")
	require.NoError(t, err)

	assert.Equal(t, []string{"run-1", "run-12"}, []string{short.ID(), long.ID()})
}

func findAmbiguous(t *testing.T, s store.Store) {
	put(t, s, run("api", "run-10", 10, 100, engine.Succeeded), run("api", "run-11", 11, 200, engine.Succeeded),
		run("api", "run-2", 2, 50, engine.Succeeded))

	_, err := finder(t, s).FindRun(t.Context(), "run-1")

	require.ErrorIs(t, err, store.ErrAmbiguous)
	assert.NotErrorIs(t, err, store.ErrNotFound)
	var amb *store.AmbiguousError
	require.ErrorAs(t, err, &amb)
	assert.Equal(t, &store.AmbiguousError{Prefix: "run-1", Matches: []string{"run-10", "run-11"}}, amb)
	assert.Contains(t, err.Error(), `"run-1" matches run-10, run-11`)
}

func findAmbiguousMany(t *testing.T, s store.Store) {
	var want []string
	for n := 10; n < 10+store.MaxMatches+3; n++ {
		id := fmt.Sprintf("run-%d", n)
		put(t, s, run("api", id, int64(n), int64(n), engine.Succeeded))
		want = append(want, id)
	}

	_, err := finder(t, s).FindRun(t.Context(), "run-")

	var amb *store.AmbiguousError
	require.ErrorAs(t, err, &amb)
	assert.Equal(t, want[:store.MaxMatches], amb.Matches)
	assert.True(t, amb.More)
	assert.Contains(t, err.Error(), "and more")
}

func findMissing(t *testing.T, s store.Store) {
	_, err := finder(t, s).FindRun(t.Context(), "nope")
	require.ErrorIs(t, err, store.ErrNotFound, "in an empty store")

	put(t, s, run("api", "run-1", 1, 100, engine.Succeeded))
	for _, id := range []string{"nope", "run-10", "u", ""} {
		_, err := finder(t, s).FindRun(t.Context(), id)
		require.ErrorIs(t, err, store.ErrNotFound, "prefix %q", id)
	}
	got, err := finder(t, s).FindRun(t.Context(), "run-")
	require.NoError(t, err, "a prefix of exactly one run is found, not missing")
	assert.Equal(t, "run-1", got.ID())
}

// finder is s's prefix look-up, which every store provides for the command line.
func finder(t *testing.T, s store.Store) store.Finder {
	t.Helper()
	f, ok := s.(store.Finder)
	require.True(t, ok, "%T does not implement store.Finder", s)
	return f
}

func getMissing(t *testing.T, s store.Store) {
	_, err := s.GetRun(t.Context(), "nope")
	require.ErrorIs(t, err, store.ErrNotFound, "in an empty store")

	put(t, s, run("api", "run-1", 1, 100, engine.Succeeded))
	for _, id := range []string{"nope", "run-10", "run-", "u", ""} {
		_, err := s.GetRun(t.Context(), id)
		require.ErrorIs(t, err, store.ErrNotFound, "id %q", id)
	}
}

func putRefusesIncomplete(t *testing.T, s store.Store) {
	require.Error(t, s.PutRun(t.Context(), run("api", "", 1, 100, engine.InProgress)))
	require.Error(t, s.PutRun(t.Context(), run("", "r1", 1, 100, engine.InProgress)))
	assert.Empty(t, list(t, s, store.Filter{}))
}

func listOrder(t *testing.T, s store.Store) {
	put(t, s,
		run("api", "a", 1, 100, engine.Succeeded),
		run("web", "e", 1, 250, engine.Succeeded),
		run("api", "c", 3, 300, engine.InProgress),
		run("api", "d", 4, 200, engine.Failed),
		run("api", "b", 2, 300, engine.Succeeded),
		run("api", "z", 5, 0, engine.Pending), // not started yet: no start time
	)

	assert.Equal(t, []string{"c", "b", "e", "d", "a", "z"}, list(t, s, store.Filter{}))
}

func listFilter(t *testing.T, s store.Store) {
	// Pipeline names that prefix each other must not leak into each other's lists.
	put(t, s,
		run("api", "api-1", 1, 100, engine.Succeeded),
		run("ap", "ap-1", 1, 150, engine.Succeeded),
		run("api2", "api2-1", 1, 200, engine.Succeeded),
		run("api", "api-2", 2, 300, engine.Succeeded),
	)

	assert.Equal(t, []string{"api-2", "api-1"}, list(t, s, store.Filter{Pipeline: "api"}))
	assert.Equal(t, []string{"ap-1"}, list(t, s, store.Filter{Pipeline: "ap"}))
	assert.Empty(t, list(t, s, store.Filter{Pipeline: "a"}))
}

func listLimit(t *testing.T, s store.Store) {
	for i := int64(1); i <= 5; i++ {
		put(t, s, run("api", fmt.Sprintf("api-%d", i), i, 100*i, engine.Succeeded))
	}
	put(t, s, run("web", "web-1", 1, 1000, engine.Succeeded))

	assert.Equal(t, []string{"api-5", "api-4"}, list(t, s, store.Filter{Pipeline: "api", Limit: 2}))
	assert.Equal(t, []string{"web-1", "api-5", "api-4"}, list(t, s, store.Filter{Limit: 3}))
	assert.Len(t, list(t, s, store.Filter{Limit: 100}), 6)
}

func listLimitMixed(t *testing.T, s store.Store) {
	put(t, s,
		run("api", "api-1", 1, 100, engine.Succeeded),
		run("api", "api-2", 2, 200, engine.InProgress),
		run("web", "web-1", 1, 250, engine.InProgress),
		run("api", "api-3", 3, 300, engine.Failed),
		run("api", "api-4", 4, 400, engine.InProgress),
		run("api", "api-5", 5, 500, engine.Canceled),
	)

	assert.Equal(t, []string{"api-5", "api-4", "api-3"}, list(t, s, store.Filter{Pipeline: "api", Limit: 3}))
	assert.Equal(t, []string{"api-5", "api-4", "api-3", "web-1"}, list(t, s, store.Filter{Limit: 4}))
	assert.Equal(t, []string{"api-5", "api-4", "api-3", "api-2", "api-1"}, list(t, s, store.Filter{Pipeline: "api"}))
	assert.Equal(t, []string{"api-4", "api-2"}, list(t, s, store.Filter{Pipeline: "api", Unfinished: true}))
}

func listEmpty(t *testing.T, s store.Store) {
	recs, err := s.ListRuns(t.Context(), store.Filter{})
	require.NoError(t, err)
	assert.Empty(t, recs)
	recs, err = s.ListRuns(t.Context(), store.Filter{Pipeline: "api", Limit: 3})
	require.NoError(t, err)
	assert.Empty(t, recs)
}

func listAfterReplace(t *testing.T, s store.Store) {
	pending := run("api", "late", 2, 0, engine.Pending)
	put(t, s, pending, run("api", "early", 1, 100, engine.InProgress))
	require.Equal(t, []string{"early", "late"}, list(t, s, store.Filter{Pipeline: "api"}))

	started := pending
	started.State.Started = 200
	started.State.Status = engine.InProgress
	put(t, s, started)

	assert.Equal(t, []string{"late", "early"}, list(t, s, store.Filter{Pipeline: "api"}))
	assert.Equal(t, []string{"late", "early"}, list(t, s, store.Filter{}))
}

func listUnfinished(t *testing.T, s store.Store) {
	put(t, s,
		run("api", "api-ok", 1, 100, engine.Succeeded),
		run("api", "api-running", 2, 200, engine.InProgress),
		run("api", "api-failed", 3, 300, engine.Failed),
		run("web", "web-pending", 1, 0, engine.Pending),
		run("api", "api-canceled", 4, 400, engine.Canceled),
		run("api", "api-waiting", 5, 500, engine.InProgress),
		run("web", "web-superseded", 2, 600, engine.Superseded),
		run("web", "web-running", 3, 700, engine.InProgress),
	)

	assert.Equal(t, []string{"api-waiting", "api-running"}, list(t, s, store.Filter{Pipeline: "api", Unfinished: true}))
	assert.Equal(t, []string{"web-running", "api-waiting", "api-running", "web-pending"}, list(t, s, store.Filter{Unfinished: true}))
	assert.Equal(t, []string{"web-running", "api-waiting"}, list(t, s, store.Filter{Unfinished: true, Limit: 2}))
	assert.Empty(t, list(t, s, store.Filter{Pipeline: "worker", Unfinished: true}))
}

func listUnfinishedAfterReplace(t *testing.T, s store.Store) {
	r := run("api", "r1", 1, 0, engine.Pending)
	put(t, s, r)
	require.Equal(t, []string{"r1"}, list(t, s, store.Filter{Pipeline: "api", Unfinished: true}))

	r.State.Status, r.State.Started = engine.InProgress, 100 // its order moves
	put(t, s, r)
	require.Equal(t, []string{"r1"}, list(t, s, store.Filter{Pipeline: "api", Unfinished: true}), "listed once, at its new place")

	r.State.Status = engine.Succeeded
	put(t, s, r)
	assert.Empty(t, list(t, s, store.Filter{Pipeline: "api", Unfinished: true}))
	assert.Empty(t, list(t, s, store.Filter{Unfinished: true}))
	assert.Equal(t, []string{"r1"}, list(t, s, store.Filter{Pipeline: "api"}), "still in the history")

	r.State.Status = engine.InProgress // a record rewritten by hand, say
	put(t, s, r)
	assert.Equal(t, []string{"r1"}, list(t, s, store.Filter{Unfinished: true}))
}

func lastSucceeded(t *testing.T, s store.Store) {
	put(t, s,
		run("api", "old-ok", 1, 100, engine.Succeeded),
		run("api", "ok", 2, 200, engine.Succeeded),
		run("api", "failed", 3, 300, engine.Failed),
		run("api", "running", 4, 400, engine.InProgress),
		run("api", "superseded", 5, 500, engine.Superseded),
		run("web", "other-pipeline", 1, 600, engine.Succeeded),
	)

	got, err := s.LastSucceeded(t.Context(), scope("api"))

	require.NoError(t, err)
	assert.Equal(t, "ok", got.ID())
}

func lastSucceededNone(t *testing.T, s store.Store) {
	_, err := s.LastSucceeded(t.Context(), scope("api"))
	require.ErrorIs(t, err, store.ErrNotFound, "in an empty store")

	put(t, s, run("api", "failed", 1, 100, engine.Failed), run("web", "ok", 1, 100, engine.Succeeded))
	_, err = s.LastSucceeded(t.Context(), scope("api"))
	require.ErrorIs(t, err, store.ErrNotFound)
}

func lastSucceededAfterReplace(t *testing.T, s store.Store) {
	r := run("api", "r1", 1, 100, engine.InProgress)
	put(t, s, r)
	_, err := s.LastSucceeded(t.Context(), scope("api"))
	require.ErrorIs(t, err, store.ErrNotFound, "while running")

	r.State.Status = engine.Succeeded
	put(t, s, r)
	got, err := s.LastSucceeded(t.Context(), scope("api"))
	require.NoError(t, err)
	assert.Equal(t, engine.Succeeded, got.State.Status)

	r.State.Status = engine.Failed // a record rewritten by hand, say
	put(t, s, r)
	_, err = s.LastSucceeded(t.Context(), scope("api"))
	require.ErrorIs(t, err, store.ErrNotFound, "after it no longer says succeeded")
}

func acquire(t *testing.T, s store.Store, mode engine.Mode, run string, seq int64) engine.Grant {
	t.Helper()
	g, err := s.Acquire(t.Context(), scope("api"), "Deploy", mode, run, seq)
	require.NoError(t, err)
	return g
}

func release(t *testing.T, s store.Store, run string) string {
	t.Helper()
	next, err := s.Release(t.Context(), scope("api"), "Deploy", run)
	require.NoError(t, err)
	return next
}

func acquireFree(t *testing.T, s store.Store) {
	assert.Equal(t, engine.Grant{Granted: true}, acquire(t, s, engine.ModeQueued, "r1", 1))
}

func acquireQueued(t *testing.T, s store.Store) {
	require.True(t, acquire(t, s, engine.ModeQueued, "r1", 1).Granted)
	assert.Equal(t, engine.Grant{}, acquire(t, s, engine.ModeQueued, "r2", 2))
	assert.Equal(t, engine.Grant{}, acquire(t, s, engine.ModeQueued, "r3", 3))

	assert.Equal(t, []string{"r2", "r3", ""}, []string{release(t, s, "r1"), release(t, s, "r2"), release(t, s, "r3")})
}

func acquireSuperseded(t *testing.T, s store.Store) {
	require.True(t, acquire(t, s, engine.ModeSuperseded, "r1", 1).Granted)
	assert.Equal(t, engine.Grant{}, acquire(t, s, engine.ModeSuperseded, "r2", 2))

	g := acquire(t, s, engine.ModeSuperseded, "r3", 3)

	assert.Equal(t, engine.Grant{Superseded: []string{"r2"}}, g)
	assert.Equal(t, "r3", release(t, s, "r1"))
	assert.Empty(t, release(t, s, "r3"))
	// The lane is free again, but a superseded run that asks late (another process polling)
	// must still learn it was superseded, never be granted the stage after a newer run.
	assert.Equal(t, engine.Grant{Superseded: []string{"r2"}}, acquire(t, s, engine.ModeSuperseded, "r2", 2))
}

func acquireParallel(t *testing.T, s store.Store) {
	for i, r := range []string{"r1", "r2", "r3"} {
		assert.Equal(t, engine.Grant{Granted: true}, acquire(t, s, engine.ModeParallel, r, int64(i+1)))
	}
	assert.Empty(t, release(t, s, "r1"))
	// Parallel runs leave no trace, so a queued run finds the lane free.
	assert.True(t, acquire(t, s, engine.ModeQueued, "r4", 4).Granted)
}

func acquireTwice(t *testing.T, s store.Store) {
	require.True(t, acquire(t, s, engine.ModeQueued, "r1", 1).Granted)
	assert.True(t, acquire(t, s, engine.ModeQueued, "r1", 1).Granted)
	assert.Equal(t, engine.Grant{}, acquire(t, s, engine.ModeQueued, "r2", 2))
	assert.Equal(t, engine.Grant{}, acquire(t, s, engine.ModeQueued, "r2", 2))

	assert.Equal(t, "r2", release(t, s, "r1"))
	assert.Empty(t, release(t, s, "r2"), "r2 waited once, so nobody is left")
}

func releaseHandsOver(t *testing.T, s store.Store) {
	require.True(t, acquire(t, s, engine.ModeQueued, "r1", 1).Granted)
	require.False(t, acquire(t, s, engine.ModeQueued, "r2", 2).Granted)

	assert.Equal(t, "r2", release(t, s, "r1"))
	// r2 holds it now: a newcomer waits.
	assert.False(t, acquire(t, s, engine.ModeQueued, "r3", 3).Granted)
}

func releaseWithdraws(t *testing.T, s store.Store) {
	require.True(t, acquire(t, s, engine.ModeQueued, "r1", 1).Granted)
	require.False(t, acquire(t, s, engine.ModeQueued, "r2", 2).Granted)
	require.False(t, acquire(t, s, engine.ModeQueued, "r3", 3).Granted)

	assert.Empty(t, release(t, s, "r2"), "a waiter leaving hands nothing over")
	assert.Equal(t, "r3", release(t, s, "r1"))
}

func releaseFree(t *testing.T, s store.Store) {
	assert.Empty(t, release(t, s, "r1"))
	assert.True(t, acquire(t, s, engine.ModeQueued, "r2", 2).Granted)
}

func lanesIndependent(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, l := range []struct{ pipeline, stage string }{{"api", "Deploy"}, {"api", "Build"}, {"web", "Deploy"}} {
		g, err := s.Acquire(ctx, scope(l.pipeline), l.stage, engine.ModeQueued, "r-"+l.pipeline+l.stage, 1)
		require.NoError(t, err)
		assert.True(t, g.Granted, "%s/%s", l.pipeline, l.stage)
	}
	next, err := s.Release(ctx, scope("api"), "Build", "r-apiDeploy")
	require.NoError(t, err)
	assert.Empty(t, next)
	assert.False(t, acquire(t, s, engine.ModeQueued, "other", 2).Granted, "api/Deploy is still held")
}

// race starts n runs asking for one lane at once and returns their grants by run.
func race(t *testing.T, s store.Store, mode engine.Mode, n int) map[string]engine.Grant {
	var mu sync.Mutex
	grants := map[string]engine.Grant{}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := fmt.Sprintf("r%02d", i)
			g, err := s.Acquire(t.Context(), scope("api"), "Deploy", mode, r, int64(i+1))
			assert.NoError(t, err)
			mu.Lock()
			grants[r] = g
			mu.Unlock()
		})
	}
	wg.Wait()
	return grants
}

func holders(grants map[string]engine.Grant) []string {
	var out []string
	for r, g := range grants {
		if g.Granted {
			out = append(out, r)
		}
	}
	return out
}

func acquireConcurrentQueued(t *testing.T, s store.Store) {
	const n = 12
	grants := race(t, s, engine.ModeQueued, n)
	held := holders(grants)
	require.Len(t, held, 1)

	// Releasing in turn must hand the lane to every other run exactly once.
	served := []string{held[0]}
	for cur := held[0]; ; {
		next := release(t, s, cur)
		if next == "" {
			break
		}
		served = append(served, next)
		cur = next
	}
	slices.Sort(served)
	want := make([]string, n)
	for i := range want {
		want[i] = fmt.Sprintf("r%02d", i)
	}
	assert.Equal(t, want, served)
}

func acquireConcurrentSuperseded(t *testing.T, s store.Store) {
	const n = 12
	grants := race(t, s, engine.ModeSuperseded, n)
	held := holders(grants)
	require.Len(t, held, 1)

	superseded := map[string]bool{}
	for _, g := range grants {
		for _, r := range g.Superseded {
			assert.False(t, superseded[r], "%s superseded twice", r)
			superseded[r] = true
		}
	}
	assert.Len(t, superseded, n-2, "all but the holder and one waiter")
	// The waiter left is the newest run that does not hold the lane.
	newest := "r11"
	if held[0] == newest {
		newest = "r10"
	}
	assert.False(t, superseded[newest])
	assert.Equal(t, newest, release(t, s, held[0]))
}

func canceledContext(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	errs := map[string]error{}
	_, errs["NextSeq"] = s.NextSeq(ctx, scope("api"))
	errs["PutRun"] = s.PutRun(ctx, run("api", "r1", 1, 100, engine.InProgress))
	_, errs["GetRun"] = s.GetRun(ctx, "r1")
	_, errs["FindRun"] = finder(t, s).FindRun(ctx, "r")
	_, errs["ListRuns"] = s.ListRuns(ctx, store.Filter{})
	_, errs["LastSucceeded"] = s.LastSucceeded(ctx, scope("api"))
	_, errs["Acquire"] = s.Acquire(ctx, scope("api"), "Deploy", engine.ModeQueued, "r1", 1)
	_, errs["Release"] = s.Release(ctx, scope("api"), "Deploy", "r1")
	for method, err := range errs {
		assert.True(t, errors.Is(err, context.Canceled), "%s: got %v", method, err)
	}
	assert.Empty(t, list(t, s, store.Filter{}), "nothing was written")
}
