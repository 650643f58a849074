package dynamo

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/store"
)

// bigRecord is a run of a pipeline of stages×actions actions, every one started, with a log
// path each: the shape of a large real run.
func bigRecord(id string, stages, actions int) store.Record {
	def := engine.Definition{Pipeline: "monorepo"}
	for i := range stages {
		st := engine.Stage{Name: fmt.Sprintf("Stage%02d", i)}
		for j := range actions {
			st.Actions = append(st.Actions, engine.Action{Name: fmt.Sprintf("Action%02d", j), Provider: "codebuild",
				Inputs: []string{"source"}, Outputs: []string{fmt.Sprintf("out_%d_%d", i, j)},
				Config: map[string]any{"buildspec": fmt.Sprintf("services/svc%02d/buildspec.yml", j)}})
		}
		def.Stages = append(def.Stages, st)
	}
	state := engine.New(def, engine.RunInfo{ID: id, Seq: 1})
	state.Status, state.Started = engine.InProgress, 1_700_000_000_000
	r := store.Record{Definition: def, State: state, Trigger: "push", Logs: map[string]string{}}
	for i, st := range def.Stages {
		for j, a := range st.Actions {
			r.State.Stages[i].Actions[j] = engine.ActionState{Status: engine.Succeeded, Attempt: 1, Tries: 1,
				Started: 1_700_000_000_000 + int64(i*1000+j), Ended: 1_700_000_100_000 + int64(i*1000+j),
				External: fmt.Sprintf("arn:aws:codebuild:eu-west-1:123456789012:build/stepline-%s:%08d-0000-4000-8000-%012d", a.Name, i, j)}
			r.Logs[st.Name+"/"+a.Name] = fmt.Sprintf("s3://stepline-artifacts-123456789012/logs/%s/%s/%s.log", id, st.Name, a.Name)
		}
	}
	return r
}

func TestARecordLargerThanAnItemIsStoredCompressedAndReadBackWhole(t *testing.T) {
	t.Parallel()
	client, table := newTable(t)
	s := New(client, table)
	r := bigRecord("big-1", 50, 40) // 2,000 actions
	data, err := json.Marshal(r)
	require.NoError(t, err)
	require.Greater(t, len(data), maxItemSize, "the record alone would not fit in an item")

	require.NoError(t, s.PutRun(t.Context(), r))

	got, err := s.GetRun(t.Context(), "big-1")
	require.NoError(t, err)
	assert.Equal(t, normalJSON(t, r), normalJSON(t, got))
	recs, err := s.ListRuns(t.Context(), store.Filter{Pipeline: "monorepo"})
	require.NoError(t, err)
	require.Len(t, recs, 1)
	item, err := s.get(t.Context(), "RUN#b", "big-1")
	require.NoError(t, err)
	body, err := getB(item, attrBody)
	require.NoError(t, err)
	assert.Equal(t, []byte{0x1f, 0x8b}, body[:2], "gzip magic")
	t.Logf("record of 2,000 actions: %d bytes of JSON, %d gzipped", len(data), len(body))
}

// normalJSON is r as stored: Config values come back from JSON as JSON types.
func normalJSON(t *testing.T, r store.Record) string {
	t.Helper()
	b, err := json.Marshal(r)
	require.NoError(t, err)
	return string(b)
}

func TestARecordTooLargeEvenCompressedIsRefusedWithoutTouchingTheStoredOne(t *testing.T) {
	t.Parallel()
	client, table := newTable(t)
	s := New(client, table)
	r := record("api", "api-1", 1, 100, engine.InProgress)
	require.NoError(t, s.PutRun(t.Context(), r))

	noise := make([]byte, 450*1024)
	_, _ = rand.Read(noise)
	huge := r
	huge.State.Vars = map[string]map[string]string{"build": {"blob": base64.StdEncoding.EncodeToString(noise)}}
	err := s.PutRun(t.Context(), huge)

	require.ErrorIs(t, err, ErrTooLarge)
	assert.Regexp(t, `^put run api-1: record is \d+ bytes as JSON and \d+ gzipped: item exceeds DynamoDB's 400 KB limit: the item is \d+ bytes, the limit 409600$`, err.Error())
	got, err := s.GetRun(t.Context(), "api-1")
	require.NoError(t, err)
	assert.NotContains(t, got.State.Vars, "build", "the stored record is the one before")
}

func TestAPipelineFileTooLargeEvenCompressedIsRefused(t *testing.T) {
	t.Parallel()
	client, table := newTable(t)
	s := New(client, table)
	noise := make([]byte, 450*1024)
	_, _ = rand.Read(noise)

	err := s.PutPipelineFile(t.Context(), "octo/app", "main", noise, "c0ffee")

	require.ErrorIs(t, err, ErrTooLarge)
	assert.ErrorContains(t, err, "put pipeline file of octo/app@main: file is 460800 bytes and")
	_, _, err = s.PipelineFile(t.Context(), "octo/app", "main")
	require.ErrorIs(t, err, store.ErrNotFound)
}

func TestItemSizeCountsNamesAndValuesAsDynamoDBDoes(t *testing.T) {
	t.Parallel()
	item := map[string]types.AttributeValue{
		"pk":   str("RUN#a"),                                 // 2 + 5
		"body": bin(make([]byte, 100)),                       // 4 + 100
		"seq":  num(1_700_000_000_000),                       // 3 + 13 digits: 7 + 1
		"s":    str("héllo"),                                 // 1 + 6 bytes of UTF-8
		"list": &types.AttributeValueMemberBOOL{Value: true}, // 4 + unsized
	}
	assert.Equal(t, 7+104+11+7+4, itemSize(item))
}

// countingPutter accepts every PutItem without storing anything, and counts them.
type countingPutter struct {
	dynamoAPI
	puts int
}

func (c *countingPutter) PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.puts++
	return &dynamodb.PutItemOutput{}, nil
}

// moto's own size check differs from DynamoDB's (it counts binary values base64-encoded and
// stops at 405,000 bytes), so the limit is checked against the documented rule instead.
func TestTheSizeGuardSendsAnItemOfExactlyTheLimitButNotOneByteMore(t *testing.T) {
	t.Parallel()
	api := &countingPutter{}
	s := New(api, "t")
	item := func(size int) map[string]types.AttributeValue {
		it := key("LIMIT#x", "y")
		it["b"] = bin(nil)
		it["b"] = bin(make([]byte, size-itemSize(it)))
		require.Equal(t, size, itemSize(it))
		return it
	}

	require.NoError(t, s.put(t.Context(), item(maxItemSize), "", nil, nil))
	err := s.put(t.Context(), item(maxItemSize+1), "", nil, nil)

	require.ErrorIs(t, err, ErrTooLarge)
	assert.Equal(t, 1, api.puts, "the item over the limit was never sent")
}
