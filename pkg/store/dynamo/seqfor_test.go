package dynamo

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSeqForGivesAnEventKeyOneRunNumber(t *testing.T) {
	t.Parallel()
	api, table := newTable(t)
	s := New(api, table)
	ctx := context.Background()

	first, err := s.SeqFor(ctx, testScope("api"), "github-abc-api")
	require.NoError(t, err)
	again, err := s.SeqFor(ctx, testScope("api"), "github-abc-api")
	require.NoError(t, err)
	assert.Equal(t, first, again, "a redelivery gets the same number")
	other, err := s.SeqFor(ctx, testScope("api"), "github-def-api")
	require.NoError(t, err)
	assert.Equal(t, first+1, other, "another event the next one")
	next, err := s.NextSeq(ctx, testScope("api"))
	require.NoError(t, err)
	assert.Equal(t, other+1, next, "numbers come from the pipeline's one counter")

	item, err := s.get(ctx, "KEY#"+testScope("api").Key()+"#github-abc-api", "SEQ")
	require.NoError(t, err)
	_, ok, err := getN(item, TTLAttribute)
	require.NoError(t, err)
	assert.True(t, ok, "the claim expires with the table's time to live")
}

// racingAPI lets another caller's claim land between SeqFor's read and its write.
type racingAPI struct {
	*atomicAPI
	race func()
}

func (r *racingAPI) PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if r.race != nil {
		race := r.race
		r.race = nil
		race()
	}
	return r.atomicAPI.PutItem(ctx, in, optFns...)
}

func TestSeqForKeepsTheNumberOfTheClaimThatWonARace(t *testing.T) {
	t.Parallel()
	api, table := newTable(t)
	ctx := context.Background()
	racer := &racingAPI{atomicAPI: api}
	s := New(racer, table)
	var theirs int64
	racer.race = func() {
		var err error
		theirs, err = New(api, table).SeqFor(ctx, testScope("api"), "github-abc-api")
		require.NoError(t, err)
	}
	ours, err := s.SeqFor(ctx, testScope("api"), "github-abc-api")
	require.NoError(t, err)
	assert.Equal(t, theirs, ours, "the loser answers the winner's number")
}
