package triggerstep

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/scm"
	"github.com/stepline/stepline/pkg/store/dynamo"
)

// objectFile listens to zips dropped under releases/ of the drops bucket.
const objectFile = `version: 1
pipelines:
  - name: app
    triggers:
      - {on: push, branches: [main]}
    stages: [{name: Build, actions: [{name: Build, provider: codebuild, inputs: [source]}]}]
  - name: ingest
    triggers:
      - {on: object, bucket: drops, keys: {include: ["releases/**/*.zip"], exclude: ["**/tmp/**"]}}
    stages: [{name: Load, actions: [{name: Load, provider: codebuild, inputs: [source], env: {KEY: "#{source.object_key}"}}]}]
`

const objectEventID = "17793124-05d4-b198-2fde-7ededc63b103"

// objectEvent is S3's Object Created event for bucket/key, shaped as S3 sends it.
func objectEvent(t *testing.T, bucket, key string) events.CloudWatchEvent {
	t.Helper()
	detail, err := json.Marshal(map[string]any{"version": "0", "bucket": map[string]any{"name": bucket},
		"object":     map[string]any{"key": key, "size": 5, "etag": "b1946ac92492d2347c6235b4d2611184", "version-id": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e", "sequencer": "617f08299329d189"},
		"request-id": "N4N7GDK58NMKJ12R", "requester": "123456789012", "source-ip-address": "1.2.3.4", "reason": "PutObject"})
	require.NoError(t, err)
	return events.CloudWatchEvent{Version: "0", ID: objectEventID, DetailType: S3ObjectCreatedType, Source: S3Source,
		AccountID: "123456789012", Time: t0.Add(time.Hour), Region: "us-west-2", Resources: []string{"arn:aws:s3:::" + bucket}, Detail: detail}
}

func TestAPushToTheDefaultBranchIndexesTheBucketsOfItsObjectTriggers(t *testing.T) {
	t.Parallel()
	r := newMemRig(t)
	r.repo.set(commitA, objectFile)
	require.NoError(t, r.h.Handle(r.ctx, pushTo(t, "main", commitA, t0)))
	e := r.reg.entry(t, "github", memRepoName)
	assert.Equal(t, []string{"drops"}, e.Buckets)
	assert.Empty(t, e.Images)
	assert.Equal(t, []string{"github " + memRepoName}, r.reg.bucketIndexed("drops"))
	assert.Empty(t, r.reg.indexed("drops"), "a bucket is not an image repository")

	r.repo.set(commitB, plainFile)
	require.NoError(t, r.h.Handle(r.ctx, pushTo(t, "main", commitB, t0.Add(time.Minute))))
	e = r.reg.entry(t, "github", memRepoName)
	assert.Empty(t, e.Buckets)
	assert.Empty(t, e.RetiredBuckets, "cleared once the index item is gone")
	assert.Empty(t, r.reg.bucketIndexed("drops"), "the object trigger is gone, so is its index item")
}

func TestAnObjectCreationStartsTheMatchingRegisteredPipelinesOnce(t *testing.T) {
	t.Parallel()
	r := newMemRig(t)
	r.repo.set(commitA, objectFile)
	require.NoError(t, r.h.Handle(r.ctx, pushTo(t, "main", commitA, t0)))
	other := dynamo.Registration{Provider: "codecommit", Repo: "loader", Branch: "trunk", Commit: commitC,
		File: []byte(objectFile), Buckets: []string{"drops"}, Pushed: t0}
	require.NoError(t, r.reg.PutRegistration(r.ctx, other))
	require.NoError(t, r.reg.PutBucketIndex(r.ctx, "drops", other.Provider, other.Repo))
	pushes := len(r.sfn.started())

	e := objectEvent(t, "drops", "releases/1.0/app.zip")
	require.NoError(t, r.h.Handle(r.ctx, e))
	starts := r.sfn.started()[pushes:]
	require.Len(t, starts, 2, "ingest of each registered repository")
	assert.NotEqual(t, aws.ToString(starts[0].Name), aws.ToString(starts[1].Name))
	for _, s := range starts {
		assert.Contains(t, aws.ToString(s.Name), "s3-"+objectEventID+"-")
		assert.Contains(t, aws.ToString(s.Name), "-ingest")
	}
	for _, id := range []string{runID("github", memRepoName, "ingest", 1), runID(other.Provider, other.Repo, "ingest", 1)} {
		rec, err := r.runs.GetRun(r.ctx, id)
		require.NoError(t, err)
		src := rec.State.Vars["source"]
		assert.Equal(t, "object", src["event"])
		assert.Equal(t, "drops", src["object_bucket"])
		assert.Equal(t, "releases/1.0/app.zip", src["object_key"])
		assert.Equal(t, "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e", src["object_version"])
		assert.Equal(t, "b1946ac92492d2347c6235b4d2611184", src["object_etag"])
		assert.Equal(t, "5", src["object_size"])
		assert.Equal(t, "s3 object s3://drops/releases/1.0/app.zip", rec.Trigger)
		switch rec.Repo {
		case memRepoName:
			assert.Equal(t, commitA, rec.Commit, "the run builds the registered default branch's commit")
			assert.Equal(t, "main", rec.Branch)
			assert.Equal(t, "github", src["provider"])
		case "loader":
			assert.Equal(t, commitC, rec.Commit)
			assert.Equal(t, "trunk", rec.Branch)
			assert.Equal(t, "codecommit", rec.Provider)
		default:
			t.Errorf("a run of %s", rec.Repo)
		}
	}

	require.NoError(t, r.h.Handle(r.ctx, e), "a retry of the same event")
	assert.Len(t, r.sfn.started(), pushes+2, "starts nothing twice")
}

func TestObjectCreationsThatStartNothing(t *testing.T) {
	t.Parallel()
	r := newMemRig(t)
	r.repo.set(commitA, objectFile)
	require.NoError(t, r.h.Handle(r.ctx, pushTo(t, "main", commitA, t0)))
	pushes := len(r.sfn.started())
	tests := []struct {
		name  string
		event func() events.CloudWatchEvent
		log   string
	}{
		{"a key the trigger does not include", func() events.CloudWatchEvent { return objectEvent(t, "drops", "notes/readme.txt") },
			`object key \"notes/readme.txt\" is not included by [releases/**/*.zip]`},
		{"an excluded key", func() events.CloudWatchEvent { return objectEvent(t, "drops", "releases/tmp/x.zip") },
			`object key \"releases/tmp/x.zip\" is excluded by \"**/tmp/**\"`},
		{"a bucket no file listens to", func() events.CloudWatchEvent { return objectEvent(t, "logs", "releases/1/x.zip") },
			"no registered pipeline file listens to this bucket"},
		{"a detail without a key", func() events.CloudWatchEvent {
			e := objectEvent(t, "drops", "x")
			e.Detail = json.RawMessage(`{"version":"0","bucket":{"name":"drops"},"object":{"size":1}}`)
			return e
		}, "names no bucket.name or object.key"},
		{"a detail that is not JSON", func() events.CloudWatchEvent {
			e := objectEvent(t, "drops", "x")
			e.Detail = json.RawMessage(`"nope"`)
			return e
		}, "not an S3 Object Created detail"},
		{"an event without an id", func() events.CloudWatchEvent {
			e := objectEvent(t, "drops", "releases/1/x.zip")
			e.ID = ""
			return e
		}, "no idempotency key"},
		{"another S3 event", func() events.CloudWatchEvent {
			e := objectEvent(t, "drops", "releases/1/x.zip")
			e.DetailType = "Object Deleted"
			return e
		}, "an S3 object creation nor a CodeCommit reference change"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, r.h.Handle(r.ctx, tc.event()))
			assert.Len(t, r.sfn.started(), pushes)
			assert.Contains(t, r.logs.String(), tc.log)
		})
	}
}

