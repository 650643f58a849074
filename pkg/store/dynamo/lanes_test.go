package dynamo

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/engine"
)

// laneWrite is one lane write that DynamoDB accepted: the version it replaced (empty for a
// new item) and the one it wrote (empty for a delete).
type laneWrite struct {
	run      string
	from, to string
}

// writeLog collects the accepted and refused lane writes of several spies.
type writeLog struct {
	mu        sync.Mutex
	accepted  []laneWrite
	conflicts int
}

// laneSpy is one caller's client: it records the lane writes, and holds its first read until
// every caller has made its own, so all of them start from the same empty lane and all but
// one are sure to lose their first write.
type laneSpy struct {
	dynamoAPI
	run       string
	log       *writeLog
	firstRead sync.Once
	barrier   *sync.WaitGroup
}

func (s *laneSpy) GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	out, err := s.dynamoAPI.GetItem(ctx, in, optFns...)
	s.firstRead.Do(func() {
		s.barrier.Done()
		s.barrier.Wait()
	})
	return out, err
}

func (s *laneSpy) PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	out, err := s.dynamoAPI.PutItem(ctx, in, optFns...)
	s.record(in.ExpressionAttributeValues, getS(in.Item, attrVersion), err)
	return out, err
}

func (s *laneSpy) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	out, err := s.dynamoAPI.DeleteItem(ctx, in, optFns...)
	s.record(in.ExpressionAttributeValues, "", err)
	return out, err
}

func (s *laneSpy) record(values map[string]types.AttributeValue, to string, err error) {
	s.log.mu.Lock()
	defer s.log.mu.Unlock()
	var conflict *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &conflict):
		s.log.conflicts++
	case err == nil:
		s.log.accepted = append(s.log.accepted, laneWrite{run: s.run, from: getS(values, ":version"), to: to})
	}
}

// history orders the accepted writes as DynamoDB applied them: each write's condition named
// the version the one before it wrote, so they form one chain from the empty lane.
func (l *writeLog) history(t *testing.T) []laneWrite {
	t.Helper()
	byFrom := map[string]laneWrite{}
	for _, w := range l.accepted {
		_, dup := byFrom[w.from]
		require.False(t, dup, "two writes were accepted on top of version %q", w.from)
		byFrom[w.from] = w
	}
	var chain []laneWrite
	for from := ""; ; {
		w, ok := byFrom[from]
		if !ok {
			break
		}
		chain = append(chain, w)
		from = w.to
	}
	require.Len(t, chain, len(l.accepted), "every accepted write follows the one before it")
	return chain
}

func TestConcurrentAcquiresByManyCallersEndAsTheEngineWouldHaveOrderedThemOneAtATime(t *testing.T) {
	t.Parallel()
	const callers = 24
	for _, mode := range []engine.Mode{engine.ModeQueued, engine.ModeSuperseded} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			client, table := newTable(t)
			log := &writeLog{}
			var barrier sync.WaitGroup
			barrier.Add(callers)
			grants := make([]engine.Grant, callers)
			var wg sync.WaitGroup
			for i := range callers {
				// A store each, as separate Lambda invocations have.
				spy := &laneSpy{dynamoAPI: client, run: runName(i), log: log, barrier: &barrier}
				s := New(spy, table)
				wg.Go(func() {
					g, err := s.Acquire(t.Context(), testScope("api"), "Deploy", mode, runName(i), int64(i+1))
					assert.NoError(t, err)
					grants[i] = g
				})
			}
			wg.Wait()

			// Replaying the engine's rules in the order DynamoDB accepted the writes gives
			// every caller the grant it was given, and the lane that is stored.
			var lane engine.Lane
			want := make([]engine.Grant, callers)
			for _, w := range log.history(t) {
				var i int
				_, err := fmt.Sscanf(w.run, "r%02d", &i)
				require.NoError(t, err)
				lane, want[i] = lane.Acquire(mode, w.run, int64(i+1))
			}
			assert.Equal(t, want, grants)
			item, err := New(client, table).get(t.Context(), scopePK(testScope("api")), "LANE#Deploy")
			require.NoError(t, err)
			stored, _, err := decodeLane(item)
			require.NoError(t, err)
			assert.Equal(t, normal(lane), normal(stored))
			assert.GreaterOrEqual(t, log.conflicts, callers-1, "all but one first write lost the race and was retried")
			assert.Len(t, log.accepted, callers, "every caller changed the lane exactly once")
		})
	}
}

