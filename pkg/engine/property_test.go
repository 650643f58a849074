package engine

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// randomDefinition builds a valid pipeline: artifacts are only consumed after they are
// produced (an earlier stage, or a lower run_order of the same stage).
func randomDefinition(rng *rand.Rand, mode Mode) Definition {
	def := sourced(mode)
	produced := []string{"source"}
	for s := 0; s < 1+rng.IntN(5); s++ {
		st := Stage{Name: fmt.Sprintf("S%d", s)}
		switch rng.IntN(4) {
		case 1:
			st.OnFailure = FailurePolicy{Result: Retry, Attempts: 1 + rng.IntN(2), Scope: []RetryScope{FailedActions, AllActions}[rng.IntN(2)]}
		case 2:
			st.OnFailure = FailurePolicy{Result: Rollback}
		}
		orders := 1 + rng.IntN(3)
		for o := 1; o <= orders; o++ {
			var group []string
			for j := 0; j < 1+rng.IntN(3); j++ {
				a := Action{Name: fmt.Sprintf("A%d_%d", o, j), RunOrder: o, Provider: []string{"codebuild", "local", ProviderApproval}[rng.IntN(3)]}
				if rng.IntN(2) == 0 {
					a.Inputs = []string{produced[rng.IntN(len(produced))]}
				}
				if rng.IntN(2) == 0 {
					name := fmt.Sprintf("art_%d_%s", s, a.Name)
					a.Outputs = []string{name}
					group = append(group, name)
				}
				if rng.IntN(3) == 0 && a.Provider != ProviderApproval {
					a.Retry = RetryPolicy{MaxAttempts: 2 + rng.IntN(2), Backoff: time.Duration(rng.IntN(3)) * time.Second}
				}
				if rng.IntN(4) == 0 {
					a.Timeout = time.Duration(1+rng.IntN(5)) * time.Second
				}
				st.Actions = append(st.Actions, a)
			}
			produced = append(produced, group...)
		}
		def.Stages = append(def.Stages, st)
	}
	return def
}

// TestPropertiesOverRandomPipelines drives random pipelines with random outcomes, delivery
// orders, duplicates and clock jumps, and checks the engine's contract at every step.
func TestPropertiesOverRandomPipelines(t *testing.T) {
	t.Parallel()
	seen := map[string]int{}
	defer func() {
		// The generator must reach every path, or the properties prove little.
		for _, what := range []string{"SUCCEEDED", "FAILED", "ROLLING_BACK", "RESUMED", "retry", "timeout", "duplicate", "late"} {
			if seen[what] == 0 {
				t.Errorf("no random run exercised %s: %v", what, seen)
			}
		}
	}()
	for seed := uint64(0); seed < 400; seed++ {
		rng := rand.New(rand.NewPCG(seed, 42))
		failing := seed%3 != 0 // a third of the runs see no failure at all
		def := randomDefinition(rng, []Mode{ModeParallel, ModeQueued, ModeSuperseded}[seed%3])
		var prev map[string]string
		if rng.IntN(2) == 0 {
			prev = map[string]string{"source": "old"}
			for _, sg := range def.Stages {
				for _, a := range sg.Actions {
					for _, o := range a.Outputs {
						prev[o] = "old-" + o
					}
				}
			}
		}
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			checkRandomRun(t, rng, def, prev, failing, seen)
		})
	}
}

