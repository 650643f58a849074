package engine

import (
	"fmt"
	"testing"
	"time"
)

// bigDefinition is a 500-action pipeline: 10 stages of 50 actions in 5 run-order groups, each
// action consuming the previous group's artifact and exporting variables.
func bigDefinition() Definition {
	def := sourced(ModeQueued)
	prev := "source"
	for s := 0; s < 10; s++ {
		st := Stage{Name: fmt.Sprintf("Stage%d", s)}
		for j := 0; j < 50; j++ {
			group := j/10 + 1
			a := Action{Name: fmt.Sprintf("A%d", j), Provider: "codebuild", RunOrder: group, Inputs: []string{prev},
				Namespace: fmt.Sprintf("ns%d_%d", s, j),
				Config:    map[string]any{"buildspec": "buildspec.yml", "env": map[string]any{"V": "#{source.commit_id}"}}}
			if j%10 == 9 {
				a.Outputs = []string{fmt.Sprintf("art%d_%d", s, j)}
			}
			st.Actions = append(st.Actions, a)
		}
		def.Stages = append(def.Stages, st)
		prev = fmt.Sprintf("art%d_%d", s, 49)
	}
	return def
}

// BenchmarkAdvance measures one Advance call of a 500-action pipeline: one action result in,
// decisions out, halfway through the run (target: under 1 ms per call).
func BenchmarkAdvance(b *testing.B) {
	def := bigDefinition()
	st := New(def, RunInfo{ID: "r", Variables: map[string]map[string]string{"source": {"commit_id": "abc"}}})
	now := time.Unix(1_800_000_000, 0)
	var d Decision
	var err error
	st, d, _ = Advance(def, st, nil, now)
	st, d, _ = Advance(def, st, []Input{{Kind: KindGranted, Stage: d.Acquire}}, now)
	// Run until the middle of stage 5, answering everything.
	for st.Stage < 6 || len(d.Start) == 0 {
		var ins []Input
		if d.Acquire != "" {
			ins = append(ins, Input{Kind: KindGranted, Stage: d.Acquire})
		}
		for _, t := range d.Start {
			outs := map[string]string{}
			for _, o := range t.Outputs {
				outs[o] = "s3://bucket/" + o
			}
			ins = append(ins, t.Succeeded(outs, map[string]string{"X": "1"}))
		}
		st, d, err = Advance(def, st, ins, now)
		if err != nil {
			b.Fatal(err)
		}
	}
	task := d.Start[0]
	res := []Input{task.Succeeded(nil, map[string]string{"X": "1"})}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := Advance(def, st, res, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStateJSON measures the state's round trip at the Step Functions boundary for the
// same pipeline, and reports its size against the 256 KB payload limit.
func BenchmarkStateJSON(b *testing.B) {
	def := bigDefinition()
	st := New(def, RunInfo{ID: "r"})
	for i := range st.Stages {
		for j := range st.Stages[i].Actions {
			st.Stages[i].Actions[j] = ActionState{Status: Succeeded, Attempt: 1, Tries: 1, Started: 1_800_000_000_000, Ended: 1_800_000_060_000}
		}
	}
	size := 0
	b.ReportAllocs()
	for b.Loop() {
		data, _ := st.Marshal()
		size = len(data)
		if _, err := Unmarshal(data); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(size), "state-bytes")
}
