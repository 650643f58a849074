package triggerstep

import (
	"encoding/json"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/scm"
	"github.com/stepline/stepline/pkg/store/dynamo"
)

func TestAnImagePushStartsEveryMatchingRegisteredPipelineOnce(t *testing.T) {
	t.Parallel()
	r := newMemRig(t)
	r.repo.set(commitA, registeredFile)
	require.NoError(t, r.h.Handle(r.ctx, pushTo(t, "main", commitA, t0)))
	// A second repository listens to api too, with a pipeline of the same name.
	other := dynamo.Registration{Provider: "bitbucket", Repo: "acme/other", Branch: "trunk", Commit: commitC, Hook: "other-hook",
		File: []byte(registeredFile), Images: []string{"api"}, Pushed: t0}
	require.NoError(t, r.reg.PutRegistration(r.ctx, other))
	require.NoError(t, r.reg.PutImageIndex(r.ctx, "api", other.Provider, other.Repo))
	pushes := len(r.sfn.started())

	e := ecrEvent(t, "api", "latest")
	require.NoError(t, r.h.Handle(r.ctx, e))
	starts := r.sfn.started()[pushes:]
	require.Len(t, starts, 2, "deploy of each registered repository")
	assert.NotEqual(t, aws.ToString(starts[0].Name), aws.ToString(starts[1].Name), "two repositories' pipelines of one name get two executions")
	for _, s := range starts {
		assert.Contains(t, aws.ToString(s.Name), "ecr-13cde686-328b-6117-af20-0e5566167482-")
		assert.Contains(t, aws.ToString(s.Name), "-deploy")
	}

	recs := map[string]string{}
	// Each repository numbers its own runs: both are run 1, with ids apart.
	for _, id := range []string{runID("github", memRepoName, "deploy", 1), runID(other.Provider, other.Repo, "deploy", 1)} {
		rec, err := r.runs.GetRun(r.ctx, id)
		require.NoError(t, err)
		recs[rec.Repo] = id
		src := rec.State.Vars["source"]
		assert.Equal(t, "image", src["event"])
		assert.Equal(t, "api", src["image_repository"])
		assert.Equal(t, "latest", src["image_tag"])
		assert.Equal(t, "sha256:"+repeat("7f", 32), src["image_digest"])
		assert.Equal(t, "123456789012.dkr.ecr.us-west-2.amazonaws.com", src["image_registry"])
		assert.Equal(t, "123456789012.dkr.ecr.us-west-2.amazonaws.com/api@sha256:"+repeat("7f", 32), src["image_uri"])
		assert.Equal(t, "ecr image api:latest", rec.Trigger)
		switch rec.Repo {
		case memRepoName:
			assert.Equal(t, commitA, rec.Commit, "the run builds the registered default branch's commit")
			assert.Equal(t, "main", rec.Branch)
			assert.Equal(t, memHook, rec.Hook)
			assert.Equal(t, "github", rec.Provider)
			assert.Equal(t, commitA, src["commit_id"])
			assert.Equal(t, memRepoName, src["repository"])
		case "acme/other":
			assert.Equal(t, commitC, rec.Commit)
			assert.Equal(t, "trunk", rec.Branch)
			assert.Equal(t, "other-hook", rec.Hook)
			assert.Equal(t, "bitbucket", rec.Provider)
		}
	}
	assert.Len(t, recs, 2)

	require.NoError(t, r.h.Handle(r.ctx, e), "a retry of the same event")
	assert.Len(t, r.sfn.started(), pushes+2, "starts nothing twice")
	assert.Contains(t, r.logs.String(), "already started")
}

