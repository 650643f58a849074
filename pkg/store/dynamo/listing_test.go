package dynamo

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/store"
)

// keysRead counts the keys BatchGetItem reads besides the requests countingAPI counts: the
// records a call decodes.
type keysRead struct {
	*countingAPI
	keys int
}

func (k *keysRead) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	for _, ka := range in.RequestItems {
		k.keys += len(ka.Keys)
	}
	return k.countingAPI.BatchGetItem(ctx, in, o...)
}

func (k *keysRead) take() (map[string]int, int) {
	n := k.keys
	k.keys = 0
	return k.countingAPI.take(), n
}

// onBranch is a run of pipeline api on branch.
func onBranch(id, branch string, seq int64, status engine.Status) store.Record {
	r := record("api", id, seq, 100*seq, status)
	r.Branch = branch
	return r
}

func TestPutRunPointsTheScopesNewestRunAndListsAnEndedRunByBranchAndStatus(t *testing.T) {
	t.Parallel()
	db, table := fakeTable(t)
	api := &keysRead{countingAPI: &countingAPI{dynamoAPI: db}}
	s := New(api, table)
	ctx := t.Context()
	r := onBranch("api-1", "main", 1, engine.InProgress)

	require.NoError(t, s.PutRun(ctx, r))
	n, _ := api.take()
	assert.Equal(t, map[string]int{"PutItem": 2}, n, "a state change: the run and its scope's pointer")

	r.State.Status = engine.Failed
	require.NoError(t, s.PutRun(ctx, r))
	n, _ = api.take()
	assert.Equal(t, map[string]int{"PutItem": 5}, n, "an end: the run, the pointer, its status, branch and both listed")

	for sk, partition := range map[string]string{
		listingSK(0): store.ListingKey("api", "", engine.Failed),
		listingSK(1): store.ListingKey("api", "main", ""),
		listingSK(2): store.ListingKey("api", "main", engine.Failed),
	} {
		item, err := s.get(ctx, listingPK+"api-1", sk)
		require.NoError(t, err)
		assert.Equal(t, partition, getS(item, attrSucceeded), sk)
		assert.NotContains(t, item, attrType, "out of the all index")
	}
	ptr, err := s.get(ctx, scopePK(r.Scope()), latestSK)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{attrType: typeLatest, attrRun: "api-1", attrOrder: orderKey(r)},
		map[string]string{attrType: getS(ptr, attrType), attrRun: getS(ptr, attrRun), attrOrder: getS(ptr, attrOrder)})
}

func TestListRunsOfABranchOrStatusReadsItsPageNotTheHistory(t *testing.T) {
	t.Parallel()
	db, table := fakeTable(t)
	api := &keysRead{countingAPI: &countingAPI{dynamoAPI: db}}
	s := New(api, table)
	ctx := t.Context()
	for i := int64(1); i <= 60; i++ {
		require.NoError(t, s.PutRun(ctx, onBranch(fmt.Sprintf("main-%d", i), "main", i, engine.Failed)))
	}
	require.NoError(t, s.PutRun(ctx, onBranch("dev-61", "dev", 61, engine.Succeeded)))
	require.NoError(t, s.PutRun(ctx, onBranch("dev-62", "dev", 62, engine.InProgress)))
	for i := int64(63); i <= 80; i++ {
		require.NoError(t, s.PutRun(ctx, onBranch(fmt.Sprintf("main-%d", i), "main", i, engine.Failed)))
	}
	require.NoError(t, s.PutRun(ctx, onBranch("dev-81", "dev", 81, engine.Failed)))
	api.take()

	recs, err := s.ListRuns(ctx, store.Filter{Pipeline: "api", Branch: "dev", Limit: 2})
	require.NoError(t, err)
	assert.Equal(t, []string{"dev-81", "dev-62"}, ids(recs))
	_, keys := api.take()
	assert.LessOrEqual(t, keys, 3, "the running run and a page of the listing")

	recs, err = s.ListRuns(ctx, store.Filter{Pipeline: "api", Branch: "dev", Limit: 2, After: "dev-62"})
	require.NoError(t, err)
	assert.Equal(t, []string{"dev-61"}, ids(recs))
	_, keys = api.take()
	assert.LessOrEqual(t, keys, 2, "the page after dev-62")

	recs, err = s.ListRuns(ctx, store.Filter{Pipeline: "api", Status: engine.Succeeded, Limit: 5})
	require.NoError(t, err)
	assert.Equal(t, []string{"dev-61"}, ids(recs))
	_, keys = api.take()
	assert.Equal(t, 1, keys, "no run of another status is read")

	recs, err = s.ListRuns(ctx, store.Filter{Pipeline: "api", Limit: 3, After: "main-70"})
	require.NoError(t, err)
	assert.Equal(t, []string{"main-69", "main-68", "main-67"}, ids(recs))
	_, keys = api.take()
	assert.Equal(t, 3, keys, "a page in the middle of the history reads that page")
}

func TestLatestReadsOneRunPerScope(t *testing.T) {
	t.Parallel()
	db, table := fakeTable(t)
	api := &keysRead{countingAPI: &countingAPI{dynamoAPI: db}}
	s := New(api, table)
	ctx := t.Context()
	for i := int64(1); i <= 90; i++ {
		require.NoError(t, s.PutRun(ctx, onBranch(fmt.Sprintf("api-%d", i), fmt.Sprintf("b%d", i%3), i, engine.Succeeded)))
	}
	api.take()

	recs, err := s.Latest(ctx)

	require.NoError(t, err)
	assert.Equal(t, []string{"api-90", "api-89", "api-88"}, ids(recs))
	n, keys := api.take()
	assert.Equal(t, map[string]int{"Query": 1, "BatchGetItem": 1}, n)
	assert.Equal(t, 3, keys)
}

func TestLatestOfATableFromBeforeThePointersReadsItsRuns(t *testing.T) {
	t.Parallel()
	db, table := fakeTable(t)
	s := New(db, table)
	ctx := t.Context()
	for i := int64(1); i <= 6; i++ {
		require.NoError(t, s.PutRun(ctx, onBranch(fmt.Sprintf("api-%d", i), fmt.Sprintf("b%d", i%2), i, engine.Succeeded)))
	}
	for _, b := range []string{"b0", "b1"} {
		_, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &table,
			Key: key(scopePK(onBranch("x", b, 1, engine.Succeeded).Scope()), latestSK)})
		require.NoError(t, err)
	}

	recs, err := s.Latest(ctx)

	require.NoError(t, err)
	assert.Equal(t, []string{"api-6", "api-5"}, ids(recs))
}
