package engine

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func approvalThenDeploy(mode Mode) Definition {
	return sourced(mode,
		Stage{Name: "Release", Actions: []Action{act("Approve", ProviderApproval, timeout(time.Hour))}},
		Stage{Name: "Prod", Actions: []Action{act("Deploy", "local", in("source"))}},
	)
}

func TestAPersonsApprovalDecision(t *testing.T) {
	t.Parallel()
	waiting := func(t *testing.T) *run {
		r := newRun(t, approvalThenDeploy(ModeParallel), RunInfo{})
		r.advance()
		r.succeed("Source", "Source")
		return r
	}
	t.Run("an approval records who and the comment, stops the waiting prompt and the run goes on", func(t *testing.T) {
		r := waiting(t)
		d := r.advance(Input{Kind: KindApproval, Stage: "Release", Action: "Approve", Status: Succeeded, Who: "ana", Message: "ship it"})
		assert.Equal(t, []string{"Release/Approve#1"}, names(d.Stop), "the executor still waiting is stopped")
		assert.Equal(t, []string{"Prod/Deploy#1"}, names(d.Start))
		assert.Equal(t, "approved by ana: ship it", r.st.Stages[1].Actions[0].Message)
		assert.Contains(t, states(d.Events), "action:SUCCEEDED:Release/Approve")
		d = r.succeed("Release", "Approve")
		assert.NotEmpty(t, d.Ignored, "the stopped prompt's late answer changes nothing")
	})
	t.Run("a rejection fails the run for good with who and why", func(t *testing.T) {
		r := waiting(t)
		d := r.advance(Input{Kind: KindApproval, Stage: "Release", Action: "Approve", Status: Failed, Who: "bo", Message: "not today"})
		assert.True(t, d.Done)
		assert.Equal(t, Failed, r.st.Status)
		assert.Contains(t, r.st.Message, "rejected by bo: not today")
	})
	t.Run("a decision on an action that is not waiting is ignored with the reason", func(t *testing.T) {
		r := newRun(t, approvalThenDeploy(ModeParallel), RunInfo{})
		r.advance()
		d := r.advance(Input{Kind: KindApproval, Stage: "Release", Action: "Approve", Status: Succeeded})
		require.Len(t, d.Ignored, 1)
		assert.Contains(t, d.Ignored[0], "not waiting for a decision")
		assert.Contains(t, r.advance(Input{Kind: KindApproval, Stage: "Source", Action: "Source", Status: Succeeded}).Ignored[0], "not an approval")
	})
	t.Run("a decision for an older attempt is ignored", func(t *testing.T) {
		r := waiting(t)
		d := r.advance(Input{Kind: KindApproval, Stage: "Release", Action: "Approve", Attempt: 7, Status: Succeeded})
		assert.Contains(t, d.Ignored[0], "attempt 7 is not the waiting one")
		assert.Equal(t, InProgress, r.st.Stages[1].Actions[0].Status)
	})
}

func failedDeploy(t *testing.T, mode Mode) *run {
	t.Helper()
	def := sourced(mode, Stage{Name: "Deploy", Actions: []Action{
		act("A", "local", in("source")), act("B", "local", in("source")), act("C", "local", order(2), in("source")),
	}})
	r := newRun(t, def, RunInfo{})
	r.advance()
	if mode != ModeParallel {
		r.grant()
	}
	r.succeed("Source", "Source")
	if mode != ModeParallel {
		r.grant()
	}
	r.succeed("Deploy", "A")
	d := r.fail("Deploy", "B", true)
	require.True(t, d.Done)
	require.Equal(t, Failed, r.st.Status)
	return r
}

