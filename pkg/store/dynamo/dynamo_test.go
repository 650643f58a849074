package dynamo

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/awstest"
	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/iamcheck"
	"github.com/stepline/stepline/pkg/store"
	"github.com/stepline/stepline/pkg/store/dynamo/dynamofake"
	"github.com/stepline/stepline/pkg/store/storetest"
)

func TestMain(m *testing.M) { awstest.Main(m) }

var tables atomic.Int64

// atomicAPI is a client of one moto table that sends one request at a time
// (dynamofake.Serial says why); client is the table's own client, for the calls the store
// does not make.
type atomicAPI struct {
	*dynamofake.Serial
	client *dynamodb.Client
}

func newAtomicAPI(client *dynamodb.Client) *atomicAPI {
	return &atomicAPI{Serial: &dynamofake.Serial{API: client}, client: client}
}

// newTable creates an empty table from Schema, with time to live on, in the test binary's
// moto server, and returns a client of it and its name. Names are unique per process and
// call, since the server is shared by parallel tests.
func newTable(tb testing.TB) (*atomicAPI, string) {
	tb.Helper()
	client := dynamodb.NewFromConfig(awstest.StartMoto(tb).Config())
	name := fmt.Sprintf("stepline-%d-%d", os.Getpid(), tables.Add(1))
	ctx := context.Background()
	_, err := client.CreateTable(ctx, Schema(name))
	require.NoError(tb, err, "create table %s from Schema", name)
	_, err = client.UpdateTimeToLive(ctx, TimeToLive(name))
	require.NoError(tb, err)
	tb.Cleanup(func() {
		_, _ = client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)})
	})
	return newAtomicAPI(client), name
}

func TestStoreMeetsTheStoreContract(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store {
		_, table := newTable(t)
		// The contract drives every method of the store, as the advance and trigger
		// functions (which wire the whole store) may: its calls are recorded as theirs for
		// the IAM check (iamcheck).
		cfg := awstest.StartMoto(t).Config()
		for _, fn := range []string{"advance", "trigger"} {
			cfg = iamcheck.NewRecorder(t, fn, map[string]string{"env:STEPLINE_TABLE": table}).Config(cfg)
		}
		return New(newAtomicAPI(dynamodb.NewFromConfig(cfg)), table)
	})
}

func TestSchemaTurnsOnTimeToLiveOnTheTokensExpiryAttribute(t *testing.T) {
	t.Parallel()
	client, table := newTable(t)

	out, err := client.client.DescribeTimeToLive(t.Context(), &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})

	require.NoError(t, err)
	assert.Equal(t, TTLAttribute, aws.ToString(out.TimeToLiveDescription.AttributeName))
	assert.EqualValues(t, "ENABLED", out.TimeToLiveDescription.TimeToLiveStatus)
}

// record builds a run of pipeline; started is in Unix milliseconds.
func record(pipeline, id string, seq, started int64, status engine.Status) store.Record {
	def := engine.Definition{Pipeline: pipeline, Stages: []engine.Stage{{Name: "Build",
		Actions: []engine.Action{{Name: "Build", Provider: "codebuild"}}}}}
	st := engine.New(def, engine.RunInfo{ID: id, Seq: seq})
	st.Status, st.Started = status, started
	return store.Record{Definition: def, State: st, Trigger: "push", Updated: time.Unix(started/1000, 0).UTC()}
}

func TestRunsShareNoPartitionWithOtherItemsAndStayOutOfTheIndexesOfOthers(t *testing.T) {
	t.Parallel()
	client, table := newTable(t)
	s := New(client, table)
	ctx := t.Context()
	require.NoError(t, s.PutRun(ctx, record("api", "api-1", 1, 100, engine.Succeeded)))
	// Items of every other kind, with names chosen to collide with the run's if keys were
	// built carelessly.
	_, err := s.NextSeq(ctx, testScope("api"))
	require.NoError(t, err)
	_, err = s.Acquire(ctx, testScope("api"), "Deploy", engine.ModeQueued, "api-1", 1)
	require.NoError(t, err)
	require.NoError(t, s.PutToken(ctx, "api-1", "Deploy/Service#1", "tok", time.Time{}))
	require.NoError(t, s.PutPipelineFile(ctx, "api", "api-1", []byte("version: 1\n"), "c0ffee"))

	recs, err := s.ListRuns(ctx, store.Filter{})
	require.NoError(t, err)
	assert.Equal(t, []string{"api-1"}, ids(recs))
	recs, err = s.ListRuns(ctx, store.Filter{Pipeline: "api"})
	require.NoError(t, err)
	assert.Equal(t, []string{"api-1"}, ids(recs))
	got, err := s.FindRun(ctx, "a")
	require.NoError(t, err, "the prefix matches only the run")
	assert.Equal(t, "api-1", got.ID())
}

func TestRunItemsCarryReadableAttributesBesideTheCompressedRecord(t *testing.T) {
	t.Parallel()
	client, table := newTable(t)
	s := New(client, table)
	r := record("api", "api-7", 7, 1_700_000_000_000, engine.Succeeded)
	require.NoError(t, s.PutRun(t.Context(), r))

	item, err := s.get(t.Context(), "RUN#a", "api-7")

	require.NoError(t, err)
	require.NotNil(t, item)
	for name, want := range map[string]string{attrType: "run", attrPipeline: "api", attrSucceeded: testScope("api").Key(),
		attrStatus: "SUCCEEDED", attrUpdated: "2023-11-14T22:13:20Z",
		attrOrder: "00000001700000000000" + "00000000000000000007" + "api-7"} {
		assert.Equal(t, want, getS(item, name), name)
	}
	seq, _, err := getN(item, attrSeq)
	require.NoError(t, err)
	assert.EqualValues(t, 7, seq)
}

func TestPutRunOfARunThatNoLongerSucceededTakesItOutOfTheSucceededIndex(t *testing.T) {
	t.Parallel()
	client, table := newTable(t)
	s := New(client, table)
	r := record("api", "api-1", 1, 100, engine.Succeeded)
	require.NoError(t, s.PutRun(t.Context(), r))
	r.State.Status = engine.Failed
	require.NoError(t, s.PutRun(t.Context(), r))

	item, err := s.get(t.Context(), "RUN#a", "api-1")

	require.NoError(t, err)
	assert.NotContains(t, item, attrSucceeded)
}

func ids(recs []store.Record) []string {
	out := []string{}
	for _, r := range recs {
		out = append(out, r.ID())
	}
	return out
}

// testScope is the scope of a pipeline's runs that name no repository or branch.
func testScope(pipeline string) store.Scope { return store.Scope{Pipeline: pipeline} }
