package triggerstep

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	schedtypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/store"
	"github.com/stepline/stepline/pkg/store/dynamo"
)

const (
	commitA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	commitB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	commitC = "cccccccccccccccccccccccccccccccccccccccc"

	// registeredFile has a push pipeline, an image pipeline for api:latest and a nightly
	// schedule on the default branch.
	registeredFile = `version: 1
pipelines:
  - name: app
    triggers:
      - {on: push, branches: [main]}
    stages: [{name: Build, actions: [{name: Build, provider: codebuild, inputs: [source]}]}]
  - name: deploy
    triggers:
      - {on: push, branches: [never]}
      - {on: image, repository: api, tags: [latest]}
    stages: [{name: Deploy, actions: [{name: Deploy, provider: codebuild, inputs: [source]}]}]
  - name: nightly
    triggers:
      - {on: schedule, cron: "cron(0 3 * * ? *)"}
    stages: [{name: Build, actions: [{name: Build, provider: codebuild, inputs: [source]}]}]
`
	// plainFile keeps only the push pipeline: no image, no schedule.
	plainFile = `version: 1
pipelines:
  - name: app
    triggers:
      - {on: push, branches: [main]}
    stages: [{name: Build, actions: [{name: Build, provider: codebuild, inputs: [source]}]}]
`
)

var t0 = time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)

func TestAPushToTheDefaultBranchRegistersItsFileWithImageIndexAndSchedules(t *testing.T) {
	t.Parallel()
	r := newMemRig(t)
	r.repo.set(commitA, registeredFile)
	require.NoError(t, r.h.Handle(r.ctx, pushTo(t, "main", commitA, t0)))

	e := r.reg.entry(t, "github", memRepoName)
	assert.Equal(t, registeredFile, string(e.File))
	assert.Equal(t, commitA, e.Commit)
	assert.Equal(t, "main", e.Branch)
	assert.Equal(t, memHook, e.Hook)
	assert.Equal(t, t0, e.Pushed)
	assert.Equal(t, []string{"api"}, e.Images)
	assert.Empty(t, e.RetiredImages)
	assert.Empty(t, e.RetiredSchedules)
	assert.Equal(t, []string{"github " + memRepoName}, r.reg.indexed("api"))

	name := ScheduleName("github", memRepoName, "nightly", 0)
	assert.Equal(t, []string{name}, e.Schedules)
	require.Equal(t, []string{memGroup + "/" + name}, r.sched.names())
	tgt := r.sched.schedules[memGroup+"/"+name]
	assert.Equal(t, memQueueARN, aws.ToString(tgt.Arn), "the schedule sends to the trigger queue")
	assert.Equal(t, memRoleARN, aws.ToString(tgt.RoleArn))
	assert.JSONEq(t, `{"stepline-schedule":{"provider":"github","repository":"acme/app","pipeline":"nightly","trigger":0,"branch":"main","time":"<aws.scheduler.scheduled-time>"}}`,
		aws.ToString(tgt.Input))
	assert.Equal(t, "cron(0 3 * * ? *)", r.sched.exprs[memGroup+"/"+name])

	require.Len(t, r.sfn.started(), 1, "the push itself still runs the matching push pipeline")
}

func TestAPushToAnotherBranchLeavesTheRegistryAlone(t *testing.T) {
	t.Parallel()
	r := newMemRig(t)
	r.repo.set(commitA, registeredFile)
	r.repo.set(commitB, plainFile)
	require.NoError(t, r.h.Handle(r.ctx, pushTo(t, "main", commitA, t0)))
	require.NoError(t, r.h.Handle(r.ctx, pushTo(t, "feature/x", commitB, t0.Add(time.Minute))))
	assert.Equal(t, commitA, r.reg.entry(t, "github", memRepoName).Commit)
	assert.Len(t, r.sched.names(), 1)
}

func TestAPushWhoseEventNamesNoDefaultBranchLeavesTheRegistryAlone(t *testing.T) {
	t.Parallel()
	r := newMemRig(t)
	r.repo.set(commitA, registeredFile)
	e := pushTo(t, "main", commitA, t0)
	var d Detail
	require.NoError(t, json.Unmarshal(e.Detail, &d))
	d.Event.Repository.DefaultBranch = ""
	e.Detail = mustJSON(t, d)
	require.NoError(t, r.h.Handle(r.ctx, e))
	_, err := r.reg.Registration(r.ctx, "github", memRepoName)
	require.ErrorIs(t, err, store.ErrNotFound)
	assert.Contains(t, r.logs.String(), "names no default branch")
	assert.Len(t, r.sfn.started(), 1)
}