func TestRetryOfAFailedStage(t *testing.T) {
	t.Parallel()
	t.Run("only the failed and never-run actions run again and the run can succeed", func(t *testing.T) {
		r := failedDeploy(t, ModeParallel)
		assert.Equal(t, Pending, r.st.Stages[1].Actions[2].Status, "C never ran")
		d := r.advance(Input{Kind: KindRetry, Stage: "Deploy", Who: "ana"})
		assert.Equal(t, InProgress, r.st.Status)
		assert.Equal(t, []string{"Deploy/B#2"}, names(d.Start))
		assert.Contains(t, states(d.Events), "pipeline:RESUMED")
		assert.Equal(t, "retry of stage Deploy (failed actions) by ana", d.Events[0].Message)
		r.succeed("Deploy", "B")
		d = r.succeed("Deploy", "C")
		assert.True(t, d.Done)
		assert.Equal(t, Succeeded, r.st.Status)
		assert.Empty(t, r.st.Message)
		assert.Equal(t, 1, r.startCount("Deploy", "A"), "a succeeded action keeps its result")
	})
	t.Run("all runs every action of the stage again", func(t *testing.T) {
		r := failedDeploy(t, ModeParallel)
		d := r.advance(Input{Kind: KindRetry, Stage: "Deploy", All: true})
		assert.Equal(t, []string{"Deploy/A#2", "Deploy/B#2"}, names(d.Start))
	})
	t.Run("in a locked mode the stage asks for its lock again", func(t *testing.T) {
		r := failedDeploy(t, ModeQueued)
		assert.Contains(t, r.last.Release, "Deploy", "the failed stage gave its lock back")
		d := r.advance(Input{Kind: KindRetry, Stage: "Deploy"})
		assert.Equal(t, "Deploy", d.Acquire)
		assert.Empty(t, d.Start, "nothing runs before the lock is granted")
		d = r.grant()
		assert.Equal(t, []string{"Deploy/B#2"}, names(d.Start))
	})
	t.Run("the run's result from before the retry does not count", func(t *testing.T) {
		r := failedDeploy(t, ModeParallel)
		old := r.task("Deploy", "B")
		r.advance(Input{Kind: KindRetry, Stage: "Deploy"})
		d := r.advance(old.Succeeded(nil, nil))
		assert.NotEmpty(t, d.Ignored)
	})
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T) *run
		stage string
		why   string
	}{
		{"a run in progress cannot be retried", func(t *testing.T) *run {
			r := newRun(t, approvalThenDeploy(ModeParallel), RunInfo{})
			r.advance()
			return r
		}, "Source", "only a FAILED run"},
		{"a stage other than the failed one cannot be retried", func(t *testing.T) *run { return failedDeploy(t, ModeParallel) }, "Source", "failed in stage Deploy, not in Source"},
		{"a stage that does not exist cannot be retried", func(t *testing.T) *run { return failedDeploy(t, ModeParallel) }, "Nope", "no stage Nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.setup(t)
			err := CheckRetry(r.def, r.st, tc.stage)
			require.ErrorIs(t, err, ErrNotAllowed)
			assert.Contains(t, err.Error(), tc.why)
			before := r.st
			d := r.advance(Input{Kind: KindRetry, Stage: tc.stage})
			require.Len(t, d.Ignored, 1)
			assert.Contains(t, d.Ignored[0], tc.why, "Advance ignores it with the same reason")
			assert.Equal(t, before.Status, r.st.Status)
		})
	}
}

func TestStopLetsRunningActionsFinish(t *testing.T) {
	t.Parallel()
	def := sourced(ModeQueued, Stage{Name: "Build", Actions: []Action{
		act("A", "codebuild", in("source")), act("B", "codebuild", in("source")), act("C", "codebuild", order(2), in("source"), retry(3, time.Minute)),
	}})
	start := func(t *testing.T) *run {
		r := newRun(t, def, RunInfo{})
		r.advance()
		r.grant()
		r.succeed("Source", "Source")
		r.grant()
		return r
	}
	t.Run("nothing new starts and the run ends CANCELED when the last running action ends", func(t *testing.T) {
		r := start(t)
		d := r.advance(Input{Kind: KindStop, Who: "ana", Message: "wrong branch"})
		assert.False(t, d.Done)
		assert.Empty(t, d.Stop, "running actions are not stopped")
		assert.Contains(t, states(d.Events), "pipeline:STOPPING")
		assert.ErrorIs(t, CheckStop(r.st, false), ErrNotAllowed, "a second stop-and-wait is refused")
		assert.NoError(t, CheckStop(r.st, true), "but it can still be abandoned")
		d = r.succeed("Build", "A")
		assert.False(t, d.Done)
		assert.Empty(t, d.Start, "C would start now; it does not")
		d = r.succeed("Build", "B")
		assert.True(t, d.Done)
		assert.Equal(t, Canceled, r.st.Status)
		assert.Equal(t, "stopped by ana: wrong branch", r.st.Message)
		assert.Equal(t, []string{"Build"}, d.Release, "the stage lock is given back")
		assert.Equal(t, "loc:source:r1", r.st.Artifacts["source"])
	})
	t.Run("a waiting approval does not hold a stop back", func(t *testing.T) {
		r := newRun(t, approvalThenDeploy(ModeParallel), RunInfo{})
		r.advance()
		r.succeed("Source", "Source")
		d := r.advance(Input{Kind: KindStop})
		assert.True(t, d.Done)
		assert.Equal(t, []string{"Release/Approve#1"}, names(d.Stop))
		assert.Equal(t, Canceled, r.st.Status)
	})
	t.Run("an abandoning stop after it stops the running actions at once", func(t *testing.T) {
		r := start(t)
		r.advance(Input{Kind: KindStop})
		d := r.advance(Input{Kind: KindCancel, Message: "abandoned"})
		assert.True(t, d.Done)
		assert.Equal(t, []string{"Build/A#1", "Build/B#1"}, names(d.Stop))
	})
	t.Run("an ended run cannot be stopped", func(t *testing.T) {
		r := failedDeploy(t, ModeParallel)
		assert.ErrorIs(t, CheckStop(r.st, true), ErrNotAllowed)
		assert.NotEmpty(t, r.advance(Input{Kind: KindStop}).Ignored)
	})
}

