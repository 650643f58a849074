package statemachine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/advance"
	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/pipeline"
	"github.com/stepline/stepline/pkg/statemachine"
	"github.com/stepline/stepline/pkg/statemachine/asltest"
	"github.com/stepline/stepline/pkg/store"
)

const examplePipeline = `version: 1
pipelines:
  - name: api
    stages:
      - name: Build
        actions:
          - {name: Unit, provider: codebuild, buildspec: ci/unit.yml, inputs: [source]}
          - {name: Lint, provider: codebuild, buildspec: ci/lint.yml, inputs: [source]}
          - {name: Package, provider: codebuild, run_order: 2, buildspec: ci/package.yml, inputs: [source], outputs: [bin], namespace: build}
      - name: Release
        actions:
          - {name: Approve, provider: approval}
          - {name: Deploy, provider: codebuild, run_order: 2, buildspec: ci/deploy.yml, inputs: [bin], env: {VERSION: "#{build.VERSION}"}}
`

// world is one pipeline run's surroundings: the store the trigger step filled, the events
// published, and the fakes of the services the state machine calls.
type world struct {
	t      *testing.T
	def    engine.Definition
	db     *store.Memory
	events *events
	sfn    *tokens
	adv    *advance.Handler
	mu     sync.Mutex
	builds []string
	// failBuild makes the named build fail; lambdaFailures fails the first n Advance calls
	// with a transient Lambda error.
	failBuild      string
	lambdaFailures int
}

type events struct {
	mu  sync.Mutex
	all []engine.Event
}

func (e *events) Publish(_ context.Context, _ store.Record, evs []engine.Event) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, evs...)
	return nil
}

// tokens is a fake Step Functions for task tokens: SendTaskSuccess hands the output to
// whoever waits for that token.
type tokens struct {
	mu    sync.Mutex
	waits map[string]chan string
}

func (k *tokens) ch(token string) chan string {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.waits == nil {
		k.waits = map[string]chan string{}
	}
	if k.waits[token] == nil {
		k.waits[token] = make(chan string, 1)
	}
	return k.waits[token]
}

func (k *tokens) SendTaskSuccess(_ context.Context, in *sfn.SendTaskSuccessInput, _ ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error) {
	k.ch(*in.TaskToken) <- *in.Output
	return &sfn.SendTaskSuccessOutput{}, nil
}

func newWorld(t *testing.T, file string) *world {
	f, err := pipeline.Parse(".stepline.yml", []byte(file))
	require.NoError(t, err)
	p, err := f.Pipeline("")
	require.NoError(t, err)
	w := &world{t: t, def: p.Definition(), db: store.NewMemory(), events: &events{}, sfn: &tokens{}}
	w.adv = advance.New(w.db, w.events, w.sfn, advance.Config{Bucket: "artifacts", Project: "stepline-build", UntrustedProject: "stepline-untrusted",
		Image: "aws/codebuild/amazonlinux-aarch64-standard:3.0", ComputeType: "BUILD_GENERAL1_SMALL"},
		advance.WithClock(func() time.Time { return time.Unix(1_795_000_000, 0) }))
	return w
}

// start creates the run as functions/trigger does and returns the execution input.
func (w *world) start(id string, seq int64) map[string]any {
	st := engine.New(w.def, engine.RunInfo{ID: id, Seq: seq, Variables: map[string]map[string]string{"source": {"branch": "main"}}})
	require.NoError(w.t, w.db.PutRun(context.Background(), store.Record{Definition: w.def, State: st, Repo: "octo/api",
		Provider: "github", Hook: "hook-0123456789abcdef", Commit: strings.Repeat("c", 40)}))
	return map[string]any{"run": id}
}

// scope is the scope of the runs start creates: their stage locks' lane.
func (w *world) scope() store.Scope {
	return store.Scope{Provider: "github", Repository: "octo/api", Pipeline: w.def.Pipeline}
}