func TestAChangedFileRemovesTheSchedulesAndIndexItemsWhoseTriggersAreGone(t *testing.T) {
	t.Parallel()
	r := newMemRig(t)
	r.repo.set(commitA, registeredFile)
	r.repo.set(commitB, plainFile)
	require.NoError(t, r.h.Handle(r.ctx, pushTo(t, "main", commitA, t0)))
	require.NoError(t, r.h.Handle(r.ctx, pushTo(t, "main", commitB, t0.Add(time.Minute))))

	e := r.reg.entry(t, "github", memRepoName)
	assert.Equal(t, commitB, e.Commit)
	assert.Empty(t, e.Images)
	assert.Empty(t, e.Schedules)
	assert.Empty(t, e.RetiredImages, "the retired lists are cleared once the work is done")
	assert.Empty(t, e.RetiredSchedules)
	assert.Empty(t, r.sched.names())
	assert.Empty(t, r.reg.indexed("api"))
}

func TestAMovedScheduleIsUpdatedInPlace(t *testing.T) {
	t.Parallel()
	r := newMemRig(t)
	r.repo.set(commitA, registeredFile)
	r.repo.set(commitB, strings.Replace(registeredFile, "cron(0 3 * * ? *)", "rate(1 day)", 1))
	require.NoError(t, r.h.Handle(r.ctx, pushTo(t, "main", commitA, t0)))
	require.NoError(t, r.h.Handle(r.ctx, pushTo(t, "main", commitB, t0.Add(time.Minute))))
	name := memGroup + "/" + ScheduleName("github", memRepoName, "nightly", 0)
	assert.Equal(t, []string{name}, r.sched.names())
	assert.Equal(t, "rate(1 day)", r.sched.exprs[name])
	assert.Contains(t, r.sched.calls, "Create "+ScheduleName("github", memRepoName, "nightly", 0))
	assert.Equal(t, "Update "+ScheduleName("github", memRepoName, "nightly", 0), r.sched.calls[len(r.sched.calls)-1],
		"an existing schedule is updated, not created again")
}

func TestADeletedOrInvalidFileMarksTheEntryAndRemovesItsSchedulesAndIndex(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		file    string
		problem string
		log     string
	}{
		{"a deleted file marks the entry", "", "no .stepline.yml at bbbbbbbbbbbb", "no pipeline file at the commit"},
		{"an invalid file marks the entry", "version: 1\npipelines: [{name: x}]\n", ".stepline.yml at bbbbbbbbbbbb is not a valid pipeline file", "not a valid pipeline file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newMemRig(t)
			r.repo.set(commitA, registeredFile)
			r.repo.set(commitB, tc.file)
			require.NoError(t, r.h.Handle(r.ctx, pushTo(t, "main", commitA, t0)))
			require.NoError(t, r.h.Handle(r.ctx, pushTo(t, "main", commitB, t0.Add(time.Minute))))

			e := r.reg.entry(t, "github", memRepoName)
			assert.Contains(t, e.Problem, tc.problem)
			assert.Nil(t, e.File, "the old file is not kept where a lookup could use it")
			assert.Equal(t, commitB, e.Commit)
			assert.Empty(t, r.sched.names())
			assert.Empty(t, r.reg.indexed("api"))
			assert.Contains(t, r.logs.String(), "registry entry marked")
			assert.Contains(t, r.logs.String(), tc.log)

			// Neither an image push nor a stale schedule starts anything from a marked entry.
			before := len(r.sfn.started())
			require.NoError(t, r.h.Handle(r.ctx, ecrEvent(t, "api", "latest")))
			require.NoError(t, r.h.Invoke(r.ctx, scheduleInput(t, "nightly", 0, "main", "2026-12-02T03:00:00Z")))
			assert.Len(t, r.sfn.started(), before)
			assert.Contains(t, r.logs.String(), "is marked")
		})
	}
}

func TestAnOlderPushArrivingLateDoesNotReplaceTheRegisteredCopy(t *testing.T) {
	t.Parallel()
	r := newMemRig(t)
	r.repo.set(commitA, registeredFile)
	r.repo.set(commitB, plainFile)
	require.NoError(t, r.h.Handle(r.ctx, pushTo(t, "main", commitB, t0.Add(time.Minute))))
	require.NoError(t, r.h.Handle(r.ctx, pushTo(t, "main", commitA, t0)), "the late event is acknowledged")
	e := r.reg.entry(t, "github", memRepoName)
	assert.Equal(t, commitB, e.Commit)
	assert.Empty(t, r.sched.names(), "the older file's schedules are not synced")
	assert.Contains(t, r.logs.String(), "later push")
}

