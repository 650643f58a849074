package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func buildDeploy(mode Mode) Definition {
	return sourced(mode,
		Stage{Name: "Build", Actions: []Action{
			act("Test", "codebuild", in("source")),
			act("Compile", "codebuild", in("source"), out("bin"), ns("build")),
			act("Package", "codebuild", order(2), in("bin"), out("pkg")),
		}},
		Stage{Name: "Deploy", Actions: []Action{
			act("Release", "local", in("pkg"), cfg("path", "/srv/#{build.VERSION}/#{source.branch}")),
		}},
	)
}

func TestStagesRunInOrderAndTheRunSucceeds(t *testing.T) {
	t.Parallel()
	r := newRun(t, buildDeploy(ModeParallel), RunInfo{Variables: map[string]map[string]string{"source": {"branch": "main"}}})
	d := r.advance()
	assert.Equal(t, []string{"Source/Source#1"}, names(d.Start))
	assert.Empty(t, d.Acquire, "parallel mode takes no locks")

	d = r.succeed("Source", "Source")
	assert.Equal(t, []string{"Build/Test#1", "Build/Compile#1"}, names(d.Start), "equal run_order starts together")

	d = r.succeed("Build", "Test")
	assert.Empty(t, d.Start, "run_order 2 waits for the whole first group")
	d = r.succeed("Build", "Compile", "VERSION", "1.2.3")
	assert.Equal(t, []string{"Build/Package#1"}, names(d.Start))
	assert.Equal(t, []Artifact{{Name: "bin", Location: "loc:bin:r1"}}, d.Start[0].Inputs, "artifacts flow from outputs to inputs")

	d = r.succeed("Build", "Package")
	require.Len(t, d.Start, 1)
	assert.Equal(t, "/srv/1.2.3/main", d.Start[0].Config["path"], "variables of earlier actions are resolved")
	assert.Equal(t, "loc:pkg:r1", d.Start[0].Input("pkg"))

	d = r.succeed("Deploy", "Release")
	assert.True(t, d.Done)
	assert.Equal(t, Succeeded, r.st.Status)
	assert.Equal(t, []string{
		"pipeline:STARTED", "stage:STARTED:Source", "action:STARTED:Source/Source",
		"action:SUCCEEDED:Source/Source", "stage:SUCCEEDED:Source",
		"stage:STARTED:Build", "action:STARTED:Build/Test", "action:STARTED:Build/Compile",
		"action:SUCCEEDED:Build/Test", "action:SUCCEEDED:Build/Compile", "action:STARTED:Build/Package",
		"action:SUCCEEDED:Build/Package", "stage:SUCCEEDED:Build",
		"stage:STARTED:Deploy", "action:STARTED:Deploy/Release",
		"action:SUCCEEDED:Deploy/Release", "stage:SUCCEEDED:Deploy", "pipeline:SUCCEEDED",
	}, states(r.events))
}

func TestLockedModesAskForEveryStageAndReleaseIt(t *testing.T) {
	t.Parallel()
	for _, mode := range []Mode{ModeSuperseded, ModeQueued, ""} {
		r := newRun(t, buildDeploy(mode), RunInfo{})
		d := r.advance()
		assert.Equal(t, "Source", d.Acquire)
		assert.Empty(t, d.Start, "nothing starts before the lock is granted")
		assert.Equal(t, "Source", r.advance().Acquire, "asking again is repeated until granted")
		d = r.grant()
		assert.Equal(t, []string{"Source/Source#1"}, names(d.Start))
		d = r.succeed("Source", "Source")
		assert.Equal(t, []string{"Source"}, d.Release)
		assert.Equal(t, "Build", d.Acquire)
		d = r.advance(Input{Kind: KindGranted, Stage: "Deploy"})
		assert.Len(t, d.Ignored, 1, "a grant for another stage is ignored")
	}
}