func (w *world) handlers() map[string]asltest.HandlerFunc {
	advanceFn := func(in json.RawMessage) (any, error) {
		w.mu.Lock()
		if w.lambdaFailures > 0 {
			w.lambdaFailures--
			w.mu.Unlock()
			return nil, asltest.NamedError{Name: "Lambda.ServiceException", Msg: "Rate exceeded"}
		}
		w.mu.Unlock()
		var req advance.Input
		require.NoError(w.t, json.Unmarshal(in, &req))
		out, err := w.adv.Handle(context.Background(), req)
		if err != nil {
			return nil, asltest.NamedError{Name: fmt.Sprintf("%T", err), Msg: err.Error()}
		}
		return out, nil
	}
	source := func(in json.RawMessage) (any, error) {
		var req struct {
			Task statemachine.Item `json:"task"`
		}
		require.NoError(w.t, json.Unmarshal(in, &req))
		return map[string]any{"artifact": map[string]any{"bucket": req.Task.Source.Bucket, "key": req.Task.Source.Key, "size": 1234, "checksum_crc32": "y/Q5Jg=="}}, nil
	}
	build := func(in json.RawMessage) (any, error) {
		var req struct {
			Buildspec string                         `json:"BuildspecOverride"`
			Env       []struct{ Name, Value string } `json:"EnvironmentVariablesOverride"`
		}
		require.NoError(w.t, json.Unmarshal(in, &req))
		w.mu.Lock()
		w.builds = append(w.builds, req.Buildspec)
		w.mu.Unlock()
		id := "stepline-build:" + req.Buildspec
		if req.Buildspec == w.failBuild {
			return nil, asltest.NamedError{Name: "States.TaskFailed", Msg: fmt.Sprintf(`{"Build":{"Id":%q,"BuildStatus":"FAILED"}}`, id)}
		}
		b := map[string]any{"Id": id, "BuildStatus": "SUCCEEDED"}
		if req.Buildspec == "ci/package.yml" {
			b["ExportedEnvironmentVariables"] = []map[string]string{{"Name": "VERSION", "Value": "1.4.2"}}
		}
		if req.Buildspec == "ci/deploy.yml" {
			for _, e := range req.Env {
				if e.Name == "VERSION" {
					assert.Equal(w.t, "1.4.2", e.Value, "the deploy build sees the package build's exported variable")
				}
			}
		}
		return map[string]any{"Build": b}, nil
	}
	approve := func(json.RawMessage) (any, error) { return map[string]any{}, nil }
	// park is a waitForTaskToken state: the function keeps the token, and the state's output
	// is what another run later sends to it.
	park := func(in json.RawMessage) (any, error) {
		var req struct {
			Payload json.RawMessage `json:"Payload"`
		}
		require.NoError(w.t, json.Unmarshal(in, &req))
		var p advance.Input
		require.NoError(w.t, json.Unmarshal(req.Payload, &p))
		if _, err := w.adv.Handle(context.Background(), p); err != nil {
			w.t.Logf("park %s: %v", p.Run, err)
			return nil, asltest.NamedError{Name: fmt.Sprintf("%T", err), Msg: err.Error()}
		}
		select {
		case out := <-w.sfn.ch(p.Token):
			return json.RawMessage(out), nil
		case <-time.After(30 * time.Second):
			return nil, asltest.NamedError{Name: "States.Timeout", Msg: "nobody answered the parked token"}
		}
	}
	return map[string]asltest.HandlerFunc{
		"Advance": advanceFn, "Park": park, "MapPark": park,
		"Source": source, "MapSource": source,
		"CodeBuild": build, "MapCodeBuild": build, "CodeBuildEnvironment": build, "MapCodeBuildEnvironment": build,
		"Wait": approve, "MapWait": approve,
	}
}

func TestAHappyRunTakesTheShortPathThroughEveryWave(t *testing.T) {
	w := newWorld(t, examplePipeline)
	ex := asltest.Interpret(t, w.start("api-1", 1), w.handlers())
	require.Empty(t, ex.Error, ex.Cause)

	assert.Equal(t, []string{
		"Advance", "Route", "Source", // wave 1: the source, straight to its state
		"Advance", "Route", "Dispatch", "Kind", "Kind", "MapCodeBuild", "MapCodeBuild", // Unit and Lint in parallel (sorted)
		"Advance", "Route", "CodeBuild", // Package
		"Advance", "Route", "Wait", // Approve
		"Advance", "Route", "CodeBuild", // Deploy
		"Advance", "Route", "Succeeded",
	}, sortedWaves(ex.Entered))
	assert.Len(t, ex.Entered, statemachine.Transitions(w.def), "Transitions counts what the file does")

	rec, err := w.db.GetRun(context.Background(), "api-1")
	require.NoError(t, err)
	assert.Equal(t, engine.Succeeded, rec.State.Status)
	assert.Equal(t, "pipeline:SUCCEEDED", last(w.events.all))
}

