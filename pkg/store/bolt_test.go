package store_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/store"
	"github.com/stepline/stepline/pkg/store/storetest"
)

func TestBoltMeetsTheStoreContract(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store {
		return store.NewBolt(filepath.Join(t.TempDir(), "history.db"))
	})
}

func record(pipeline, id string, seq int64, status engine.Status) store.Record {
	def := engine.Definition{Pipeline: pipeline, Stages: []engine.Stage{{Name: "Build",
		Actions: []engine.Action{{Name: "Build", Provider: "local"}}}}}
	st := engine.New(def, engine.RunInfo{ID: id, Seq: seq})
	st.Status, st.Started = status, 1000*seq
	return store.Record{Definition: def, State: st, Updated: time.Unix(seq, 0).UTC()}
}

func TestBoltReadsAMissingFileAsAnEmptyHistoryWithoutCreatingIt(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state", "history.db")
	s := store.NewBolt(path)

	_, err := s.GetRun(t.Context(), "r1")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.LastSucceeded(t.Context(), testScope("api"))
	require.ErrorIs(t, err, store.ErrNotFound)
	recs, err := s.ListRuns(t.Context(), store.Filter{})
	require.NoError(t, err)
	assert.Empty(t, recs)
	assert.NoDirExists(t, filepath.Dir(path))
}

func TestBoltCreatesTheFileAndItsDirectoryOnFirstWrite(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state", "history.db")

	require.NoError(t, store.NewBolt(path).PutRun(t.Context(), record("api", "r1", 1, engine.Succeeded)))

	assert.FileExists(t, path)
	got, err := store.NewBolt(path).GetRun(t.Context(), "r1")
	require.NoError(t, err)
	assert.Equal(t, "r1", got.ID())
}

func TestBoltFailsWithErrBusyNamingTheFileWhileAnotherProcessWritesIt(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "history.db")
	s := store.NewBolt(path, store.WithTimeout(100*time.Millisecond))
	require.NoError(t, s.PutRun(t.Context(), record("api", "r1", 1, engine.Succeeded)))
	// bbolt's lock is a flock on its own file description, so a second open in this process
	// stands in for another stepline process in the middle of a write.
	other, err := bolt.Open(path, 0o644, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = other.Close() })

	start := time.Now()
	_, err = s.GetRun(t.Context(), "r1")

	require.ErrorIs(t, err, store.ErrBusy)
	assert.ErrorContains(t, err, path)
	assert.ErrorContains(t, err, "another stepline process holds it")
	assert.Less(t, time.Since(start), 5*time.Second, "the timeout option is used")
	require.ErrorIs(t, s.PutRun(t.Context(), record("api", "r2", 2, engine.Succeeded)), store.ErrBusy)
}

func TestBoltReadsWhileAnotherProcessReadsButWaitsToWrite(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "history.db")
	s := store.NewBolt(path, store.WithTimeout(100*time.Millisecond))
	require.NoError(t, s.PutRun(t.Context(), record("api", "r1", 1, engine.Succeeded)))
	reader, err := bolt.Open(path, 0o644, &bolt.Options{ReadOnly: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = reader.Close() })

	recs, err := s.ListRuns(t.Context(), store.Filter{})
	require.NoError(t, err, "readers share the lock")
	assert.Len(t, recs, 1)
	_, err = s.NextSeq(t.Context(), testScope("api"))
	require.ErrorIs(t, err, store.ErrBusy, "a writer needs the lock alone")
}

func TestBoltStoresSharingOneFileNeverShareARunNumber(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "history.db")
	// Two Bolts have separate mutexes, so only the file lock keeps them apart, as between
	// two processes.
	stores := []*store.Bolt{store.NewBolt(path), store.NewBolt(path)}
	var mu sync.Mutex
	var got []int64
	var wg sync.WaitGroup
	for _, s := range stores {
		wg.Go(func() {
			for range 10 {
				n, err := s.NextSeq(t.Context(), testScope("api"))
				assert.NoError(t, err)
				mu.Lock()
				got = append(got, n)
				mu.Unlock()
			}
		})
	}
	wg.Wait()

	slices.Sort(got)
	want := make([]int64, 20)
	for i := range want {
		want[i] = int64(i + 1)
	}
	assert.Equal(t, want, got)
}