func TestAFailedActionFailsTheRunAndNothingAfterItStarts(t *testing.T) {
	t.Parallel()
	r := newRun(t, buildDeploy(ModeParallel), RunInfo{})
	r.advance()
	r.succeed("Source", "Source")
	d := r.fail("Build", "Test", false)
	assert.Empty(t, d.Start)
	assert.False(t, d.Done, "a sibling still running keeps the stage open")
	d = r.succeed("Build", "Compile")
	assert.True(t, d.Done)
	assert.Empty(t, d.Start, "the next group never starts after a failure")
	assert.Equal(t, Failed, r.st.Status)
	assert.Equal(t, "action Test failed: boom", r.st.Message)
	assert.Equal(t, 0, r.startCount("Deploy", "Release"))
}

func TestActionRetriesWaitWithExponentialBackoff(t *testing.T) {
	t.Parallel()
	def := sourced(ModeParallel, Stage{Name: "Build", Actions: []Action{
		act("Flaky", "codebuild", func(a *Action) {
			a.Retry = RetryPolicy{MaxAttempts: 4, Backoff: 10 * time.Second, MaxBackoff: 30 * time.Second}
		}),
	}})
	r := newRun(t, def, RunInfo{})
	r.advance()
	r.succeed("Source", "Source")

	d := r.fail("Build", "Flaky", false)
	assert.Empty(t, d.Start)
	assert.Equal(t, t0.Add(10*time.Second), d.WakeAt)

	r.now = t0.Add(9 * time.Second)
	assert.Empty(t, r.advance().Start, "not before the backoff has passed")
	r.now = t0.Add(10 * time.Second)
	d = r.advance()
	assert.Equal(t, []string{"Build/Flaky#2"}, names(d.Start))

	d = r.fail("Build", "Flaky", false)
	assert.Equal(t, r.now.Add(20*time.Second), d.WakeAt, "the wait doubles")
	r.now = d.WakeAt
	r.advance()
	d = r.fail("Build", "Flaky", false)
	assert.Equal(t, r.now.Add(30*time.Second), d.WakeAt, "the wait is capped by max_backoff")
	r.now = d.WakeAt
	r.advance()
	d = r.fail("Build", "Flaky", false)
	assert.True(t, d.Done, "after max_attempts the failure counts")
	assert.Equal(t, 4, r.startCount("Build", "Flaky"))
}

func TestFinalFailuresAreNotRetried(t *testing.T) {
	t.Parallel()
	def := sourced(ModeParallel, Stage{Name: "Build", Actions: []Action{act("B", "codebuild", retry(3, 0))}})
	r := newRun(t, def, RunInfo{})
	r.advance()
	r.succeed("Source", "Source")
	d := r.fail("Build", "B", true)
	assert.True(t, d.Done)
	assert.Equal(t, 1, r.startCount("Build", "B"))
}

func TestApprovals(t *testing.T) {
	t.Parallel()
	def := sourced(ModeParallel,
		Stage{Name: "Release", Actions: []Action{act("Approve", ProviderApproval, timeout(time.Hour), retry(3, 0))}},
		Stage{Name: "Prod", Actions: []Action{act("Deploy", "local")}},
	)
	t.Run("an approval lets the run go on", func(t *testing.T) {
		r := newRun(t, def, RunInfo{})
		r.advance()
		r.succeed("Source", "Source")
		d := r.succeed("Release", "Approve")
		assert.Equal(t, []string{"Prod/Deploy#1"}, names(d.Start))
	})
	t.Run("a rejection stops the run even with a retry policy", func(t *testing.T) {
		r := newRun(t, def, RunInfo{})
		r.advance()
		r.succeed("Source", "Source")
		d := r.advance(r.task("Release", "Approve").Failed("rejected by ana", false))
		assert.True(t, d.Done)
		assert.Equal(t, Failed, r.st.Status)
		assert.Contains(t, r.st.Message, "rejected by ana")
		assert.Equal(t, 0, r.startCount("Prod", "Deploy"))
	})
	t.Run("an unanswered approval times out", func(t *testing.T) {
		r := newRun(t, def, RunInfo{})
		r.advance()
		d := r.succeed("Source", "Source")
		assert.Equal(t, t0.Add(time.Hour), d.WakeAt, "the deadline is a wake-up time")
		r.now = t0.Add(time.Hour)
		d = r.advance()
		assert.True(t, d.Done)
		assert.Equal(t, []string{"Release/Approve#1"}, names(d.Stop), "the pending approval is withdrawn")
		assert.Contains(t, r.st.Message, "timed out after 1h0m0s")
		d = r.succeed("Release", "Approve")
		assert.NotEmpty(t, d.Ignored, "a late approval changes nothing")
		assert.Equal(t, Failed, r.st.Status)
	})
}

