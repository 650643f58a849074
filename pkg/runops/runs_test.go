package runops_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/runops"
	"github.com/stepline/stepline/pkg/store"
)

// TestRunsPagesWhatTheStoreListsAndNeverReadsTheRestOfTheHistory spoils the records of the
// runs no page asks for: reading the whole history, as a page cut in memory would, fails.
func TestRunsPagesWhatTheStoreListsAndNeverReadsTheRestOfTheHistory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "stepline.db")
	db := store.NewBolt(path)
	var spoiled []string
	for i := int64(1); i <= 40; i++ {
		branch, steps := "main", []func(engine.Decision) []engine.Input{succeed, fail}
		if i%10 == 0 {
			branch, steps = "dev", []func(engine.Decision) []engine.Input{succeed, succeed, succeed}
		}
		rec := localRunOn(t, db, branch, fmt.Sprintf("api-%d-aaaa", i), i, nil, steps...)
		if branch == "main" && i < 30 {
			spoiled = append(spoiled, rec.ID())
		}
	}
	spoil(t, path, spoiled...)
	op := runops.NewLocal(db, dir, nil)

	var got []string
	f := runops.Filter{Pipeline: "api", Branch: "dev", Limit: 3}
	for range 3 {
		p, err := op.Runs(ctx, f)
		require.NoError(t, err)
		for _, r := range p.Runs {
			got = append(got, r.ID())
		}
		if p.Next == "" {
			break
		}
		f.Token = p.Next
	}
	assert.Equal(t, []string{"api-40-aaaa", "api-30-aaaa", "api-20-aaaa", "api-10-aaaa"}, got, "two pages of a branch")

	p, err := op.Runs(ctx, runops.Filter{Pipeline: "api", Status: engine.Failed, Limit: 2})
	require.NoError(t, err)
	assert.Equal(t, []string{"api-39-aaaa", "api-38-aaaa"}, ids(p.Runs))
	assert.Equal(t, "api-38-aaaa", p.Next)

	latest, err := op.Latest(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"api-40-aaaa", "api-39-aaaa"}, ids(latest), "dev's newest run, then main's")

	_, err = op.Runs(ctx, runops.Filter{Pipeline: "api"})
	require.ErrorContains(t, err, "decode run", "the spoiled records are really there")
}

// spoil replaces the stored records of ids in the bbolt file at path by bytes no decoder
// takes.
func spoil(t *testing.T, path string, ids ...string) {
	t.Helper()
	db, err := bolt.Open(path, 0o644, nil)
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		for _, id := range ids {
			if err := tx.Bucket([]byte("runs")).Put([]byte(id), []byte("{not json")); err != nil {
				return err
			}
		}
		return nil
	}))
}

func ids(recs []store.Record) []string {
	out := []string{}
	for _, r := range recs {
		out = append(out, r.ID())
	}
	return out
}
