package advance_test

import (
	"encoding/json"
	"testing"

	"github.com/stepline/stepline/pkg/advance"
	"github.com/stepline/stepline/pkg/statemachine"
)

// FuzzTaskOutputs answers a run's source and build tasks with any output and any error name,
// as Step Functions hands them back to the advance function, seeded with real answers: it
// never panics, and whatever a task answered becomes the action's result; it never fails the
// invocation (the store here never fails), which the state machine would retry into the same
// answer.
func FuzzTaskOutputs(f *testing.F) {
	f.Add([]byte(`{"artifact":{"bucket":"artifacts","key":"runs/api-1/source.zip"}}`), []byte(buildOK), "")
	f.Add([]byte(`{"artifact":{"bucket":"","key":""}}`), []byte(`{"build":{"BuildStatus":"FAILED","Phases":[{"PhaseType":"BUILD","PhaseStatus":"FAILED","Contexts":[{"Message":"exit 1"}]}]}}`), "")
	f.Add([]byte(`null`), []byte(`[]`), statemachine.ErrSourceNotFound)
	f.Add([]byte(`{"artifact":"x"}`), []byte(`{"build":{"ExportedEnvironmentVariables":[{"Name":null}]}}`), "States.TaskFailed")
	// A failed startBuild.sync: the cause is the whole Build, whose Id becomes the attempt's.
	f.Add([]byte(`{"artifact":{"bucket":"artifacts","key":"runs/api-1/source.zip"}}`), []byte(`{"Id":"stepline-build:7f1c","BuildStatus":"FAILED"}`), "States.TaskFailed")
	f.Fuzz(func(t *testing.T, sourceOut, buildOut []byte, errName string) {
		x := newFixture(t)
		x.create("api-1", 1)
		answer := func(prev statemachine.State, out []byte) statemachine.State {
			it := item(t, prev)
			var e *statemachine.TaskError
			if errName != "" {
				e = &statemachine.TaskError{Error: errName, Cause: string(out)}
			}
			in := advance.Input{State: statemachine.State{Run: prev.Run, Step: prev.Step, Task: &it, Error: e}}
			// Step Functions hands back JSON only: other bytes arrive as a JSON string.
			if !json.Valid(out) {
				out, _ = json.Marshal(string(out))
			}
			if e == nil {
				in.Output = json.RawMessage(out)
			}
			next, err := x.h.Handle(t.Context(), in)
			if err != nil {
				t.Fatalf("a task's answer failed the invocation: %T %v", err, err)
			}
			return next
		}
		s := x.advance(advance.Input{State: statemachine.State{Run: "api-1"}})
		s = answer(s, sourceOut)
		if s.Task != nil && s.Task.Kind == statemachine.KindCodeBuild {
			answer(s, buildOut)
		}
	})
}