func TestAFailureHalfWayIsFinishedByTheRetry(t *testing.T) {
	t.Parallel()
	r := newMemRig(t)
	r.repo.set(commitA, registeredFile)
	r.repo.set(commitB, plainFile)
	require.NoError(t, r.h.Handle(r.ctx, pushTo(t, "main", commitA, t0)))

	fail := errOnce(&schedtypes.InternalServerException{Message: aws.String("Internal Server Error")})
	r.sched.fail = func(op, _ string) error {
		if op == "Delete" {
			return fail()
		}
		return nil
	}
	e := pushTo(t, "main", commitB, t0.Add(time.Minute))
	err := r.h.Handle(r.ctx, e)
	require.Error(t, err, "a Scheduler outage is worth the retry")
	half := r.reg.entry(t, "github", memRepoName)
	assert.Equal(t, commitB, half.Commit, "the new copy is registered at once")
	assert.Equal(t, []string{ScheduleName("github", memRepoName, "nightly", 0)}, half.RetiredSchedules, "what is left to remove is recorded")
	assert.Equal(t, []string{"api"}, half.RetiredImages)

	require.NoError(t, r.h.Handle(r.ctx, e), "the queue's retry of the same event")
	done := r.reg.entry(t, "github", memRepoName)
	assert.Empty(t, done.RetiredSchedules)
	assert.Empty(t, done.RetiredImages)
	assert.Empty(t, r.sched.names())
	assert.Empty(t, r.reg.indexed("api"))
}

func TestARefusedCronIsLoggedAndDoesNotBlockTheCopy(t *testing.T) {
	t.Parallel()
	r := newMemRig(t)
	r.repo.set(commitA, registeredFile)
	r.sched.fail = func(op, _ string) error {
		if op == "Create" {
			return &schedtypes.ValidationException{Message: aws.String("Invalid Schedule Expression cron(0 3 * * ? *).")}
		}
		return nil
	}
	require.NoError(t, r.h.Handle(r.ctx, pushTo(t, "main", commitA, t0)))
	assert.Equal(t, commitA, r.reg.entry(t, "github", memRepoName).Commit)
	assert.Contains(t, r.logs.String(), "refuses the schedule")
}

func TestARegistryOutageIsRetriedBeforeAnythingRuns(t *testing.T) {
	t.Parallel()
	r := newMemRig(t)
	r.repo.set(commitA, registeredFile)
	r.reg.fail = func(op string) error {
		if op == "Registration" {
			return errUnavailable
		}
		return nil
	}
	require.ErrorIs(t, r.h.Handle(r.ctx, pushTo(t, "main", commitA, t0)), errUnavailable)
	assert.Empty(t, r.sfn.started())
	recs, err := r.runs.ListRuns(r.ctx, store.Filter{})
	require.NoError(t, err)
	assert.Empty(t, recs, "no run was created")
}

// ecrEvent is a successful ECR push of repo:tag, shaped as events/trigger/ecr-image-push.json.
func ecrEvent(t *testing.T, repo, tag string) events.CloudWatchEvent {
	t.Helper()
	detail, err := json.Marshal(ImageAction{ActionType: "PUSH", Result: "SUCCESS", RepositoryName: repo,
		ImageDigest: "sha256:" + strings.Repeat("7f", 32), ImageTag: tag})
	require.NoError(t, err)
	return events.CloudWatchEvent{Version: "0", ID: "13cde686-328b-6117-af20-0e5566167482", DetailType: ECRDetailType, Source: ECRSource,
		AccountID: "123456789012", Time: t0.Add(time.Hour), Region: "us-west-2", Resources: []string{}, Detail: detail}
}

// scheduleInput is what Scheduler sends for the schedule of trigger index of pipeline.
func scheduleInput(t *testing.T, pipeline string, index int, branch, at string) json.RawMessage {
	t.Helper()
	raw, err := json.Marshal(map[string]ScheduleInput{ScheduleKey: {Provider: "github", Repository: memRepoName,
		Pipeline: pipeline, Trigger: index, Branch: branch, Time: at}})
	require.NoError(t, err)
	return raw
}

func TestAFileTooLargeForTheRegistryMarksTheEntryInsteadOfRetryingForever(t *testing.T) {
	t.Parallel()
	r := newMemRig(t)
	r.repo.set(commitA, registeredFile)
	real := r.reg
	require.NoError(t, r.h.Handle(r.ctx, pushTo(t, "main", commitA, t0)))
	require.Len(t, r.sched.names(), 1)

	r.repo.set(commitB, registeredFile+"# a comment that makes it too large\n")
	r.h.registry = tooLargeRegistry{real}
	require.NoError(t, r.h.Handle(r.ctx, pushTo(t, "main", commitB, t0.Add(time.Minute))))
	e := real.entry(t, "github", memRepoName)
	assert.Contains(t, e.Problem, "exceeds DynamoDB's 400 KB limit")
	assert.Equal(t, commitB, e.Commit)
	assert.Empty(t, r.sched.names(), "the old file's schedules are removed")
	assert.Empty(t, real.indexed("api"), "and its index items, the ones just written too")
	assert.Empty(t, e.RetiredImages)
}

// tooLargeRegistry refuses, as dynamo.Store does, an entry whose file does not fit.
type tooLargeRegistry struct{ *memRegistry }

func (t tooLargeRegistry) PutRegistration(ctx context.Context, r dynamo.Registration) error {
	if len(r.File) > 0 {
		return fmt.Errorf("put registration: %w", dynamo.ErrTooLarge)
	}
	return t.memRegistry.PutRegistration(ctx, r)
}
