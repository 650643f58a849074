package runopstest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/advance"
	"github.com/stepline/stepline/pkg/approval"
	"github.com/stepline/stepline/pkg/statemachine"
	"github.com/stepline/stepline/pkg/statemachine/asltest"
)

// ReleasePipeline is a pipeline file whose run builds (ci/package.yml), waits for an approval,
// then ships (ci/ship.yml).
const ReleasePipeline = `version: 1
pipelines:
  - name: api
    stages:
      - name: Build
        actions:
          - {name: Package, provider: codebuild, buildspec: ci/package.yml, inputs: [source], outputs: [bin]}
      - name: Release
        actions:
          - {name: Approve, provider: approval}
          - {name: Ship, provider: codebuild, run_order: 2, buildspec: ci/ship.yml, inputs: [bin]}
`

// TokenKeeper is where the wait function keeps an approval's task token: the stack's table.
type TokenKeeper interface {
	PutToken(ctx context.Context, run, task, token string, expires time.Time) error
}

// Executions runs executions of the real state machine in the interpreter (asltest), its
// Task states bound to the real advance function and to stand-ins of the source step,
// CodeBuild and the wait function; a task token answered with Answer reaches the Wait state
// waiting for it, as Step Functions does. ServeHTTP speaks Step Functions' protocol for the
// calls of the run operations, for a client pointed at it (AWS_ENDPOINT_URL_SFN).
type Executions struct {
	t      testing.TB
	tokens TokenKeeper
	// Advance is the advance function the Advance states call.
	Advance *advance.Handler
	// Build is what a CodeBuild state does with a buildspec: CodeBuild's answer, or an
	// asltest.NamedError as startBuild.sync fails; nil succeeds.
	Build func(buildspec string) (any, error)

	mu      sync.Mutex
	answers map[string]chan answer
	execs   map[string]chan asltest.Execution
}

type answer struct {
	output string
	err    error
}

// NewExecutions returns executions whose approvals keep their tokens in tokens; set Advance
// before starting one.
func NewExecutions(t testing.TB, tokens TokenKeeper) *Executions {
	return &Executions{t: t, tokens: tokens, answers: map[string]chan answer{}, execs: map[string]chan asltest.Execution{}}
}

// ExecutionARN is the ARN of the execution name of stateMachine.
func ExecutionARN(stateMachine, name string) string {
	return strings.Replace(stateMachine, ":stateMachine:", ":execution:", 1) + ":" + name
}

// Start interprets an execution of stateMachine named name with input (JSON) and returns its
// ARN.
func (x *Executions) Start(stateMachine, name, input string) string {
	arn := ExecutionARN(stateMachine, name)
	var in map[string]any
	require.NoError(x.t, json.Unmarshal([]byte(input), &in))
	done := make(chan asltest.Execution, 1)
	x.mu.Lock()
	x.execs[arn] = done
	x.mu.Unlock()
	go func() { done <- asltest.Interpret(x.t, in, x.handlers()) }()
	return arn
}

// Started reports whether an execution arn was started.
func (x *Executions) Started(arn string) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.execs[arn] != nil
}

// Ended waits for the execution arn to end.
func (x *Executions) Ended(arn string) asltest.Execution {
	x.t.Helper()
	x.mu.Lock()
	done := x.execs[arn]
	x.mu.Unlock()
	require.NotNil(x.t, done, "no execution %s was started", arn)
	select {
	case ex := <-done:
		return ex
	case <-time.After(90 * time.Second):
		x.t.Fatalf("execution %s never ended", arn)
		return asltest.Execution{}
	}
}

// Succeed answers token with output (SendTaskSuccess).
func (x *Executions) Succeed(token, output string) { x.answer(token) <- answer{output: output} }

// Fail answers token with the error name and cause (SendTaskFailure).
func (x *Executions) Fail(token, name, cause string) {
	x.answer(token) <- answer{err: asltest.NamedError{Name: name, Msg: cause}}
}

func (x *Executions) answer(token string) chan answer {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.answers[token] == nil {
		x.answers[token] = make(chan answer, 1)
	}
	return x.answers[token]
}

// ServeHTTP answers StartExecution, SendTaskSuccess and SendTaskFailure in Step Functions'
// JSON 1.0 protocol (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html,
// API_SendTaskSuccess.html, API_SendTaskFailure.html); any other call is refused.
func (x *Executions) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var in struct {
		StateMachineArn, Name, Input string
		TaskToken, Output            string
		Error, Cause                 string
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	switch target := r.Header.Get("X-Amz-Target"); target {
	case "AWSStepFunctions.StartExecution":
		arn := x.Start(in.StateMachineArn, in.Name, in.Input)
		fmt.Fprintf(w, `{"executionArn":%q,"startDate":%d}`, arn, time.Now().Unix())
	case "AWSStepFunctions.SendTaskSuccess":
		x.Succeed(in.TaskToken, in.Output)
		fmt.Fprint(w, `{}`)
	case "AWSStepFunctions.SendTaskFailure":
		x.Fail(in.TaskToken, in.Error, in.Cause)
		fmt.Fprint(w, `{}`)
	default:
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"__type":"UnknownOperationException","message":"not served here: %s"}`, target)
	}
}

// handlers binds the state machine's Task states.
func (x *Executions) handlers() map[string]asltest.HandlerFunc {
	advanceFn := func(in json.RawMessage) (any, error) {
		var req advance.Input
		require.NoError(x.t, json.Unmarshal(in, &req))
		out, err := x.Advance.Handle(context.Background(), req)
		if err != nil {
			return nil, asltest.NamedError{Name: "AdvanceFailed", Msg: err.Error()}
		}
		return out, nil
	}
	source := func(in json.RawMessage) (any, error) {
		var req struct {
			Task statemachine.Item `json:"task"`
		}
		require.NoError(x.t, json.Unmarshal(in, &req))
		return map[string]any{"artifact": map[string]any{"bucket": req.Task.Source.Bucket, "key": req.Task.Source.Key}}, nil
	}
	build := func(in json.RawMessage) (any, error) {
		var req struct {
			Buildspec string `json:"BuildspecOverride"`
		}
		require.NoError(x.t, json.Unmarshal(in, &req))
		if x.Build != nil {
			return x.Build(req.Buildspec)
		}
		return map[string]any{"Build": map[string]any{"Id": "stepline-build:" + req.Buildspec, "BuildStatus": "SUCCEEDED"}}, nil
	}
	// wait is the wait function for an approval: it keeps the token where approvals keep it,
	// and the state's result is what the token is answered with.
	wait := func(in json.RawMessage) (any, error) {
		var req struct {
			Payload struct {
				Token string            `json:"token"`
				Task  statemachine.Item `json:"task"`
			} `json:"Payload"`
		}
		require.NoError(x.t, json.Unmarshal(in, &req))
		t := req.Payload.Task.Task
		require.NoError(x.t, x.tokens.PutToken(context.Background(), t.Run, approval.TaskKey(t.Stage, t.Action, t.Attempt), req.Payload.Token, time.Now().Add(time.Hour)))
		select {
		case a := <-x.answer(req.Payload.Token):
			if a.err != nil {
				return nil, a.err
			}
			return json.RawMessage(a.output), nil
		case <-time.After(60 * time.Second):
			return nil, asltest.NamedError{Name: "States.Timeout", Msg: "nobody decided"}
		}
	}
	return map[string]asltest.HandlerFunc{"Advance": advanceFn, "Abandon": advanceFn, "Source": source, "MapSource": source,
		"CodeBuild": build, "MapCodeBuild": build, "Wait": wait, "MapWait": wait}
}