func TestBoltListsOnePipelineWithoutDecodingTheOthers(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "history.db")
	s := store.NewBolt(path)
	for i := int64(1); i <= 3; i++ {
		require.NoError(t, s.PutRun(t.Context(), record("api", fmt.Sprintf("api-%d", i), i, engine.Succeeded)))
		require.NoError(t, s.PutRun(t.Context(), record("web", fmt.Sprintf("web-%d", i), i, engine.Succeeded)))
	}
	// Spoil web's records: a list of api that decoded them would fail.
	db, err := bolt.Open(path, 0o644, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		runs := tx.Bucket([]byte("runs"))
		for i := 1; i <= 3; i++ {
			if err := runs.Put(fmt.Appendf(nil, "web-%d", i), []byte("{not json")); err != nil {
				return err
			}
		}
		return nil
	}))
	require.NoError(t, db.Close())

	recs, err := s.ListRuns(t.Context(), store.Filter{Pipeline: "api", Limit: 2})
	require.NoError(t, err)
	assert.Len(t, recs, 2)
	last, err := s.LastSucceeded(t.Context(), testScope("api"))
	require.NoError(t, err)
	assert.Equal(t, "api-3", last.ID())
	_, err = s.ListRuns(t.Context(), store.Filter{})
	require.ErrorContains(t, err, "decode run web-", "the spoiled records are really there")
}

func TestBoltKeepsTheHistoryInOneFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := store.NewBolt(filepath.Join(dir, "history.db"))
	require.NoError(t, s.PutRun(t.Context(), record("api", "r1", 1, engine.Succeeded)))
	_, err := s.Acquire(t.Context(), testScope("api"), "Build", engine.ModeQueued, "r1", 1)
	require.NoError(t, err)

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no lock or journal files beside it")
}

// testScope is the scope of record's runs of pipeline, which name no repository or branch.
func testScope(pipeline string) store.Scope { return store.Scope{Pipeline: pipeline} }

// oldStore writes a history file as stepline wrote it before runs were scoped: counters,
// lanes and succeeded runs keyed by the pipeline name alone.
func oldStore(t *testing.T, path string, recs ...store.Record) {
	t.Helper()
	writeHistory(t, path, []string{"runs", "seq", "lanes", "by_time", "pipeline", "succeeded"},
		func(r store.Record) string { return r.Pipeline() }, recs, func(bk map[string]*bolt.Bucket) error {
			require.NoError(t, bk["seq"].Put([]byte("api"), []byte("2")))
			lane, _ := json.Marshal(engine.Lane{Holder: "api-2"})
			return bk["lanes"].Put([]byte("api\x00Deploy"), lane)
		})
}

// writeHistory writes recs into a new bbolt file at path as an older stepline did: whole
// records in runs, their index entries in by_time, pipeline and the last of names (succeeded
// runs only, keyed by succeededBy), then whatever more does.
func writeHistory(t *testing.T, path string, names []string, succeededBy func(store.Record) string, recs []store.Record, more func(map[string]*bolt.Bucket) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o644, nil)
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		bk := map[string]*bolt.Bucket{}
		for _, name := range names {
			b, err := tx.CreateBucket([]byte(name))
			require.NoError(t, err)
			bk[name] = b
		}
		succeeded := bk[names[len(names)-1]]
		for _, r := range recs {
			data, err := json.Marshal(r)
			require.NoError(t, err)
			order := fmt.Sprintf("%020d%020d%s", r.State.Started, r.State.Seq, r.ID())
			require.NoError(t, bk["runs"].Put([]byte(r.ID()), data))
			require.NoError(t, bk["by_time"].Put([]byte(order), []byte(r.ID())))
			require.NoError(t, bk["pipeline"].Put([]byte(r.Pipeline()+"\x00"+order), []byte(r.ID())))
			if r.State.Status == engine.Succeeded {
				require.NoError(t, succeeded.Put([]byte(succeededBy(r)+"\x00"+order), []byte(r.ID())))
			}
		}
		if more == nil {
			return nil
		}
		return more(bk)
	}))
}