func TestATimedOutBuildIsStoppedAndRetried(t *testing.T) {
	t.Parallel()
	def := sourced(ModeParallel, Stage{Name: "Build", Actions: []Action{act("B", "codebuild", timeout(time.Minute), retry(2, 0))}})
	r := newRun(t, def, RunInfo{})
	r.advance()
	r.succeed("Source", "Source")
	r.now = t0.Add(time.Minute)
	d := r.advance()
	assert.Equal(t, []string{"Build/B#1"}, names(d.Stop))
	assert.Equal(t, []string{"Build/B#2"}, names(d.Start), "a zero backoff retries at once")
	first := r.started[1]
	d = r.advance(first.Succeeded(nil, nil))
	assert.Len(t, d.Ignored, 1, "the timed-out attempt's late result is ignored")
	d = r.succeed("Build", "B")
	assert.True(t, d.Done)
	assert.Equal(t, Succeeded, r.st.Status)
}

func TestStageRetry(t *testing.T) {
	t.Parallel()
	stage := func(scope RetryScope, attempts int) Definition {
		return sourced(ModeParallel, Stage{Name: "Deploy", OnFailure: FailurePolicy{Result: Retry, Attempts: attempts, Scope: scope},
			Actions: []Action{act("A", "local"), act("B", "local")}})
	}
	t.Run("retrying failed actions leaves the succeeded ones alone", func(t *testing.T) {
		r := newRun(t, stage(FailedActions, 1), RunInfo{})
		r.advance()
		r.succeed("Source", "Source")
		r.succeed("Deploy", "A")
		d := r.fail("Deploy", "B", false)
		assert.Equal(t, []string{"Deploy/B#2"}, names(d.Start))
		assert.Contains(t, states(d.Events), "stage:RESUMED:Deploy")
		d = r.succeed("Deploy", "B")
		assert.True(t, d.Done)
		assert.Equal(t, Succeeded, r.st.Status)
		assert.Equal(t, 1, r.startCount("Deploy", "A"))
	})
	t.Run("retrying all actions runs every action again", func(t *testing.T) {
		r := newRun(t, stage(AllActions, 1), RunInfo{})
		r.advance()
		r.succeed("Source", "Source")
		r.succeed("Deploy", "A")
		d := r.fail("Deploy", "B", true)
		assert.Equal(t, []string{"Deploy/A#2", "Deploy/B#2"}, names(d.Start), "even a final failure is retried by the stage")
	})
	t.Run("the stage fails once its retries are used up", func(t *testing.T) {
		r := newRun(t, stage(FailedActions, 2), RunInfo{})
		r.advance()
		r.succeed("Source", "Source")
		r.succeed("Deploy", "A")
		r.fail("Deploy", "B", false)
		r.fail("Deploy", "B", false)
		d := r.fail("Deploy", "B", false)
		assert.True(t, d.Done)
		assert.Contains(t, r.st.Message, "stage retried 2 times")
		assert.Equal(t, 3, r.startCount("Deploy", "B"))
	})
}