func runName(i int) string { return fmt.Sprintf("r%02d", i) }

// alwaysOvertaken is a client on which every conditional write loses to another writer.
type alwaysOvertaken struct {
	dynamoAPI
	writes atomic.Int32
}

func (a *alwaysOvertaken) PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	a.writes.Add(1)
	return nil, &types.ConditionalCheckFailedException{Message: aws.String("The conditional request failed")}
}

func TestAcquireGivesUpAfterTheConfiguredAttemptsWhenEveryWriteIsOvertaken(t *testing.T) {
	t.Parallel()
	client, table := newTable(t)
	spy := &alwaysOvertaken{dynamoAPI: client}
	s := New(spy, table, WithLaneAttempts(3))

	_, err := s.Acquire(t.Context(), testScope("api"), "Deploy", engine.ModeQueued, "r1", 1)

	var conflict *types.ConditionalCheckFailedException
	require.ErrorAs(t, err, &conflict)
	assert.ErrorContains(t, err, "acquire api/Deploy for r1: gave up after 3 attempts")
	assert.EqualValues(t, 3, spy.writes.Load())
}

func TestReleaseDeletesAFreeLaneButKeepsOneThatRemembersSupersededRuns(t *testing.T) {
	t.Parallel()
	client, table := newTable(t)
	s := New(client, table)
	ctx := t.Context()
	laneItem := func(stage string) map[string]types.AttributeValue {
		item, err := s.get(ctx, scopePK(testScope("api")), "LANE#"+stage)
		require.NoError(t, err)
		return item
	}

	_, err := s.Acquire(ctx, testScope("api"), "Build", engine.ModeQueued, "r1", 1)
	require.NoError(t, err)
	require.NotNil(t, laneItem("Build"))
	_, err = s.Release(ctx, testScope("api"), "Build", "r1")
	require.NoError(t, err)
	assert.Nil(t, laneItem("Build"), "a free lane is deleted")

	for i, r := range []string{"r1", "r2", "r3"} {
		_, err := s.Acquire(ctx, testScope("api"), "Deploy", engine.ModeSuperseded, r, int64(i+1))
		require.NoError(t, err)
	}
	for _, r := range []string{"r1", "r3"} {
		_, err := s.Release(ctx, testScope("api"), "Deploy", r)
		require.NoError(t, err)
	}
	lane, version, err := decodeLane(laneItem("Deploy"))
	require.NoError(t, err)
	assert.Equal(t, engine.Lane{Gone: []string{"r2"}}, lane)
	assert.NotEmpty(t, version)
}

func TestAcquireThatChangesNothingWritesNothing(t *testing.T) {
	t.Parallel()
	client, table := newTable(t)
	log := &writeLog{}
	var barrier sync.WaitGroup
	barrier.Add(1)
	s := New(&laneSpy{dynamoAPI: client, run: "r1", log: log, barrier: &barrier}, table)
	ctx := t.Context()

	for range 3 {
		g, err := s.Acquire(ctx, testScope("api"), "Deploy", engine.ModeQueued, "r1", 1)
		require.NoError(t, err)
		require.True(t, g.Granted)
	}
	g, err := s.Acquire(ctx, testScope("api"), "Deploy", engine.ModeParallel, "r2", 2)
	require.NoError(t, err)
	require.True(t, g.Granted)

	assert.Len(t, log.accepted, 1, "only the first Acquire changed the lane")
}
