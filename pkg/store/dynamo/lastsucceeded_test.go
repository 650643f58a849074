package dynamo

import (
	"context"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/store"
)

// countingAPI counts the requests of each kind it passes on.
type countingAPI struct {
	dynamoAPI
	mu sync.Mutex
	n  map[string]int
}

func (c *countingAPI) count(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[op]++
}

// take returns the counts so far and starts again from zero.
func (c *countingAPI) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n = nil
	return n
}

func (c *countingAPI) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.count("GetItem")
	return c.dynamoAPI.GetItem(ctx, in, o...)
}

func (c *countingAPI) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.count("PutItem")
	return c.dynamoAPI.PutItem(ctx, in, o...)
}

func (c *countingAPI) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.count("Query")
	return c.dynamoAPI.Query(ctx, in, o...)
}

func (c *countingAPI) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	c.count("BatchGetItem")
	return c.dynamoAPI.BatchGetItem(ctx, in, o...)
}

// A Query of a global secondary index costs what the index holds on moto and is eventually
// consistent on DynamoDB; the trigger asks for the rollback target at every start.
func TestLastSucceededIsTwoGetItemsOnceARunOfTheScopeSucceeded(t *testing.T) {
	t.Parallel()
	db, table := fakeTable(t)
	api := &countingAPI{dynamoAPI: db}
	s := New(api, table)
	ctx := t.Context()
	require.NoError(t, s.PutRun(ctx, record("api", "api-1", 1, 100, engine.Succeeded)))
	require.NoError(t, s.PutRun(ctx, record("api", "api-3", 3, 300, engine.Succeeded)))
	require.NoError(t, s.PutRun(ctx, record("api", "api-2", 2, 200, engine.Succeeded))) // finished last, started before api-3
	require.NoError(t, s.PutRun(ctx, record("api", "api-4", 4, 400, engine.Failed)))
	api.take()

	got, err := s.LastSucceeded(ctx, store.Scope{Pipeline: "api"})

	require.NoError(t, err)
	assert.Equal(t, "api-3", got.ID())
	assert.Equal(t, map[string]int{"GetItem": 2}, api.take())
}

func TestLastSucceededOfAScopeThatNeverSucceededQueriesOnceThenReadsOneItem(t *testing.T) {
	t.Parallel()
	db, table := fakeTable(t)
	api := &countingAPI{dynamoAPI: db}
	s := New(api, table)
	ctx := t.Context()
	require.NoError(t, s.PutRun(ctx, record("api", "api-1", 1, 100, engine.Failed)))
	api.take()

	for range 3 {
		_, err := s.LastSucceeded(ctx, store.Scope{Pipeline: "api"})
		require.ErrorIs(t, err, store.ErrNotFound)
	}
	assert.Equal(t, map[string]int{"GetItem": 3, "Query": 1, "PutItem": 1}, api.take(), "one query, then a pointer naming no run")

	require.NoError(t, s.PutRun(ctx, record("api", "api-2", 2, 200, engine.Succeeded)))
	got, err := s.LastSucceeded(ctx, store.Scope{Pipeline: "api"})
	require.NoError(t, err, "a success replaces the pointer naming none")
	assert.Equal(t, "api-2", got.ID())
}

// A table written before the pointer existed has succeeded runs and no pointer: the index
// answers once, and the pointer is written from its answer.
func TestLastSucceededFindsASuccessFromBeforeThePointerAndPointsAtIt(t *testing.T) {
	t.Parallel()
	db, table := fakeTable(t)
	api := &countingAPI{dynamoAPI: db}
	s := New(api, table)
	ctx := t.Context()
	require.NoError(t, s.PutRun(ctx, record("api", "api-1", 1, 100, engine.Succeeded)))
	_, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: key(scopePK(store.Scope{Pipeline: "api"}), lastSucceededSK)})
	require.NoError(t, err)
	api.take()

	got, err := s.LastSucceeded(ctx, store.Scope{Pipeline: "api"})
	require.NoError(t, err)
	assert.Equal(t, "api-1", got.ID())
	assert.Equal(t, 1, api.take()["Query"])

	got, err = s.LastSucceeded(ctx, store.Scope{Pipeline: "api"})
	require.NoError(t, err)
	assert.Equal(t, "api-1", got.ID())
	assert.Equal(t, map[string]int{"GetItem": 2}, api.take())
}