func TestRollback(t *testing.T) {
	t.Parallel()
	def := sourced(ModeParallel,
		Stage{Name: "Build", Actions: []Action{act("B", "codebuild", in("source"), out("bin"))}},
		Stage{Name: "Deploy", OnFailure: FailurePolicy{Result: Rollback}, Actions: []Action{
			act("Gate", ProviderApproval),
			act("Release", "local", order(2), in("bin")),
			act("Check", "codebuild", order(3), in("source")),
		}},
	)
	prev := map[string]string{"bin": "old-bin", "source": "old-source"}
	toDeploy := func(r *run) {
		r.advance()
		r.succeed("Source", "Source")
		r.succeed("Build", "B")
		r.succeed("Deploy", "Gate")
		r.succeed("Deploy", "Release")
	}
	t.Run("a failed stage redeploys the previous run's artifacts and the run fails", func(t *testing.T) {
		r := newRun(t, def, RunInfo{Previous: prev})
		toDeploy(r)
		d := r.fail("Deploy", "Check", false)
		require.Equal(t, []string{"Deploy/Release#2"}, names(d.Start), "approvals are not asked again")
		assert.True(t, d.Start[0].Rollback)
		assert.Equal(t, []Artifact{{Name: "bin", Location: "old-bin"}}, d.Start[0].Inputs)
		assert.Contains(t, states(d.Events), "stage:ROLLING_BACK:Deploy")
		d = r.succeed("Deploy", "Release")
		assert.Equal(t, []string{"Deploy/Check#2"}, names(d.Start))
		d = r.succeed("Deploy", "Check")
		assert.True(t, d.Done)
		assert.Equal(t, Failed, r.st.Status)
		assert.Equal(t, "action Check failed: boom", r.st.Message)
		assert.Contains(t, r.st.Stages[2].Message, "rolled back")
		assert.Equal(t, "loc:bin:r1", r.st.Artifacts["bin"], "a rollback does not overwrite the run's artifacts")
	})
	t.Run("without an earlier successful run the stage just fails", func(t *testing.T) {
		r := newRun(t, def, RunInfo{})
		toDeploy(r)
		d := r.fail("Deploy", "Check", false)
		assert.True(t, d.Done)
		assert.Contains(t, r.st.Message, "cannot roll back: no earlier successful run")
	})
	t.Run("a failing rollback is reported and not retried", func(t *testing.T) {
		r := newRun(t, def, RunInfo{Previous: prev})
		toDeploy(r)
		r.fail("Deploy", "Check", false)
		d := r.fail("Deploy", "Release", false)
		assert.True(t, d.Done)
		assert.Contains(t, r.st.Stages[2].Message, "rollback failed")
	})
	t.Run("a previous run lacking an input artifact cannot be rolled back to", func(t *testing.T) {
		r := newRun(t, def, RunInfo{Previous: map[string]string{"bin": "old"}})
		toDeploy(r)
		r.fail("Deploy", "Check", false)
		assert.Contains(t, r.st.Message, `has no artifact "source"`)
	})
}

func TestCancellation(t *testing.T) {
	t.Parallel()
	r := newRun(t, buildDeploy(ModeQueued), RunInfo{})
	r.advance()
	r.grant()
	r.succeed("Source", "Source")
	r.grant()
	d := r.advance(Input{Kind: KindCancel, Message: "Ctrl-C"})
	assert.True(t, d.Done)
	assert.Equal(t, []string{"Build/Test#1", "Build/Compile#1"}, names(d.Stop), "running actions are stopped")
	assert.Equal(t, []string{"Build"}, d.Release, "the stage lock is given back")
	assert.Equal(t, Canceled, r.st.Status)
	assert.Equal(t, []string{"action:CANCELED:Build/Test", "action:CANCELED:Build/Compile", "stage:CANCELED:Build", "pipeline:CANCELED"}, states(d.Events))
	d = r.succeed("Build", "Test")
	assert.Equal(t, []string{"result Build/Test#1: the run has ended"}, d.Ignored)
	assert.Empty(t, d.Events)
}

func TestSupersededOnlyWhileWaiting(t *testing.T) {
	t.Parallel()
	r := newRun(t, buildDeploy(ModeSuperseded), RunInfo{})
	r.advance()
	r.grant()
	d := r.advance(Input{Kind: KindSuperseded, By: "r2"})
	assert.Len(t, d.Ignored, 1, "a run inside a stage is never superseded")
	r.succeed("Source", "Source")
	d = r.advance(Input{Kind: KindSuperseded, By: "r2"})
	assert.True(t, d.Done)
	assert.Equal(t, Superseded, r.st.Status)
	assert.Equal(t, "superseded by run r2", r.st.Message)
	assert.Equal(t, []string{"Build"}, d.Release, "the waiter withdraws from the lane")
}

