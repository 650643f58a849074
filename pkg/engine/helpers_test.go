package engine

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// act builds an action: "Build@2" is action Build with run_order 2.
func act(name, provider string, opts ...func(*Action)) Action {
	a := Action{Name: name, Provider: provider}
	for _, o := range opts {
		o(&a)
	}
	return a
}

func order(n int) func(*Action)             { return func(a *Action) { a.RunOrder = n } }
func in(names ...string) func(*Action)      { return func(a *Action) { a.Inputs = names } }
func out(names ...string) func(*Action)     { return func(a *Action) { a.Outputs = names } }
func ns(name string) func(*Action)          { return func(a *Action) { a.Namespace = name } }
func timeout(d time.Duration) func(*Action) { return func(a *Action) { a.Timeout = d } }
func cfg(kv ...string) func(*Action) {
	return func(a *Action) {
		a.Config = map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			a.Config[kv[i]] = kv[i+1]
		}
	}
}
func retry(n int, backoff time.Duration) func(*Action) {
	return func(a *Action) { a.Retry = RetryPolicy{MaxAttempts: n, Backoff: backoff} }
}

// sourced prepends the implicit Source stage the pipeline compiler adds.
func sourced(mode Mode, stages ...Stage) Definition {
	src := Stage{Name: "Source", Actions: []Action{{Name: "Source", Provider: ProviderSource, Outputs: []string{"source"}, Namespace: "source"}}}
	return Definition{Pipeline: "app", Mode: mode, Stages: append([]Stage{src}, stages...)}
}

// run is a test driver around Advance: it keeps the state, checks the contract on every call
// (the input state is never changed; the state survives a JSON round trip) and records tasks.
type run struct {
	t       *testing.T
	def     Definition
	st      State
	now     time.Time
	last    Decision
	started []Task
	events  []Event
}

func newRun(t *testing.T, def Definition, info RunInfo) *run {
	t.Helper()
	if info.ID == "" {
		info.ID = "r1"
	}
	return &run{t: t, def: def, st: New(def, info), now: t0}
}

func (r *run) advance(inputs ...Input) Decision {
	r.t.Helper()
	before := deepCopy(r.t, r.st)
	next, d, err := Advance(r.def, r.st, inputs, r.now)
	if err != nil {
		r.t.Fatalf("Advance: %v", err)
	}
	if !reflect.DeepEqual(before, r.st) {
		r.t.Fatalf("Advance changed its input state")
	}
	again, d2, _ := Advance(r.def, r.st, inputs, r.now)
	if !reflect.DeepEqual(again, next) || !reflect.DeepEqual(d2, d) {
		r.t.Fatalf("Advance is not deterministic")
	}
	if rt := deepCopy(r.t, next); !reflect.DeepEqual(rt, normalise(next)) {
		r.t.Fatalf("state does not survive a JSON round trip:\n%+v\n%+v", rt, next)
	}
	r.st = next
	r.last = d
	r.started = append(r.started, d.Start...)
	r.events = append(r.events, d.Events...)
	return d
}

// grant answers a lock request at once, as a free lane would.
func (r *run) grant() Decision {
	r.t.Helper()
	if r.last.Acquire == "" {
		r.t.Fatalf("no lock was asked for")
	}
	return r.advance(Input{Kind: KindGranted, Stage: r.last.Acquire})
}

// task finds the started task of stage/action with the highest attempt.
func (r *run) task(stage, action string) Task {
	r.t.Helper()
	var found *Task
	for i := range r.started {
		if r.started[i].Stage == stage && r.started[i].Action == action {
			found = &r.started[i]
		}
	}
	if found == nil {
		r.t.Fatalf("%s/%s was never started; started: %v", stage, action, names(r.started))
	}
	return *found
}

// succeed reports success of the latest attempt of stage/action, with outputs at "loc:<name>".
func (r *run) succeed(stage, action string, vars ...string) Decision {
	r.t.Helper()
	t := r.task(stage, action)
	outs := map[string]string{}
	for _, o := range t.Outputs {
		outs[o] = "loc:" + o + ":" + t.Run
	}
	v := map[string]string{}
	for i := 0; i+1 < len(vars); i += 2 {
		v[vars[i]] = vars[i+1]
	}
	return r.advance(t.Succeeded(outs, v))
}

func (r *run) fail(stage, action string, final bool) Decision {
	r.t.Helper()
	return r.advance(r.task(stage, action).Failed("boom", final))
}

func (r *run) startCount(stage, action string) int {
	n := 0
	for _, t := range r.started {
		if t.Stage == stage && t.Action == action {
			n++
		}
	}
	return n
}

func names(ts []Task) []string {
	var out []string
	for _, t := range ts {
		out = append(out, fmt.Sprintf("%s/%s#%d", t.Stage, t.Action, t.Attempt))
	}
	return out
}

func states(es []Event) []string {
	var out []string
	for _, e := range es {
		s := string(e.Type) + ":" + e.State
		if e.Stage != "" {
			s += ":" + e.Stage
		}
		if e.Action != "" {
			s += "/" + e.Action
		}
		out = append(out, s)
	}
	return out
}

func deepCopy(t testing.TB, s State) State {
	t.Helper()
	b, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	c, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// normalise maps empty maps to nil, as a JSON round trip with omitempty does.
func normalise(s State) State {
	c := s
	if len(c.Vars) == 0 {
		c.Vars = nil
	}
	if len(c.Artifacts) == 0 {
		c.Artifacts = nil
	}
	if len(c.Previous) == 0 {
		c.Previous = nil
	}
	return c
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
