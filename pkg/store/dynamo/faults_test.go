package dynamo

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/store"
)

// faulty passes calls through to a real client unless fail, asked with the operation's name,
// returns an error: the error the SDK hands back once its own retries are spent.
type faulty struct {
	dynamoAPI
	fail func(op string) error
}

func (f *faulty) GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	if err := f.fail("GetItem"); err != nil {
		return nil, err
	}
	return f.dynamoAPI.GetItem(ctx, in, optFns...)
}

func (f *faulty) PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if err := f.fail("PutItem"); err != nil {
		return nil, err
	}
	return f.dynamoAPI.PutItem(ctx, in, optFns...)
}

func (f *faulty) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if err := f.fail("UpdateItem"); err != nil {
		return nil, err
	}
	return f.dynamoAPI.UpdateItem(ctx, in, optFns...)
}

func (f *faulty) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	if err := f.fail("DeleteItem"); err != nil {
		return nil, err
	}
	return f.dynamoAPI.DeleteItem(ctx, in, optFns...)
}

func (f *faulty) Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	if err := f.fail("Query"); err != nil {
		return nil, err
	}
	return f.dynamoAPI.Query(ctx, in, optFns...)
}

func (f *faulty) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	if err := f.fail("BatchGetItem"); err != nil {
		return nil, err
	}
	return f.dynamoAPI.BatchGetItem(ctx, in, optFns...)
}