func TestARegistryOutageFailsTheObjectCreationForARetry(t *testing.T) {
	t.Parallel()
	r := newMemRig(t)
	r.reg.fail = func(string) error { return errUnavailable }
	require.ErrorIs(t, r.h.Handle(r.ctx, objectEvent(t, "drops", "releases/1/x.zip")), errUnavailable)
}

func TestABucketIndexFailureHalfWayIsFinishedByTheRetry(t *testing.T) {
	t.Parallel()
	r := newMemRig(t)
	r.repo.set(commitA, objectFile)
	r.repo.set(commitB, plainFile)
	require.NoError(t, r.h.Handle(r.ctx, pushTo(t, "main", commitA, t0)))
	fail := errOnce(errUnavailable)
	r.reg.fail = func(op string) error {
		if op == "DeleteBucketIndex" {
			return fail()
		}
		return nil
	}
	e := pushTo(t, "main", commitB, t0.Add(time.Minute))
	require.ErrorIs(t, r.h.Handle(r.ctx, e), errUnavailable)
	assert.Equal(t, []string{"drops"}, r.reg.entry(t, "github", memRepoName).RetiredBuckets, "what is left to remove is recorded")
	require.NoError(t, r.h.Handle(r.ctx, e), "the queue's retry of the same event")
	assert.Empty(t, r.reg.entry(t, "github", memRepoName).RetiredBuckets)
	assert.Empty(t, r.reg.bucketIndexed("drops"))
}

