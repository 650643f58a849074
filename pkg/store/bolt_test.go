package store_test

import (
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
	_, err = s.LastSucceeded(t.Context(), "api")
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
	_, err = s.NextSeq(t.Context(), "api")
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
				n, err := s.NextSeq(t.Context(), "api")
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
	last, err := s.LastSucceeded(t.Context(), "api")
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
	_, err := s.Acquire(t.Context(), "api", "Build", engine.ModeQueued, "r1", 1)
	require.NoError(t, err)

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no lock or journal files beside it")
}