// throttleOn fails every call of op with a throttling error and counts them.
func throttleOn(op string, calls *int) func(string) error {
	var mu sync.Mutex
	return func(got string) error {
		if got != op {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		*calls++
		return &types.ProvisionedThroughputExceededException{Message: aws.String("The level of configured provisioned throughput for the table was exceeded")}
	}
}

func TestThrottledCallsFailWithContextAndLeaveNothingHalfWritten(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	stored := record("api", "api-1", 1, 100, engine.InProgress)
	for _, tc := range []struct {
		name string
		// op is the DynamoDB operation that is throttled.
		op    string
		setup func(t *testing.T, s *Store)
		call  func(s *Store) error
		// context is how the error begins.
		context string
		// check asserts, through a healthy store, that the table is as setup left it.
		check func(t *testing.T, s *Store)
	}{
		{
			name: "NextSeq hands out no number", op: "UpdateItem",
			call:    func(s *Store) error { _, err := s.NextSeq(ctx, testScope("api")); return err },
			context: "next seq of api: ",
			check: func(t *testing.T, s *Store) {
				n, err := s.NextSeq(ctx, testScope("api"))
				require.NoError(t, err)
				assert.EqualValues(t, 1, n)
			},
		},
		{
			name: "PutRun keeps the record stored before", op: "PutItem",
			setup: func(t *testing.T, s *Store) { require.NoError(t, s.PutRun(ctx, stored)) },
			call: func(s *Store) error {
				r := stored
				r.State.Status = engine.Succeeded
				return s.PutRun(ctx, r)
			},
			context: "put run api-1: ",
			check: func(t *testing.T, s *Store) {
				got, err := s.GetRun(ctx, "api-1")
				require.NoError(t, err)
				assert.Equal(t, engine.InProgress, got.State.Status)
				_, err = s.LastSucceeded(ctx, testScope("api"))
				require.ErrorIs(t, err, store.ErrNotFound)
			},
		},
		{
			name: "GetRun by id reports the read failure, not a missing run", op: "GetItem",
			setup:   func(t *testing.T, s *Store) { require.NoError(t, s.PutRun(ctx, stored)) },
			call:    func(s *Store) error { _, err := s.GetRun(ctx, "api-1"); return err },
			context: `get run "api-1": `,
		},
		{
			name: "FindRun by prefix reports the query failure", op: "Query",
			setup:   func(t *testing.T, s *Store) { require.NoError(t, s.PutRun(ctx, stored)) },
			call:    func(s *Store) error { _, err := s.FindRun(ctx, "api"); return err },
			context: `find run "api": `,
		},
		{
			name: "ListRuns reports the index query failure", op: "Query",
			setup:   func(t *testing.T, s *Store) { require.NoError(t, s.PutRun(ctx, stored)) },
			call:    func(s *Store) error { _, err := s.ListRuns(ctx, store.Filter{}); return err },
			context: "list runs: query index all: ",
		},
		{
			name: "ListRuns reports the failure to read the records", op: "BatchGetItem",
			setup:   func(t *testing.T, s *Store) { require.NoError(t, s.PutRun(ctx, stored)) },
			call:    func(s *Store) error { _, err := s.ListRuns(ctx, store.Filter{Pipeline: "api"}); return err },
			context: "list runs: read runs: ",
		},
		{
			name: "LastSucceeded reports the failure rather than finding nothing", op: "Query",
			call:    func(s *Store) error { _, err := s.LastSucceeded(ctx, testScope("api")); return err },
			context: "last succeeded run of api: query index succeeded: ",
		},
		{
			name: "Acquire that cannot read the lane leaves it free", op: "GetItem",
			call: func(s *Store) error {
				_, err := s.Acquire(ctx, testScope("api"), "Deploy", engine.ModeQueued, "r1", 1)
				return err
			},
			context: "acquire api/Deploy for r1: read lane: ",
			check:   laneGrants("r2", true),
		},
		{
			name: "Acquire that cannot write the lane leaves it free", op: "PutItem",
			call: func(s *Store) error {
				_, err := s.Acquire(ctx, testScope("api"), "Deploy", engine.ModeQueued, "r1", 1)
				return err
			},
			context: "acquire api/Deploy for r1: write lane: ",
			check:   laneGrants("r2", true),
		},
		{
			name: "Acquire that cannot join the queue is not queued", op: "PutItem",
			setup: func(t *testing.T, s *Store) {
				_, err := s.Acquire(ctx, testScope("api"), "Deploy", engine.ModeQueued, "r1", 1)
				require.NoError(t, err)
			},
			call: func(s *Store) error {
				_, err := s.Acquire(ctx, testScope("api"), "Deploy", engine.ModeQueued, "r2", 2)
				return err
			},
			context: "acquire api/Deploy for r2: write lane: ",
			check: func(t *testing.T, s *Store) {
				next, err := s.Release(ctx, testScope("api"), "Deploy", "r1")
				require.NoError(t, err)
				assert.Empty(t, next, "nobody waits")
			},
		},
		{
			name: "Release that cannot delete the lane keeps its holder", op: "DeleteItem",
			setup: func(t *testing.T, s *Store) {
				_, err := s.Acquire(ctx, testScope("api"), "Deploy", engine.ModeQueued, "r1", 1)
				require.NoError(t, err)
			},
			call:    func(s *Store) error { _, err := s.Release(ctx, testScope("api"), "Deploy", "r1"); return err },
			context: "release api/Deploy for r1: delete free lane: ",
			check:   laneGrants("r2", false),
		},
		{
			name: "Release that cannot hand over keeps the holder and the queue", op: "PutItem",
			setup: func(t *testing.T, s *Store) {
				for i, r := range []string{"r1", "r2"} {
					_, err := s.Acquire(ctx, testScope("api"), "Deploy", engine.ModeQueued, r, int64(i+1))
					require.NoError(t, err)
				}
			},
			call:    func(s *Store) error { _, err := s.Release(ctx, testScope("api"), "Deploy", "r1"); return err },
			context: "release api/Deploy for r1: write lane: ",
			check: func(t *testing.T, s *Store) {
				next, err := s.Release(ctx, testScope("api"), "Deploy", "r1")
				require.NoError(t, err)
				assert.Equal(t, "r2", next)
			},
		},
		{
			name: "PutToken records no token", op: "PutItem",
			call:    func(s *Store) error { return s.PutToken(ctx, "api-1", "Deploy/Service#1", "tok", time.Time{}) },
			context: "put task token of api-1/Deploy/Service#1: ",
			check: func(t *testing.T, s *Store) {
				_, err := s.Token(ctx, "api-1", "Deploy/Service#1")
				require.ErrorIs(t, err, store.ErrNotFound)
			},
		},
		{
			name: "Token reports the read failure, not a missing token", op: "GetItem",
			call:    func(s *Store) error { _, err := s.Token(ctx, "api-1", "Deploy/Service#1"); return err },
			context: "task token of api-1/Deploy/Service#1: ",
		},
		{
			name: "DeleteToken keeps the token", op: "DeleteItem",
			setup: func(t *testing.T, s *Store) {
				require.NoError(t, s.PutToken(ctx, "api-1", "Deploy/Service#1", "tok", time.Time{}))
			},
			call:    func(s *Store) error { return s.DeleteToken(ctx, "api-1", "Deploy/Service#1") },
			context: "delete task token of api-1/Deploy/Service#1: ",
			check: func(t *testing.T, s *Store) {
				got, err := s.Token(ctx, "api-1", "Deploy/Service#1")
				require.NoError(t, err)
				assert.Equal(t, "tok", got)
			},
		},
		{
			name: "PutPipelineFile keeps the file recorded before", op: "PutItem",
			setup: func(t *testing.T, s *Store) {
				require.NoError(t, s.PutPipelineFile(ctx, "octo/app", "main", []byte("old"), "1111"))
			},
			call:    func(s *Store) error { return s.PutPipelineFile(ctx, "octo/app", "main", []byte("new"), "2222") },
			context: "put pipeline file of octo/app@main: ",
			check: func(t *testing.T, s *Store) {
				file, commit, err := s.PipelineFile(ctx, "octo/app", "main")
				require.NoError(t, err)
				assert.Equal(t, []string{"old", "1111"}, []string{string(file), commit})
			},
		},
		{
			name: "PipelineFile reports the read failure, not a missing file", op: "GetItem",
			call:    func(s *Store) error { _, _, err := s.PipelineFile(ctx, "octo/app", "main"); return err },
			context: "pipeline file of octo/app@main: ",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			client, table := newTable(t)
			healthy := New(client, table)
			if tc.setup != nil {
				tc.setup(t, healthy)
			}
			var calls int
			throttled := New(&faulty{dynamoAPI: client, fail: throttleOn(tc.op, &calls)}, table)

			err := tc.call(throttled)

			var throttle *types.ProvisionedThroughputExceededException
			require.ErrorAs(t, err, &throttle)
			assert.NotErrorIs(t, err, store.ErrNotFound)
			assert.True(t, strings.HasPrefix(err.Error(), tc.context), "%q begins with %q", err, tc.context)
			assert.Equal(t, 1, calls, "a throttled call is not retried again: the SDK's retryer already did")
			if tc.check != nil {
				tc.check(t, healthy)
			}
		})
	}
}

