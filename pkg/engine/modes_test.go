package engine

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fleet drives several runs of one pipeline against shared lanes, the way a store would:
// lock requests go to the lane, grants and supersessions go back to the runs.
type fleet struct {
	t     *testing.T
	def   Definition
	runs  map[string]*run
	order []string
	lanes map[string]Lane
	// inside tracks which runs are inside which stage, to check mutual exclusion.
	inside map[string]map[string]bool
}

func newFleet(t *testing.T, def Definition) *fleet {
	return &fleet{t: t, def: def, runs: map[string]*run{}, lanes: map[string]Lane{}, inside: map[string]map[string]bool{}}
}

func (f *fleet) start(id string, seq int64) {
	f.t.Helper()
	r := newRun(f.t, f.def, RunInfo{ID: id, Seq: seq})
	f.runs[id] = r
	f.order = append(f.order, id)
	f.handle(r, r.advance())
}

func (f *fleet) feed(id string, in Input) {
	f.t.Helper()
	r := f.runs[id]
	f.handle(r, r.advance(in))
}

func (f *fleet) handle(r *run, d Decision) {
	f.t.Helper()
	for _, e := range d.Events {
		if e.Type != StageEvent {
			continue
		}
		if f.inside[e.Stage] == nil {
			f.inside[e.Stage] = map[string]bool{}
		}
		switch e.State {
		case Started:
			f.inside[e.Stage][r.st.Run] = true
			if f.def.Mode != ModeParallel && len(f.inside[e.Stage]) > 1 {
				f.t.Fatalf("two runs inside stage %s at once: %v", e.Stage, f.inside[e.Stage])
			}
		case string(Succeeded), string(Failed), string(Canceled):
			delete(f.inside[e.Stage], r.st.Run)
		}
	}
	var follow []func()
	for _, stage := range d.Release {
		lane, next := f.lanes[stage].Release(r.st.Run)
		f.lanes[stage] = lane
		if next != "" {
			follow = append(follow, func() { f.feed(next, Input{Kind: KindGranted, Stage: stage}) })
		}
	}
	if d.Acquire != "" {
		lane, g := f.lanes[d.Acquire].Acquire(f.def.Mode, r.st.Run, r.st.Seq)
		f.lanes[d.Acquire] = lane
		stage := d.Acquire
		id := r.st.Run
		for _, loser := range g.Superseded {
			follow = append(follow, func() { f.feed(loser, Input{Kind: KindSuperseded, By: id}) })
		}
		if g.Granted {
			follow = append(follow, func() { f.feed(id, Input{Kind: KindGranted, Stage: stage}) })
		}
	}
	for _, fn := range follow {
		fn()
	}
}

// finish reports success for the running task of a run.
func (f *fleet) finish(id, stage, action string) {
	f.t.Helper()
	r := f.runs[id]
	t := r.task(stage, action)
	outs := map[string]string{}
	for _, o := range t.Outputs {
		outs[o] = "loc"
	}
	f.feed(id, t.Succeeded(outs, nil))
}

func twoStages(mode Mode) Definition {
	return sourced(mode,
		Stage{Name: "Build", Actions: []Action{act("B", "codebuild", in("source"))}},
		Stage{Name: "Deploy", Actions: []Action{act("D", "local")}},
	)
}

func TestSupersededModeLetsTheNewestWaiterOvertake(t *testing.T) {
	t.Parallel()
	f := newFleet(t, twoStages(ModeSuperseded))
	f.start("r1", 1)
	f.finish("r1", "Source", "Source")
	// r1 is now inside Build; r2 and r3 arrive and pass Source one after the other.
	f.start("r2", 2)
	f.finish("r2", "Source", "Source")
	assert.Equal(t, Waiting, f.runs["r2"].st.Stages[1].Status, "r2 waits for Build")
	f.start("r3", 3)
	f.finish("r3", "Source", "Source")
	assert.Equal(t, Superseded, f.runs["r2"].st.Status, "r3 overtakes the waiting r2")
	assert.Equal(t, "superseded by run r3", f.runs["r2"].st.Message)

	f.finish("r1", "Build", "B")
	assert.Equal(t, InProgress, f.runs["r3"].st.Stages[1].Status, "Build passes to r3 when r1 leaves it")
	f.finish("r1", "Deploy", "D")
	f.finish("r3", "Build", "B")
	f.finish("r3", "Deploy", "D")
	assert.Equal(t, Succeeded, f.runs["r1"].st.Status)
	assert.Equal(t, Succeeded, f.runs["r3"].st.Status)
}