func TestRollbackOfAStageToAChosenRun(t *testing.T) {
	t.Parallel()
	def := sourced(ModeQueued,
		Stage{Name: "Build", Actions: []Action{act("B", "codebuild", in("source"), out("bin"))}},
		Stage{Name: "Deploy", Actions: []Action{act("Gate", ProviderApproval), act("Release", "local", order(2), in("bin"))}},
	)
	succeeded := func(t *testing.T) *run {
		r := newRun(t, def, RunInfo{ID: "r2"})
		r.advance()
		for _, step := range [][2]string{{"Source", "Source"}, {"Build", "B"}, {"Deploy", "Gate"}, {"Deploy", "Release"}} {
			if r.last.Acquire != "" {
				r.grant()
			}
			r.succeed(step[0], step[1])
		}
		require.Equal(t, Succeeded, r.st.Status)
		return r
	}
	to := State{Run: "r1", Pipeline: "app", Status: Succeeded, Artifacts: map[string]string{"bin": "old-bin", "source": "old-src"}}
	rollback := Input{Kind: KindRollback, Stage: "Deploy", By: "r1", Outputs: to.Artifacts, Who: "ana"}

	t.Run("the stage's deploy actions run with the chosen run's artifacts, then the run ends rolled back", func(t *testing.T) {
		r := succeeded(t)
		require.NoError(t, CheckRollback(r.def, r.st, "Deploy", to))
		d := r.advance(rollback)
		assert.Equal(t, "Deploy", d.Acquire, "the stage takes its lock again")
		assert.Contains(t, states(d.Events), "stage:ROLLING_BACK:Deploy")
		d = r.grant()
		require.Equal(t, []string{"Deploy/Release#2"}, names(d.Start), "approvals are not asked again")
		assert.True(t, d.Start[0].Rollback)
		assert.Equal(t, []Artifact{{Name: "bin", Location: "old-bin"}}, d.Start[0].Inputs)
		d = r.succeed("Deploy", "Release")
		assert.True(t, d.Done)
		assert.Equal(t, Failed, r.st.Status, "the run's own deploy is no longer live")
		assert.Equal(t, "rollback to run r1 by ana", r.st.Message)
		assert.Contains(t, r.st.Stages[2].Message, "rolled back")
		assert.Equal(t, "loc:bin:r2", r.st.Artifacts["bin"], "the run keeps its own artifacts")
		assert.Equal(t, []string{"Deploy"}, d.Release)
	})
	for _, tc := range []struct {
		name  string
		st    func(t *testing.T) State
		stage string
		to    State
		why   string
	}{
		{"a run in progress", func(t *testing.T) State {
			r := newRun(t, def, RunInfo{})
			r.advance()
			return r.st
		}, "Deploy", to, "stop it first"},
		{"a stage with only approvals", func(t *testing.T) State {
			d := approvalThenDeploy(ModeParallel)
			r := newRun(t, d, RunInfo{})
			r.advance()
			r.succeed("Source", "Source")
			r.succeed("Release", "Approve")
			r.succeed("Prod", "Deploy")
			return r.st
		}, "Release", State{Run: "r0", Pipeline: "app", Status: Succeeded}, "only approvals"},
		{"a target that failed", func(t *testing.T) State { return succeeded(t).st }, "Deploy", State{Run: "r1", Pipeline: "app", Status: Failed}, "only a SUCCEEDED run"},
		{"a target lacking an artifact", func(t *testing.T) State { return succeeded(t).st }, "Deploy", State{Run: "r1", Pipeline: "app", Status: Succeeded}, `no artifact "bin"`},
		{"the run itself", func(t *testing.T) State { return succeeded(t).st }, "Deploy", State{Run: "r2", Pipeline: "app", Status: Succeeded}, "to itself"},
	} {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			st := tc.st(t)
			d := def
			if tc.stage == "Release" {
				d = approvalThenDeploy(ModeParallel)
			}
			err := CheckRollback(d, st, tc.stage, tc.to)
			require.True(t, errors.Is(err, ErrNotAllowed), "%v", err)
			assert.Contains(t, err.Error(), tc.why)
		})
	}
}