// laneGrants checks that run asking for api/Deploy now is granted it or not.
func laneGrants(run string, granted bool) func(*testing.T, *Store) {
	return func(t *testing.T, s *Store) {
		g, err := s.Acquire(t.Context(), testScope("api"), "Deploy", engine.ModeQueued, run, 9)
		require.NoError(t, err)
		assert.Equal(t, granted, g.Granted)
	}
}

// unprocessed leaves every key of the first calls of BatchGetItem unprocessed, as DynamoDB
// does when a batch exceeds the table's throughput.
type unprocessed struct {
	dynamoAPI
	mu    sync.Mutex
	first int
	calls int
}

func (u *unprocessed) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	u.mu.Lock()
	u.calls++
	skip := u.calls <= u.first
	u.mu.Unlock()
	if skip {
		return &dynamodb.BatchGetItemOutput{UnprocessedKeys: in.RequestItems}, nil
	}
	return u.dynamoAPI.BatchGetItem(ctx, in, optFns...)
}

func TestListRunsReadsKeysDynamoDBLeftUnprocessedAgainAndGivesUpAfterABound(t *testing.T) {
	t.Parallel()
	client, table := newTable(t)
	require.NoError(t, New(client, table).PutRun(t.Context(), record("api", "api-1", 1, 100, engine.Succeeded)))

	t.Run("a few refusals are retried", func(t *testing.T) {
		api := &unprocessed{dynamoAPI: client, first: 2}
		recs, err := New(api, table).ListRuns(t.Context(), store.Filter{})
		require.NoError(t, err)
		assert.Equal(t, []string{"api-1"}, ids(recs))
		assert.Equal(t, 3, api.calls)
	})
	t.Run("endless refusals end in an error", func(t *testing.T) {
		api := &unprocessed{dynamoAPI: client, first: 1000}
		_, err := New(api, table).ListRuns(t.Context(), store.Filter{})
		require.EqualError(t, err, "list runs: read runs: 1 keys still unprocessed after 8 attempts")
		assert.Equal(t, batchAttempts, api.calls)
	})
}
