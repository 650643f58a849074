package dynamo

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/store"
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

func TestSeqForNumbersEachRepositorysPipelineApart(t *testing.T) {
	t.Parallel()
	api, table := newTable(t)
	s := New(api, table)
	ctx := context.Background()
	shop := store.Scope{Provider: "github", Repository: "acme/shop", Pipeline: "api", Branch: "main"}
	blog := store.Scope{Provider: "github", Repository: "acme/blog", Pipeline: "api", Branch: "main"}
	prod := store.Scope{Provider: "github", Repository: "acme/shop", Pipeline: "api", Environment: "prod"}

	for _, sc := range []store.Scope{shop, shop, prod} {
		_, err := s.NextSeq(ctx, sc)
		require.NoError(t, err)
	}
	// One event key claimed in two repositories (a schedule's key, say): two claims, two counters.
	inShop, err := s.SeqFor(ctx, prod, "schedule-nightly-0300")
	require.NoError(t, err)
	inBlog, err := s.SeqFor(ctx, blog, "schedule-nightly-0300")
	require.NoError(t, err)

	assert.Equal(t, []int64{4, 1}, []int64{inShop, inBlog})
	again, err := s.SeqFor(ctx, shop, "schedule-nightly-0300")
	require.NoError(t, err)
	assert.Equal(t, inShop, again, "a claim is the repository's and pipeline's, whatever the branch asking")
}