func TestImagePushesThatStartNothing(t *testing.T) {
	t.Parallel()
	r := newMemRig(t)
	r.repo.set(commitA, registeredFile)
	require.NoError(t, r.h.Handle(r.ctx, pushTo(t, "main", commitA, t0)))
	pushes := len(r.sfn.started())
	tests := []struct {
		name  string
		event func() events.CloudWatchEvent
		log   string
	}{
		{"a tag the trigger does not include", func() events.CloudWatchEvent { return ecrEvent(t, "api", "v1") }, `image tag \"v1\" is not included by [latest]`},
		{"a push by digest alone, without a tag", func() events.CloudWatchEvent { return ecrEvent(t, "api", "") }, "pushed without a tag"},
		{"a repository no file listens to", func() events.CloudWatchEvent { return ecrEvent(t, "web", "latest") }, "no registered pipeline file listens"},
		{"a failed push", func() events.CloudWatchEvent {
			e := ecrEvent(t, "api", "latest")
			e.Detail = json.RawMessage(`{"result":"FAILURE","repository-name":"api","image-tag":"latest","action-type":"PUSH"}`)
			return e
		}, "only a successful image push"},
		{"a deletion", func() events.CloudWatchEvent {
			e := ecrEvent(t, "api", "latest")
			e.Detail = json.RawMessage(`{"result":"SUCCESS","repository-name":"api","image-digest":"sha256:00","action-type":"DELETE","image-tag":"latest"}`)
			return e
		}, "only a successful image push"},
		{"a detail without a repository", func() events.CloudWatchEvent {
			e := ecrEvent(t, "api", "latest")
			e.Detail = json.RawMessage(`{"result":"SUCCESS","action-type":"PUSH"}`)
			return e
		}, "names no repository-name"},
		{"a detail that is not JSON", func() events.CloudWatchEvent {
			e := ecrEvent(t, "api", "latest")
			e.Detail = json.RawMessage(`"nope"`)
			return e
		}, "not an ECR image action"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, r.h.Handle(r.ctx, tc.event()))
			assert.Len(t, r.sfn.started(), pushes)
			assert.Contains(t, r.logs.String(), tc.log)
		})
	}
}

func TestARegistryOutageFailsTheImagePushForARetry(t *testing.T) {
	t.Parallel()
	r := newMemRig(t)
	r.reg.fail = func(string) error { return errUnavailable }
	require.ErrorIs(t, r.h.Handle(r.ctx, ecrEvent(t, "api", "latest")), errUnavailable)
}

func TestImageVariablesPinTheDigestAndKnowChinaRegions(t *testing.T) {
	t.Parallel()
	a := ImageAction{ActionType: "PUSH", Result: "SUCCESS", RepositoryName: "team/api", ImageTag: "v1"}
	v := ImageVariables(events.CloudWatchEvent{AccountID: "123456789012", Region: "cn-north-1"}, a)
	assert.Equal(t, "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/team/api:v1", v["image_uri"], "without a digest, the tag")
	a.ImageDigest = "sha256:abc"
	v = ImageVariables(events.CloudWatchEvent{AccountID: "123456789012", Region: "eu-west-1"}, a)
	assert.Equal(t, "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/api@sha256:abc", v["image_uri"])
}

// The dynamo.Store is the registry in production: this runs an image push end to end through
// the real DynamoDB client on moto and the Step Functions client on its local server.
func TestAnImagePushFindsItsPipelineThroughDynamoDB(t *testing.T) {
	r := newRig(t)
	r.files["/repos/Codertocat/Hello-World/contents/.stepline.yml@"+testCommit] = registeredFile
	sched := newSchedulerServer(t)
	r.h.registry = r.db
	WithScheduler(sched.client(t), memGroup, memRoleARN, memQueueARN)(r.h)
	ctx := t.Context()
	ev := sampleEvent()
	ev.Kind, ev.Ref, ev.Tag, ev.Branch = scm.KindPush, "refs/heads/master", "", "master"
	require.NoError(t, r.h.Handle(ctx, cloudEvent(t, detail(ev))))
	reg, err := r.db.Registration(ctx, "github", "Codertocat/Hello-World")
	require.NoError(t, err, r.logs.String())
	assert.Equal(t, []string{"api"}, reg.Images)
	assert.Equal(t, testCommit, reg.Commit)
	assert.Equal(t, []string{ScheduleName("github", "Codertocat/Hello-World", "nightly", 0)}, reg.Schedules)
	assert.Len(t, sched.requests(), 2, "UpdateSchedule, answered 404, then CreateSchedule")

	before := len(r.sfn.started())
	require.NoError(t, r.h.Handle(ctx, ecrEvent(t, "api", "latest")))
	starts := r.sfn.started()[before:]
	require.Len(t, starts, 1, r.logs.String())
	rec, err := r.db.GetRun(ctx, runID("github", "Codertocat/Hello-World", "deploy", 1))
	require.NoError(t, err)
	assert.Equal(t, testCommit, rec.Commit)
	assert.Equal(t, testHook, rec.Hook)
	assert.Equal(t, "latest", rec.State.Vars["source"]["image_tag"])
}

func repeat(s string, n int) string {
	out := ""
	for range n {
		out += s
	}
	return out
}