func TestBoltOpensAStoreFromBeforeScopedRunsAndMigratesIt(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "history.db")
	main := store.Scope{Repository: "/src/shop", Pipeline: "api", Branch: "main"}
	ok := record("api", "api-1", 1, engine.Succeeded)
	ok.Repo, ok.Branch = main.Repository, main.Branch
	ok.State.Artifacts = map[string]string{"bin": "/state/artifacts/api-1/bin.zip"}
	feature := record("api", "api-2", 2, engine.Succeeded) // newer, of another branch
	feature.Repo, feature.Branch = main.Repository, "feature/x"
	oldStore(t, path, ok, feature)
	s := store.NewBolt(path)

	last, err := s.LastSucceeded(t.Context(), main)
	require.NoError(t, err, "read before any write has migrated the file")
	assert.Equal(t, "api-1", last.ID())

	n, err := s.NextSeq(t.Context(), main)
	require.NoError(t, err)
	assert.Equal(t, int64(3), n, "numbering carries on from the pipeline's old counter")
	last, err = s.LastSucceeded(t.Context(), main)
	require.NoError(t, err, "after the write has migrated it")
	assert.Equal(t, "api-1", last.ID())
	last, err = s.LastSucceeded(t.Context(), store.Scope{Repository: "/src/shop", Pipeline: "api", Branch: "feature/x"})
	require.NoError(t, err)
	assert.Equal(t, "api-2", last.ID())

	g, err := s.Acquire(t.Context(), main, "Deploy", engine.ModeQueued, store.RunID(main, 3), 3)
	require.NoError(t, err)
	assert.True(t, g.Granted, "the old pipeline-wide lane is gone, not held forever")
	got, err := s.GetRun(t.Context(), "api-1")
	require.NoError(t, err)
	assert.Equal(t, ok.State.Artifacts, got.State.Artifacts)
	recs, err := s.ListRuns(t.Context(), store.Filter{Pipeline: "api"})
	require.NoError(t, err)
	assert.Len(t, recs, 2)

	db, err := bolt.Open(path, 0o644, &bolt.Options{ReadOnly: true})
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		assert.Nil(t, tx.Bucket([]byte("lanes")), "the pipeline-keyed lanes are dropped")
		assert.Nil(t, tx.Bucket([]byte("succeeded")), "the pipeline-keyed index is dropped")
		return nil
	}))
}

func TestBoltWritesARunsDefinitionOnceAndKeepsItThroughStateChanges(t *testing.T) {
	t.Parallel()
	s := store.NewBolt(filepath.Join(t.TempDir(), "history.db"))
	r := record("api", "r1", 1, engine.InProgress)
	require.NoError(t, s.PutRun(t.Context(), r))

	// A state change written with no definition at all: the store keeps the one written when
	// the run was created instead of encoding the whole pipeline again.
	changed := r
	changed.Definition = engine.Definition{}
	changed.State.Status = engine.Succeeded
	require.NoError(t, s.PutRun(t.Context(), changed))

	got, err := s.GetRun(t.Context(), "r1")
	require.NoError(t, err)
	assert.Equal(t, r.Definition, got.Definition)
	assert.Equal(t, engine.Succeeded, got.State.Status)
	recs, err := s.ListRuns(t.Context(), store.Filter{Pipeline: "api"})
	require.NoError(t, err)
	require.Len(t, recs, 1)
	assert.Equal(t, r.Definition, recs[0].Definition)
}

func TestBoltReplacesARunWithoutDecodingItsOldRecord(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "history.db")
	s := store.NewBolt(path)
	r := record("api", "r1", 1, engine.InProgress)
	require.NoError(t, s.PutRun(t.Context(), r))
	// Spoil the stored record: a PutRun that decoded it to find its old index keys would fail.
	db, err := bolt.Open(path, 0o644, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		// A run not done is kept apart from the history's runs.
		return tx.Bucket([]byte("active_runs")).Put([]byte("r1"), []byte("{not json"))
	}))
	require.NoError(t, db.Close())

	r.State.Status, r.State.Started = engine.Succeeded, 5000
	require.NoError(t, s.PutRun(t.Context(), r))

	recs, err := s.ListRuns(t.Context(), store.Filter{Pipeline: "api"})
	require.NoError(t, err)
	assert.Equal(t, []string{"r1"}, []string{recs[0].ID()}, "the old index entries are gone")
	assert.Len(t, recs, 1)
	last, err := s.LastSucceeded(t.Context(), testScope("api"))
	require.NoError(t, err)
	assert.Equal(t, int64(5000), last.State.Started)
	unfinished, err := s.ListRuns(t.Context(), store.Filter{Unfinished: true})
	require.NoError(t, err)
	assert.Empty(t, unfinished)
}

// scopedStore writes a history file as stepline wrote it before the unfinished index: whole
// records, scoped indexes, no index keys kept per run.
func scopedStore(t *testing.T, path string, recs ...store.Record) {
	t.Helper()
	writeHistory(t, path, []string{"runs", "counters", "scope_lanes", "by_time", "pipeline", "scope_succeeded"},
		func(r store.Record) string { return r.Scope().Key() }, recs, nil)
}

