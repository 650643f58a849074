package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/stepline/stepline/pkg/engine"
)

// listed is a run of pipeline api on branch, started at seq seconds.
func listed(id, branch string, seq int64, status engine.Status) Record {
	def := engine.Definition{Pipeline: "api", Stages: []engine.Stage{{Name: "Build",
		Actions: []engine.Action{{Name: "Build", Provider: "local"}}}}}
	st := engine.New(def, engine.RunInfo{ID: id, Seq: seq})
	st.Status, st.Started = status, 1000*seq
	return Record{Definition: def, State: st, Branch: branch, Repo: "/src/shop", Updated: time.Unix(seq, 0).UTC()}
}

// beforeListings turns the file at path back into what stepline wrote before the listings
// and the scopes' newest runs: neither bucket, and no listing key among a run's index keys.
func beforeListings(t *testing.T, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o644, nil)
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketListing, bucketLatest} {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
		}
		for _, keys := range [][]byte{bucketRunKeys, bucketActiveKeys} {
			bk := tx.Bucket(keys)
			old := map[string][]byte{}
			if err := bk.ForEach(func(id, v []byte) error { old[string(id)] = bytes.Clone(v); return nil }); err != nil {
				return err
			}
			for id, v := range old {
				var kept []byte
				err := eachIndexKey(v, func(at int, k []byte) error {
					if at != 4 {
						kept = binary.AppendUvarint(append(kept, byte(at)), uint64(len(k)))
						kept = append(kept, k...)
					}
					return nil
				})
				if err != nil {
					return err
				}
				if err := bk.Put([]byte(id), kept); err != nil {
					return err
				}
			}
		}
		return nil
	}))
}

// spoil replaces the stored records of ids by bytes no decoder takes: a read that decoded
// them would fail.
func spoil(t *testing.T, path string, ids ...string) {
	t.Helper()
	db, err := bolt.Open(path, 0o644, nil)
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		for _, id := range ids {
			if err := tx.Bucket(bucketRuns).Put([]byte(id), []byte("{not json")); err != nil {
				return err
			}
		}
		return nil
	}))
}

// idsOf returns a function giving the ids of what ListRuns or Latest answered, failing t on
// an error.
func idsOf(t *testing.T) func([]Record, error) []string {
	return func(recs []Record, err error) []string {
		t.Helper()
		require.NoError(t, err)
		out := []string{}
		for _, r := range recs {
			out = append(out, r.ID())
		}
		return out
	}
}

func TestBoltListsABranchAndTheNewestRunsWithoutDecodingTheOthers(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "history.db")
	s := NewBolt(path)
	for i := int64(1); i <= 6; i++ {
		require.NoError(t, s.PutRun(t.Context(), listed(fmt.Sprintf("main-%d", i), "main", i, engine.Failed)))
	}
	require.NoError(t, s.PutRun(t.Context(), listed("dev-7", "dev", 7, engine.Succeeded)))
	require.NoError(t, s.PutRun(t.Context(), listed("main-8", "main", 8, engine.Succeeded)))
	spoil(t, path, "main-1", "main-2", "main-3", "main-4", "main-5", "main-6")

	ctx, ids := t.Context(), idsOf(t)
	assert.Equal(t, []string{"dev-7"}, ids(s.ListRuns(ctx, Filter{Pipeline: "api", Branch: "dev"})))
	assert.Equal(t, []string{"main-8", "dev-7"}, ids(s.ListRuns(ctx, Filter{Pipeline: "api", Status: engine.Succeeded})))
	assert.Equal(t, []string{"main-8", "dev-7"}, ids(s.Latest(ctx)))
	_, err := s.ListRuns(ctx, Filter{Pipeline: "api", Status: engine.Failed})
	require.ErrorContains(t, err, "decode run main-6", "the spoiled records are really there")
}

func TestBoltListsAndPointsTheRunsOfAStoreFromBeforeTheListings(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "history.db")
	s := NewBolt(path)
	running := listed("main-4", "main", 4, engine.InProgress)
	for _, r := range []Record{
		listed("main-1", "main", 1, engine.Succeeded),
		listed("dev-2", "dev", 2, engine.Failed),
		listed("main-3", "main", 3, engine.Failed),
		running,
	} {
		require.NoError(t, s.PutRun(t.Context(), r))
	}
	beforeListings(t, path)
	ctx, ids := t.Context(), idsOf(t)
	check := func(when string) {
		t.Helper()
		assert.Equal(t, []string{"main-4", "dev-2"}, ids(s.Latest(ctx)), when)
		assert.Equal(t, []string{"main-4", "main-3", "main-1"}, ids(s.ListRuns(ctx, Filter{Pipeline: "api", Branch: "main"})), when)
		assert.Equal(t, []string{"main-3", "dev-2"}, ids(s.ListRuns(ctx, Filter{Pipeline: "api", Status: engine.Failed})), when)
		assert.Equal(t, []string{"main-3"}, ids(s.ListRuns(ctx, Filter{Pipeline: "api", Branch: "main", Status: engine.Failed})), when)
	}
	check("read before any write has migrated the file")

	_, err := s.NextSeq(ctx, Scope{Pipeline: "api"})
	require.NoError(t, err)
	check("after the write has migrated it")

	spoil(t, path, "main-1", "main-3")
	assert.Equal(t, []string{"dev-2"}, ids(s.ListRuns(ctx, Filter{Pipeline: "api", Branch: "dev"})), "from the listing alone")
	running.State.Status = engine.Succeeded
	require.NoError(t, s.PutRun(ctx, running))
	assert.Equal(t, []string{"main-4", "dev-2"}, ids(s.Latest(ctx)), "from the pointers alone")
}