func TestQueuedModeRunsEveryRunInArrivalOrder(t *testing.T) {
	t.Parallel()
	f := newFleet(t, twoStages(ModeQueued))
	f.start("r1", 1)
	f.start("r2", 2)
	f.start("r3", 3)
	assert.Equal(t, Waiting, f.runs["r3"].st.Stages[0].Status)
	for _, id := range []string{"r1", "r2", "r3"} {
		f.finish(id, "Source", "Source")
	}
	for _, id := range []string{"r1", "r2", "r3"} {
		f.finish(id, "Build", "B")
	}
	for _, id := range []string{"r1", "r2", "r3"} {
		f.finish(id, "Deploy", "D")
		assert.Equal(t, Succeeded, f.runs[id].st.Status)
	}
}

func TestParallelModeNeverWaits(t *testing.T) {
	t.Parallel()
	f := newFleet(t, twoStages(ModeParallel))
	f.start("r1", 1)
	f.start("r2", 2)
	f.finish("r2", "Source", "Source")
	f.finish("r1", "Source", "Source")
	assert.Equal(t, InProgress, f.runs["r1"].st.Stages[1].Status)
	assert.Equal(t, InProgress, f.runs["r2"].st.Stages[1].Status)
}

func TestACanceledWaiterDoesNotBlockTheQueue(t *testing.T) {
	t.Parallel()
	f := newFleet(t, twoStages(ModeQueued))
	f.start("r1", 1)
	f.start("r2", 2)
	f.start("r3", 3)
	f.feed("r2", Input{Kind: KindCancel})
	f.finish("r1", "Source", "Source")
	assert.Equal(t, InProgress, f.runs["r3"].st.Stages[0].Status, "the lane skips the canceled r2")
}

// TestRandomFleetsKeepStagesExclusive interleaves many runs at random and checks that a
// locked stage never holds two runs and that every run ends.
func TestRandomFleetsKeepStagesExclusive(t *testing.T) {
	t.Parallel()
	for seed := uint64(0); seed < 100; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		mode := []Mode{ModeQueued, ModeSuperseded, ModeParallel}[seed%3]
		f := newFleet(t, twoStages(mode))
		next := int64(1)
		for step := 0; step < 400; step++ {
			if next <= 6 && (len(f.order) == 0 || rng.IntN(4) == 0) {
				f.start(fmt.Sprintf("r%d", next), next)
				next++
				continue
			}
			id := f.order[rng.IntN(len(f.order))]
			r := f.runs[id]
			if r.st.Done() {
				continue
			}
			sg := r.st.Stages[r.st.Stage]
			if sg.Status != InProgress {
				continue
			}
			f.finish(id, f.def.Stages[r.st.Stage].Name, f.def.Stages[r.st.Stage].Actions[0].Name)
		}
		// Drain: finish whatever is running until every run has ended.
		for guard := 0; guard < 100; guard++ {
			for _, id := range f.order {
				r := f.runs[id]
				if !r.st.Done() && r.st.Stages[r.st.Stage].Status == InProgress {
					f.finish(id, f.def.Stages[r.st.Stage].Name, f.def.Stages[r.st.Stage].Actions[0].Name)
				}
			}
		}
		for _, id := range f.order {
			require.True(t, f.runs[id].st.Done(), "seed %d: run %s did not end (%s)", seed, id, mode)
			if mode != ModeSuperseded {
				require.Equal(t, Succeeded, f.runs[id].st.Status, "seed %d: %s", seed, id)
			}
		}
	}
}