func TestBoltIndexesTheUnfinishedRunsOfAStoreFromBeforeTheIndex(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "history.db")
	running := record("api", "api-2", 2, engine.InProgress)
	scopedStore(t, path, record("api", "api-1", 1, engine.Succeeded), running, record("web", "web-1", 1, engine.Failed))
	s := store.NewBolt(path)

	recs, err := s.ListRuns(t.Context(), store.Filter{Pipeline: "api", Unfinished: true})
	require.NoError(t, err, "read before any write has migrated the file")
	assert.Equal(t, []string{"api-2"}, []string{recs[0].ID()})
	assert.Len(t, recs, 1)

	_, err = s.NextSeq(t.Context(), testScope("api"))
	require.NoError(t, err)
	recs, err = s.ListRuns(t.Context(), store.Filter{Unfinished: true})
	require.NoError(t, err, "after the write has migrated it")
	require.Len(t, recs, 1)
	assert.Equal(t, running.Definition, recs[0].Definition, "a whole record of the old form")

	running.State.Status = engine.Succeeded
	require.NoError(t, s.PutRun(t.Context(), running))
	recs, err = s.ListRuns(t.Context(), store.Filter{Unfinished: true})
	require.NoError(t, err)
	assert.Empty(t, recs)
	all, err := s.ListRuns(t.Context(), store.Filter{})
	require.NoError(t, err)
	assert.Len(t, all, 3, "no run listed twice")
	last, err := s.LastSucceeded(t.Context(), testScope("api"))
	require.NoError(t, err)
	assert.Equal(t, "api-2", last.ID())
	assert.Equal(t, running.Definition, last.Definition)
}

func TestBoltWritesAStateChangeMadeInPlaceAfterTheLastWrite(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "history.db")
	s := store.NewBolt(path)
	r := record("api", "r1", 1, engine.InProgress)
	require.NoError(t, s.PutRun(t.Context(), r))

	// The same backing array as the record written: what the store remembers of it must be
	// its own copy, or this change would look like no change.
	r.State.Stages[0].Actions[0].Status = engine.Succeeded
	require.NoError(t, s.PutRun(t.Context(), r))

	got, err := store.NewBolt(path).GetRun(t.Context(), "r1")
	require.NoError(t, err)
	assert.Equal(t, engine.Succeeded, got.State.Stages[0].Actions[0].Status)
}

func TestBoltRewritesARunAnotherProcessWroteSinceItsOwnLastWrite(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "history.db")
	mine, other := store.NewBolt(path), store.NewBolt(path) // two stepline processes
	r := record("api", "r1", 1, engine.InProgress)
	r.Logs = map[string]string{"Build/Build": "/logs/1"}
	require.NoError(t, mine.PutRun(t.Context(), r))

	theirs := r
	theirs.State.Stages = []engine.StageState{{Actions: []engine.ActionState{{Status: engine.Failed, Attempt: 1}}}}
	theirs.Logs = map[string]string{"Build/Build": "/logs/theirs"}
	require.NoError(t, other.PutRun(t.Context(), theirs))
	// Back to what this store wrote last: unchanged for it, but no longer what is stored.
	require.NoError(t, mine.PutRun(t.Context(), r))

	got, err := store.NewBolt(path).GetRun(t.Context(), "r1")
	require.NoError(t, err)
	assert.Equal(t, r.State.Stages, got.State.Stages)
	assert.Equal(t, r.Logs, got.Logs)
}

func TestBoltKeepsEachStagesLogsWithItAndOthersWithTheRun(t *testing.T) {
	t.Parallel()
	s := store.NewBolt(filepath.Join(t.TempDir(), "history.db"))
	r := record("api", "r1", 1, engine.InProgress)
	r.Logs = map[string]string{"Build/Build": "/logs/build", "Gone/Action": "/logs/gone", "no stage": "/logs/x"}
	require.NoError(t, s.PutRun(t.Context(), r))
	delete(r.Logs, "Build/Build")
	r.Logs["no stage"] = "/logs/y"
	require.NoError(t, s.PutRun(t.Context(), r))

	got, err := s.GetRun(t.Context(), "r1")
	require.NoError(t, err)
	assert.Equal(t, r.Logs, got.Logs)
}