func TestAFailingBuildEndsTheExecutionFailedAfterTheMapReportsIt(t *testing.T) {
	w := newWorld(t, examplePipeline)
	w.failBuild = "ci/lint.yml"
	ex := asltest.Interpret(t, w.start("api-2", 2), w.handlers())
	assert.Equal(t, "PipelineFailed", ex.Error, ex.Cause)
	assert.Equal(t, []string{
		"Advance", "Route", "Source",
		"Advance", "Route", "Dispatch", "ActionDone", "Kind", "Kind", "MapCodeBuild", "MapCodeBuild", // sorted within the map
		"Advance", "Route", "Failed",
	}, sortedWaves(ex.Entered))
	assert.NotContains(t, w.builds, "ci/package.yml", "nothing after the failed group starts")
	rec, err := w.db.GetRun(context.Background(), "api-2")
	require.NoError(t, err)
	assert.Equal(t, engine.Failed, rec.State.Status)
	assert.Contains(t, rec.State.Stages[1].Actions[1].Message, "build stepline-build:ci/lint.yml ended FAILED")
}

func TestATransientLambdaErrorIsRetriedAndTheRunCarriesOn(t *testing.T) {
	w := newWorld(t, examplePipeline)
	w.lambdaFailures = 2
	ex := asltest.Interpret(t, w.start("api-3", 3), w.handlers())
	require.Empty(t, ex.Error, ex.Cause)
	assert.Equal(t, "Advance", ex.Entered[0])
	assert.Equal(t, "Succeeded", ex.Entered[len(ex.Entered)-1])
	retried := 0
	for _, ev := range ex.Events {
		if ev["type"] == "StateRetried" {
			retried++
		}
	}
	assert.Equal(t, 2, retried, "the two Lambda.ServiceException failures were retried by the state's Retry")
}

// sortedWaves returns the entered states with each run of Map-internal states sorted, since
// the order between parallel iterations is the interpreter's.
func sortedWaves(entered []string) []string {
	out := slices.Clone(entered)
	inMap := func(s string) bool { return s == "Kind" || s == "ActionDone" || strings.HasPrefix(s, "Map") }
	for i := 0; i < len(out); {
		j := i
		for j < len(out) && inMap(out[j]) {
			j++
		}
		slices.Sort(out[i:j])
		i = max(j, i+1)
	}
	return out
}

func last(evs []engine.Event) string {
	if len(evs) == 0 {
		return ""
	}
	e := evs[len(evs)-1]
	return string(e.Type) + ":" + e.State
}

const supersededPipeline = `version: 1
pipelines:
  - name: web
    execution_mode: superseded
    stages:
      - name: Build
        actions:
          - {name: Build, provider: codebuild, buildspec: ci/build.yml, inputs: [source]}
`

func TestAWaitingRunIsSupersededByANewerOneAndEndsWithoutFailing(t *testing.T) {
	w := newWorld(t, supersededPipeline)
	ctx := context.Background()
	// Run 1 holds the Build stage, as if it were building.
	g, err := w.db.Acquire(ctx, w.scope(), "Build", engine.ModeSuperseded, "web-1", 1)
	require.NoError(t, err)
	require.True(t, g.Granted)

	second := make(chan asltest.Execution, 1)
	go func() { second <- asltest.Interpret(t, w.start("web-2", 2), w.handlers()) }()
	waitForToken(t, w.db, "web-2")

	third := make(chan asltest.Execution, 1)
	go func() { third <- asltest.Interpret(t, w.start("web-3", 3), w.handlers()) }()

	ex2 := <-second
	require.Empty(t, ex2.Error, ex2.Cause)
	assert.Equal(t, []string{"Advance", "Route", "Source", "Advance", "Route", "Park", "Advance", "Route", "Superseded"}, ex2.Entered)
	rec, err := w.db.GetRun(ctx, "web-2")
	require.NoError(t, err)
	assert.Equal(t, engine.Superseded, rec.State.Status)

	// Run 1 finishes its stage: the lock passes to run 3, whose parked token is answered.
	waitForToken(t, w.db, "web-3")
	next, err := w.db.Release(ctx, w.scope(), "Build", "web-1")
	require.NoError(t, err)
	require.Equal(t, "web-3", next)
	token, err := w.db.Token(ctx, "web-3", "park")
	require.NoError(t, err)
	_, err = w.sfn.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: &token, Output: ptr(`{"granted":"Build"}`)})
	require.NoError(t, err)

	ex3 := <-third
	require.Empty(t, ex3.Error, ex3.Cause)
	assert.Equal(t, []string{"Advance", "Route", "Source", "Advance", "Route", "Park", "Advance", "Route", "CodeBuild", "Advance", "Route", "Succeeded"}, ex3.Entered)
	rec, err = w.db.GetRun(ctx, "web-3")
	require.NoError(t, err)
	assert.Equal(t, engine.Succeeded, rec.State.Status)
}