func checkRandomRun(t *testing.T, rng *rand.Rand, def Definition, prev map[string]string, failing bool, seen map[string]int) {
	r := newRun(t, def, RunInfo{ID: "r", Previous: prev})
	var outstanding, stopped []Task
	var delivered []Input
	stageEnded := map[string]bool{}
	rollingBack := map[string]bool{}
	apply := func(inputs ...Input) {
		d := r.advance(inputs...)
		for _, e := range d.Events {
			if e.Type == StageEvent && (e.State == string(Failed) || e.State == string(Succeeded)) {
				stageEnded[e.Stage] = true
			}
			if e.Type == StageEvent && e.State == RollingBack {
				rollingBack[e.Stage] = true
			}
			if e.Type == StageEvent || e.Type == PipelineEvent {
				seen[e.State]++
			}
			if e.Type == ActionEvent && e.State == Started && e.Attempt > 1 {
				seen["retry"]++
			}
			if e.Type == ActionEvent && strings.HasPrefix(e.Message, "timed out") {
				seen["timeout"]++
			}
		}
		for _, task := range d.Start {
			if stageEnded[task.Stage] {
				t.Fatalf("%s started after its stage ended", task.ID())
			}
			if rollingBack[task.Stage] && !task.Rollback {
				t.Fatalf("%s started during a rollback without being one", task.ID())
			}
			for _, a := range task.Inputs {
				if a.Location == "" {
					t.Fatalf("%s started without its input %s", task.ID(), a.Name)
				}
			}
			checkGroupOrder(t, def, r.st, task)
		}
		stop := map[string]bool{}
		for _, task := range d.Stop {
			stop[task.ID()] = true
		}
		stopped = append(stopped, d.Stop...)
		outstanding = slices.DeleteFunc(outstanding, func(x Task) bool { return stop[x.ID()] })
		outstanding = append(outstanding, d.Start...)
	}
	apply()
	for step := 0; !r.st.Done(); step++ {
		if step > 2000 {
			t.Fatalf("the run did not end: %+v", r.st)
		}
		if r.last.Acquire != "" && rng.IntN(4) != 0 {
			apply(Input{Kind: KindGranted, Stage: r.last.Acquire})
			continue
		}
		switch k := rng.IntN(10); {
		case k == 0 && len(delivered) > 0:
			// Duplicate delivery: must change nothing.
			dup := delivered[rng.IntN(len(delivered))]
			before := r.st
			d := r.advance(dup)
			if !reflect.DeepEqual(before, r.st) || len(d.Start) > 0 || len(d.Events) > 0 {
				t.Fatalf("a duplicate input changed the run: %+v", dup)
			}
			seen["duplicate"]++
		case k == 1 && failing:
			// The clock jumps while work is running: deadlines may pass.
			r.now = r.now.Add(time.Duration(1+rng.IntN(3)) * time.Second)
			apply()
		case k == 2 && len(stopped) > 0:
			// A stopped attempt reports late: ignored.
			late := stopped[rng.IntN(len(stopped))].Succeeded(nil, nil)
			before := r.st
			d := r.advance(late)
			if !reflect.DeepEqual(before, r.st) || len(d.Ignored) != 1 {
				t.Fatalf("a late result of a stopped attempt changed the run")
			}
			seen["late"]++
		case len(outstanding) > 0:
			i := rng.IntN(len(outstanding))
			task := outstanding[i]
			outstanding = slices.Delete(outstanding, i, i+1)
			var res Input
			if failing && rng.IntN(4) == 0 {
				res = task.Failed("injected", rng.IntN(3) == 0)
			} else {
				outs := map[string]string{}
				for _, o := range task.Outputs {
					outs[o] = task.ID() + ":" + o
				}
				res = task.Succeeded(outs, nil)
			}
			delivered = append(delivered, res)
			apply(res)
		case !r.last.WakeAt.IsZero():
			r.now = r.last.WakeAt
			apply()
		default:
			r.now = r.now.Add(time.Second)
			apply()
		}
	}
	if !failing {
		if r.st.Status != Succeeded {
			t.Fatalf("a run without failures ended %s: %s", r.st.Status, r.st.Message)
		}
		for _, sg := range def.Stages {
			for _, a := range sg.Actions {
				if n := r.startCount(sg.Name, a.Name); n != 1 {
					t.Fatalf("%s/%s started %d times in a run without failures", sg.Name, a.Name, n)
				}
			}
		}
	}
	d := r.advance(Input{Kind: KindCancel})
	if len(d.Start)+len(d.Events) > 0 || !d.Done {
		t.Fatalf("an ended run reacted to an input: %+v", d)
	}
}

// checkGroupOrder asserts that a started task's stage is current and every lower run_order
// group of that stage has finished.
func checkGroupOrder(t *testing.T, def Definition, st State, task Task) {
	t.Helper()
	sg := def.Stages[st.Stage]
	if sg.Name != task.Stage {
		t.Fatalf("%s started while stage %s is current", task.ID(), sg.Name)
	}
	var mine int
	for _, a := range sg.Actions {
		if a.Name == task.Action {
			mine = runOrder(&a)
		}
	}
	for j, a := range sg.Actions {
		as := st.Stages[st.Stage].Actions[j]
		if runOrder(&a) < mine && as.Status != Succeeded && !(task.Rollback && a.Provider == ProviderApproval) {
			t.Fatalf("%s started before %s (run_order %d) succeeded: %s", task.ID(), a.Name, runOrder(&a), as.Status)
		}
	}
}
