package engine

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSeveralUnresolvedVariablesAlwaysReportTheSameOne(t *testing.T) {
	t.Parallel()
	def := sourced(ModeParallel, Stage{Name: "D", Actions: []Action{
		act("X", "local", cfg("d", "#{x.d}", "b", "#{x.b}", "a", "#{x.a}", "c", "#{x.c}")),
	}})
	for i := 0; i < 30; i++ {
		r := newRun(t, def, RunInfo{})
		r.advance()
		r.succeed("Source", "Source")
		require.Equal(t, "action X failed: unresolved variable #{x.a}", r.st.Message)
	}
}

func TestARetryWaitingBesideAFinalFailureIsDropped(t *testing.T) {
	t.Parallel()
	def := sourced(ModeParallel,
		Stage{Name: "Build", Actions: []Action{act("A", "codebuild"), act("B", "codebuild", retry(3, time.Minute))}},
		Stage{Name: "Next", Actions: []Action{act("N", "local")}})
	r := newRun(t, def, RunInfo{})
	r.advance()
	r.succeed("Source", "Source")
	d := r.fail("Build", "B", false)
	assert.False(t, d.WakeAt.IsZero(), "B waits for its retry")
	d = r.fail("Build", "A", true)
	assert.True(t, d.Done, "the group is lost: the run ends without waiting for B's retry")
	assert.Empty(t, d.Start)
	r.now = t0.Add(2 * time.Minute)
	d = r.advance()
	assert.Empty(t, d.Start, "B is never started again")
	assert.Equal(t, 1, r.startCount("Build", "B"))
}

func TestASupersededRunEndsItsWaitingStage(t *testing.T) {
	t.Parallel()
	r := newRun(t, buildDeploy(ModeSuperseded), RunInfo{})
	r.advance()
	r.grant()
	d := r.succeed("Source", "Source")
	assert.Contains(t, states(d.Events), "stage:WAITING:Build", "waiting for a lock is announced")
	d = r.advance(Input{Kind: KindSuperseded, By: "r2"})
	assert.Equal(t, Superseded, r.st.Stages[1].Status)
	assert.Equal(t, []string{"stage:SUPERSEDED:Build", "pipeline:SUPERSEDED"}, states(d.Events))
	assert.Equal(t, []string{"Build"}, d.Release)
}

func TestAFailedRollbackNamesTheRollbackFailure(t *testing.T) {
	t.Parallel()
	def := sourced(ModeParallel, Stage{Name: "Deploy", OnFailure: FailurePolicy{Result: Rollback}, Actions: []Action{
		act("Approve", ProviderApproval),
		act("Release", "local", order(2), in("source")),
	}})
	r := newRun(t, def, RunInfo{Previous: map[string]string{"source": "old"}})
	r.advance()
	r.succeed("Source", "Source")
	r.fail("Deploy", "Approve", true)
	d := r.advance(r.task("Deploy", "Release").Failed("disk full", false))
	assert.True(t, d.Done)
	assert.Equal(t, "action Approve failed: boom; rollback failed: action Release failed: disk full", r.st.Message)
}

func TestThePreviousRunCanBeUpdatedUntilARollbackStarts(t *testing.T) {
	t.Parallel()
	def := sourced(ModeParallel, Stage{Name: "Deploy", OnFailure: FailurePolicy{Result: Rollback}, Actions: []Action{
		act("Release", "local", in("source")),
	}})
	r := newRun(t, def, RunInfo{Previous: map[string]string{"source": "p1"}})
	r.advance()
	r.advance(Input{Kind: KindPrevious, Outputs: map[string]string{"source": "p2"}})
	r.succeed("Source", "Source")
	d := r.fail("Deploy", "Release", false)
	require.Len(t, d.Start, 1)
	assert.Equal(t, "p2", d.Start[0].Input("source"), "the newest successful run is rolled back to")
	d = r.advance(Input{Kind: KindPrevious, Outputs: map[string]string{"source": "p3"}})
	assert.Len(t, d.Ignored, 1, "a rollback under way keeps its artifacts")
	assert.Equal(t, "p2", r.st.Previous["source"])
}

func TestARollbackNamesTheRunItRollsBackTo(t *testing.T) {
	t.Parallel()
	def := sourced(ModeParallel, Stage{Name: "Deploy", OnFailure: FailurePolicy{Result: Rollback}, Actions: []Action{
		act("Release", "local", in("source")),
	}})
	r := newRun(t, def, RunInfo{})
	r.advance(Input{Kind: KindPrevious, Outputs: map[string]string{"source": "p2"}, By: "api-6"})
	r.succeed("Source", "Source")
	d := r.fail("Deploy", "Release", false)
	require.Len(t, d.Start, 1)
	assert.True(t, d.Start[0].Rollback)
	var said string
	for _, e := range d.Events {
		if e.State == RollingBack {
			said = e.Message
		}
	}
	assert.Contains(t, said, "rolling back to the artifacts of run api-6")
	assert.Contains(t, r.st.Stages[1].Message, "run api-6")
}
