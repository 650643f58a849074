package triggerstep

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// nightlyOnRelease schedules nightly on release/1 (trigger index 1, after a push trigger).
const nightlyOnRelease = `version: 1
pipelines:
  - name: nightly
    triggers:
      - {on: push, branches: [never]}
      - {on: schedule, cron: "cron(0 3 * * ? *)", branch: release/1}
    stages: [{name: Build, actions: [{name: Build, provider: codebuild, inputs: [source]}]}]
`

func TestAScheduleStartsTheNamedPipelineAtTheHeadOfItsBranchOncePerFiring(t *testing.T) {
	t.Parallel()
	r := newMemRig(t)
	r.repo.set(commitA, nightlyOnRelease)
	require.NoError(t, r.h.Handle(r.ctx, pushTo(t, "main", commitA, t0)))
	require.Len(t, r.sched.names(), 1)
	// The branch has moved on since; its own file is what runs.
	r.repo.heads["release/1"] = commitC
	r.repo.set(commitC, strings.Replace(nightlyOnRelease, "name: Build, provider", "name: Compile, provider", 1))

	in := scheduleInput(t, "nightly", 1, "release/1", "2026-12-02T03:00:00Z")
	require.NoError(t, r.h.Invoke(r.ctx, in))
	starts := r.sfn.started()
	require.Len(t, starts, 1, r.logs.String())
	assert.Equal(t, ExecutionName(scheduleKey(ScheduleInput{Provider: "github", Repository: memRepoName, Pipeline: "nightly", Trigger: 1},
		time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)), "nightly"), aws.ToString(starts[0].Name))
	assert.True(t, strings.HasPrefix(aws.ToString(starts[0].Name), "schedule-20261202T030000Z-"))

	rec, err := r.runs.GetRun(r.ctx, runID("github", memRepoName, "nightly", 1))
	require.NoError(t, err)
	assert.Equal(t, commitC, rec.Commit, "the head of the trigger's branch, read when the schedule fires")
	assert.Equal(t, "release/1", rec.Branch)
	assert.Equal(t, memHook, rec.Hook)
	assert.Equal(t, "github", rec.Provider)
	assert.Equal(t, strings.Replace(testStateMachine, ":stateMachine:", ":execution:", 1)+":"+aws.ToString(starts[0].Name), rec.ExecutionARN,
		"the execution started, which the notify function links to")
	assert.Equal(t, "schedule cron(0 3 * * ? *)", rec.Trigger)
	assert.Equal(t, "Compile", rec.Definition.Stages[1].Actions[0].Name, "the pipeline of the branch's own file")
	src := rec.State.Vars["source"]
	assert.Equal(t, "schedule", src["event"])
	assert.Equal(t, "release/1", src["branch"])
	assert.Equal(t, commitC, src["commit_id"])

	require.NoError(t, r.h.Invoke(r.ctx, in), "Scheduler's retry of the same firing")
	assert.Len(t, r.sfn.started(), 1)
	require.NoError(t, r.h.Invoke(r.ctx, scheduleInput(t, "nightly", 1, "release/1", "2026-12-03T03:00:00Z")), "the next night")
	assert.Len(t, r.sfn.started(), 2)
}

func TestSchedulesThatStartNothingAreAcknowledgedAndSayWhy(t *testing.T) {
	t.Parallel()
	r := newMemRig(t)
	r.repo.set(commitA, nightlyOnRelease)
	require.NoError(t, r.h.Handle(r.ctx, pushTo(t, "main", commitA, t0)))
	r.repo.heads["release/1"] = commitB
	r.repo.set(commitB, plainFile)
	tests := []struct {
		name string
		in   func() []byte
		log  string
	}{
		{"a trigger index that is no schedule any more", func() []byte { return scheduleInput(t, "nightly", 0, "release/1", "2026-12-02T03:00:00Z") },
			"has no such schedule trigger"},
		{"a branch the trigger no longer names", func() []byte { return scheduleInput(t, "nightly", 1, "main", "2026-12-02T03:00:00Z") },
			"has no such schedule trigger"},
		{"a repository without a registry entry", func() []byte {
			return []byte(`{"stepline-schedule":{"provider":"github","repository":"acme/gone","pipeline":"nightly","trigger":1,"branch":"release/1","time":"2026-12-02T03:00:00Z"}}`)
		}, "has no registry entry"},
		{"a pipeline missing from the branch's file", func() []byte { return scheduleInput(t, "nightly", 1, "release/1", "2026-12-02T03:00:00Z") },
			`no such pipeline \"nightly\"`},
		{"a time Scheduler did not fill in", func() []byte { return scheduleInput(t, "nightly", 1, "release/1", "<aws.scheduler.scheduled-time>") },
			"is not RFC 3339"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, r.h.Invoke(r.ctx, tc.in()))
			assert.Empty(t, r.sfn.started())
			assert.Contains(t, r.logs.String(), tc.log)
		})
	}
}

func TestAScheduleOnADeletedBranchIsPermanentButAnOutageIsRetried(t *testing.T) {
	t.Parallel()
	r := newMemRig(t)
	r.repo.set(commitA, nightlyOnRelease)
	require.NoError(t, r.h.Handle(r.ctx, pushTo(t, "main", commitA, t0)))
	require.NoError(t, r.h.Invoke(r.ctx, scheduleInput(t, "nightly", 1, "release/1", "2026-12-02T03:00:00Z")), "no head: acknowledged")
	assert.Contains(t, r.logs.String(), "Branch not found")

	r.reg.fail = func(op string) error {
		if op == "Registration" {
			return errUnavailable
		}
		return nil
	}
	require.ErrorIs(t, r.h.Invoke(r.ctx, scheduleInput(t, "nightly", 1, "release/1", "2026-12-02T03:00:00Z")), errUnavailable)
}