func TestDuplicateAndStrayInputsChangeNothing(t *testing.T) {
	t.Parallel()
	r := newRun(t, buildDeploy(ModeParallel), RunInfo{})
	r.advance()
	res := r.task("Source", "Source").Succeeded(map[string]string{"source": "s"}, nil)
	r.advance(res)
	before := r.st
	for _, in := range []Input{
		res,
		{Kind: KindResult, Stage: "Nope", Action: "X", Attempt: 1, Status: Succeeded},
		{Kind: KindResult, Stage: "Build", Action: "Test", Attempt: 7, Status: Failed},
		{Kind: KindResult, Stage: "Build", Action: "Test", Attempt: 1, Status: "WEIRD"},
		{Kind: KindGranted, Stage: "Build"},
		{Kind: "bogus"},
	} {
		d := r.advance(in)
		assert.Equal(t, before, r.st, "input %+v", in)
		assert.Empty(t, d.Start)
		assert.Empty(t, d.Events)
		assert.Len(t, d.Ignored, 1)
	}
}

func TestUnresolvedVariablesAndMissingOutputsFailTheAction(t *testing.T) {
	t.Parallel()
	def := sourced(ModeParallel, Stage{Name: "Deploy", Actions: []Action{
		act("D", "local", cfg("path", "#{build.NOPE}"), retry(3, 0)),
	}})
	r := newRun(t, def, RunInfo{})
	r.advance()
	d := r.succeed("Source", "Source")
	assert.Empty(t, d.Start)
	assert.True(t, d.Done)
	assert.Equal(t, "action D failed: unresolved variable #{build.NOPE}", r.st.Message)

	r = newRun(t, buildDeploy(ModeParallel), RunInfo{})
	r.advance()
	d = r.advance(r.task("Source", "Source").Succeeded(nil, nil))
	assert.True(t, d.Done)
	assert.Contains(t, r.st.Message, `did not produce its output artifact "source"`)
}

func TestAStateOfAnotherDefinitionIsRefused(t *testing.T) {
	t.Parallel()
	def := buildDeploy(ModeParallel)
	st := New(def, RunInfo{ID: "r"})
	other := def
	other.Stages = def.Stages[:2]
	_, _, err := Advance(other, st, nil, t0)
	assert.ErrorIs(t, err, ErrMismatch)
	st.Version = 99
	_, _, err = Advance(def, st, nil, t0)
	assert.ErrorIs(t, err, ErrMismatch)
}

func TestPipelineVariablesAreSeeded(t *testing.T) {
	t.Parallel()
	st := New(buildDeploy(""), RunInfo{ID: "r9", Seq: 9, Variables: map[string]map[string]string{"env": {"name": "prod"}}})
	assert.Equal(t, map[string]string{"name": "app", "execution_id": "r9", "run_number": "9"}, st.Vars["pipeline"])
	assert.Equal(t, "prod", st.Vars["env"]["name"])
}

func TestExpand(t *testing.T) {
	t.Parallel()
	vars := map[string]map[string]string{"a": {"b": "B", "c": ""}}
	for _, c := range []struct{ in, want, err string }{
		{"plain", "plain", ""},
		{"x#{a.b}y#{a.b}", "xByB", ""},
		{"#{a.c}", "", ""},
		{"#{a.z}", "", "unresolved variable #{a.z}"},
		{"#{ab}", "", "unresolved variable #{ab}"},
		{"#{a.b", "", "unterminated"},
	} {
		got, err := Expand(c.in, vars)
		if c.err != "" {
			require.Error(t, err, c.in)
			assert.True(t, strings.Contains(err.Error(), c.err), err.Error())
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, c.want, got)
	}
}