// The dynamo.Store is the registry in production: an object creation end to end through the
// real DynamoDB client on moto.
func TestAnObjectCreationFindsItsPipelineThroughDynamoDB(t *testing.T) {
	r := newRig(t)
	r.files["/repos/Codertocat/Hello-World/contents/.stepline.yml@"+testCommit] = objectFile
	r.h.registry = r.db
	ctx := t.Context()
	ev := sampleEvent()
	ev.Kind, ev.Ref, ev.Tag, ev.Branch = scm.KindPush, "refs/heads/master", "", "master"
	require.NoError(t, r.h.Handle(ctx, cloudEvent(t, detail(ev))))
	reg, err := r.db.Registration(ctx, "github", "Codertocat/Hello-World")
	require.NoError(t, err, r.logs.String())
	assert.Equal(t, []string{"drops"}, reg.Buckets)

	before := len(r.sfn.started())
	require.NoError(t, r.h.Handle(ctx, objectEvent(t, "drops", "releases/2/app.zip")))
	require.Len(t, r.sfn.started()[before:], 1, r.logs.String())
	rec, err := r.db.GetRun(ctx, runID("github", "Codertocat/Hello-World", "ingest", 1))
	require.NoError(t, err)
	assert.Equal(t, testCommit, rec.Commit)
	assert.Equal(t, "releases/2/app.zip", rec.State.Vars["source"]["object_key"])

	require.NoError(t, r.h.Handle(ctx, objectEvent(t, "other-bucket", "releases/2/app.zip")))
	assert.Len(t, r.sfn.started(), before+1)
}

// TestObjectCreatedReadsOnlyWhatItUses: S3's detail carries the request's id, requester,
// address, reason and sequencer, which stepline does not read; no type of theirs may refuse
// the event. What is read stays strict.
func TestObjectCreatedReadsOnlyWhatItUses(t *testing.T) {
	t.Parallel()
	o, err := ParseObjectCreated([]byte(`{"version":0,"bucket":{"name":"drops","arn":7},"object":{"key":"a.zip","size":5,"sequencer":617,"etag":"e"},
		"request-id":{},"requester":123456789012,"source-ip-address":[1,2,3,4],"reason":null}`))
	require.NoError(t, err)
	assert.Equal(t, "drops", o.Bucket.Name)
	assert.Equal(t, int64(5), o.Object.Size)
	_, err = ParseObjectCreated([]byte(`{"bucket":{"name":"drops"},"object":{"key":"a.zip","size":"5"}}`))
	assert.Error(t, err, "the size is read, so it must be a number")
}