func waitForToken(t *testing.T, db *store.Memory, run string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := db.Token(context.Background(), run, "park"); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("run %s never parked", run)
}

func ptr(s string) *string { return &s }

// TestTheHistoryOfAFiftyActionRunStaysFarBelowTheLimit runs 50 builds (10 stages of 5
// parallel actions) and counts what Step Functions would record: each state entered costs at
// most five history events (entered, scheduled, started, succeeded or failed, exited), and a
// Standard execution's history holds at most 25,000.
func TestTheHistoryOfAFiftyActionRunStaysFarBelowTheLimit(t *testing.T) {
	var b strings.Builder
	b.WriteString("version: 1\npipelines:\n  - name: big\n    stages:\n")
	for s := range 10 {
		fmt.Fprintf(&b, "      - name: S%d\n        actions:\n", s)
		for a := range 5 {
			fmt.Fprintf(&b, "          - {name: A%d, provider: codebuild, buildspec: b%d-%d.yml, inputs: [source]}\n", a, s, a)
		}
	}
	w := newWorld(t, b.String())
	ex := asltest.Interpret(t, w.start("big-1", 1), w.handlers())
	require.Empty(t, ex.Error, ex.Cause)
	assert.Len(t, w.builds, 50)
	assert.Len(t, ex.Entered, statemachine.Transitions(w.def))
	assert.Equal(t, 3+3+10*(3+2*5), len(ex.Entered), "source wave, ten waves of five, the end")
	history := 5 * len(ex.Entered)
	assert.Less(t, history, 1_000, "far below Step Functions' 25,000-event history limit")
	t.Logf("50 actions: %d transitions, at most %d history events; the interpreter logged %d", len(ex.Entered), history, len(ex.Events))
}

func TestAnActionTheStateMachineCannotRunFailsAsAnActionNotAsTheExecution(t *testing.T) {
	w := newWorld(t, "version: 1\npipelines:\n  - name: web\n    stages:\n      - name: Deploy\n        actions:\n          - {name: Release, provider: local, path: site, inputs: [source]}\n")
	ex := asltest.Interpret(t, w.start("web-9", 9), w.handlers())
	assert.Equal(t, "PipelineFailed", ex.Error, ex.Cause)
	assert.Equal(t, []string{"Advance", "Route", "Source", "Advance", "Route", "Failed"}, ex.Entered)
	rec, err := w.db.GetRun(context.Background(), "web-9")
	require.NoError(t, err)
	assert.Contains(t, rec.State.Stages[1].Actions[0].Message, "stepline run")
	_, err = w.db.Acquire(context.Background(), w.scope(), "Deploy", engine.ModeQueued, "web-10", 10)
	require.NoError(t, err)
	next, err := w.db.Release(context.Background(), w.scope(), "Deploy", "web-10")
	require.NoError(t, err)
	assert.Empty(t, next, "the failed run left no lock behind")
}

func TestAnAdvanceThatFailsForGoodCancelsTheRunAndReleasesItsLock(t *testing.T) {
	w := newWorld(t, supersededPipeline)
	h := w.handlers()
	real := h["Advance"]
	calls := 0
	h["Advance"] = func(in json.RawMessage) (any, error) {
		calls++
		if calls == 2 { // after the source: a bug no retry can fix
			return nil, asltest.NamedError{Name: "errorString", Msg: "run web-4 is IN_PROGRESS and waits for nothing"}
		}
		return real(in)
	}
	h["Abandon"] = real
	ex := asltest.Interpret(t, w.start("web-4", 4), h)
	assert.Equal(t, "PipelineCanceled", ex.Error, ex.Cause)
	assert.Equal(t, []string{"Advance", "Route", "Source", "Advance", "Abandon", "Route", "Canceled"}, ex.Entered)
	rec, err := w.db.GetRun(context.Background(), "web-4")
	require.NoError(t, err)
	assert.Equal(t, engine.Canceled, rec.State.Status)
	g, err := w.db.Acquire(context.Background(), w.scope(), "Source", engine.ModeSuperseded, "web-5", 5)
	require.NoError(t, err)
	assert.True(t, g.Granted, "the canceled run released its stage")
}
