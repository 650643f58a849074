package engine

import (
	"fmt"
	"time"
)

// InputKind says what happened since the last Advance.
type InputKind string

const (
	// KindResult is the outcome of one action attempt.
	KindResult InputKind = "result"
	// KindGranted says the run now holds the lock of Stage.
	KindGranted InputKind = "granted"
	// KindSuperseded says a newer run took the run's place while it waited for a stage.
	KindSuperseded InputKind = "superseded"
	// KindCancel asks the run to stop: running actions are stopped, nothing new starts.
	KindCancel InputKind = "cancel"
	// KindPrevious updates the artifacts of the pipeline's last successful run (in Outputs),
	// because a run that waited behind others must roll back to the newest success, not to
	// the one current when it started. Ignored once a rollback has begun.
	KindPrevious InputKind = "previous"
	// KindApproval is a person's decision on a waiting approval (Status Succeeded or Failed),
	// with Message their comment and Who their name: ops.go.
	KindApproval InputKind = "approval"
	// KindRetry reopens a FAILED run at its failed Stage: the failed actions run again, or
	// all of the stage's with All (CodePipeline's RetryStageExecution).
	KindRetry InputKind = "retry"
	// KindStop stops a run once its running actions have finished; nothing new starts. A
	// KindCancel is the abandoning stop: it stops them at once.
	KindStop InputKind = "stop"
	// KindRollback reopens a finished run to run Stage's deploy actions again with Outputs,
	// the artifacts of By, an earlier successful run of its scope.
	KindRollback InputKind = "rollback"
)

// Input is one thing that happened to a run. Inputs are matched to the run's state by stage,
// action and attempt, so an input delivered twice, or one about an attempt that is no longer
// current, changes nothing.
type Input struct {
	Kind    InputKind `json:"kind"`
	Stage   string    `json:"stage,omitempty"`
	Action  string    `json:"action,omitempty"`
	Attempt int       `json:"attempt,omitempty"`
	// Status is Succeeded or Failed for a result.
	Status Status `json:"status,omitempty"`
	// Outputs maps the action's output artifact names to their locations.
	Outputs map[string]string `json:"outputs,omitempty"`
	// Variables are the action's exported variables, published under its namespace.
	Variables map[string]string `json:"variables,omitempty"`
	// Message explains a failure (or a cancellation).
	Message string `json:"message,omitempty"`
	// Final marks a failure that retrying cannot fix (a rejected approval, a bad config).
	Final bool `json:"final,omitempty"`
	// External is the executor's reference for the attempt (a build id, a log file).
	External string `json:"external,omitempty"`
	// By names the superseding run; for KindPrevious, the run whose artifacts Outputs holds,
	// which a rollback's messages name.
	By string `json:"by,omitempty"`
	// Who is the person an approval, retry, stop or rollback came from, as the backend knows
	// them (a local user, an IAM identity).
	Who string `json:"who,omitempty"`
	// All makes a retry run every action of the stage, not only the failed ones.
	All bool `json:"all,omitempty"`
}

// Task is one action attempt the caller must start now.
type Task struct {
	Run      string `json:"run"`
	Pipeline string `json:"pipeline"`
	Stage    string `json:"stage"`
	Action   string `json:"action"`
	Attempt  int    `json:"attempt"`
	Provider string `json:"provider"`
	// Config is the action's configuration with every #{ns.name} variable resolved.
	Config map[string]any `json:"config,omitempty"`
	// Inputs are the input artifacts in the action's order; the first is the primary one
	// (CodeBuild's primary source).
	Inputs []Artifact `json:"inputs,omitempty"`
	// Outputs are the artifact names the action must produce.
	Outputs   []string `json:"outputs,omitempty"`
	Namespace string   `json:"namespace,omitempty"`
	// Rollback is true when the attempt redeploys the previous successful run's artifacts.
	Rollback bool `json:"rollback,omitempty"`
	// Timeout is how long the attempt may run (zero: no limit).
	Timeout time.Duration `json:"timeout,omitempty"`
}

// Artifact is a named artifact and where it is stored.
type Artifact struct {
	Name     string `json:"name"`
	Location string `json:"location"`
}

// Input returns the location of the named input artifact, or "".
func (t Task) Input(name string) string {
	for _, a := range t.Inputs {
		if a.Name == name {
			return a.Location
		}
	}
	return ""
}

// ID names the attempt uniquely and stably: run, stage, action and attempt number.
func (t Task) ID() string { return fmt.Sprintf("%s/%s/%s/%d", t.Run, t.Stage, t.Action, t.Attempt) }

// Succeeded builds the result input of a successful attempt.
func (t Task) Succeeded(outputs, variables map[string]string) Input {
	return Input{Kind: KindResult, Stage: t.Stage, Action: t.Action, Attempt: t.Attempt,
		Status: Succeeded, Outputs: outputs, Variables: variables}
}

// Failed builds the result input of a failed attempt; a final failure is never retried.
func (t Task) Failed(message string, final bool) Input {
	return Input{Kind: KindResult, Stage: t.Stage, Action: t.Action, Attempt: t.Attempt,
		Status: Failed, Message: message, Final: final}
}

// EventType is the level an event is about, mapped at the edges onto CodePipeline's
// "Pipeline/Stage/Action Execution State Change" detail types.
type EventType string

const (
	PipelineEvent EventType = "pipeline"
	StageEvent    EventType = "stage"
	ActionEvent   EventType = "action"
)

// Event states beyond the Status values.
const (
	Started     = "STARTED"
	Resumed     = "RESUMED"
	RollingBack = "ROLLING_BACK"
)

// Event is one state change to announce.
type Event struct {
	Type     EventType `json:"type"`
	State    string    `json:"state"`
	Pipeline string    `json:"pipeline"`
	Run      string    `json:"run"`
	Stage    string    `json:"stage,omitempty"`
	Action   string    `json:"action,omitempty"`
	Provider string    `json:"provider,omitempty"`
	Attempt  int       `json:"attempt,omitempty"`
	Rollback bool      `json:"rollback,omitempty"`
	Time     time.Time `json:"time"`
	Message  string    `json:"message,omitempty"`
}

// Decision is what the caller must do after an Advance.
type Decision struct {
	// Start lists the action attempts to start now.
	Start []Task `json:"start,omitempty"`
	// Stop lists running attempts to stop (cancellation, timeouts); their late results are
	// ignored.
	Stop []Task `json:"stop,omitempty"`
	// Events are the state changes to announce, in order.
	Events []Event `json:"events,omitempty"`
	// Acquire names a stage whose lock the run asks for; answer with a Granted input (or a
	// Superseded one) once the lane decides.
	Acquire string `json:"acquire,omitempty"`
	// Release names stages whose locks the run gives back.
	Release []string `json:"release,omitempty"`
	// WakeAt is when Advance must be called again even if nothing happens (a retry backoff or
	// a timeout); zero means only inputs move the run on.
	WakeAt time.Time `json:"wake_at,omitzero"`
	// Ignored explains inputs that changed nothing (duplicates, late results).
	Ignored []string `json:"ignored,omitempty"`
	// Done is true once the run has ended.
	Done bool `json:"done,omitempty"`
}

// NeedsPrevious reports whether inputs hold a failed result, the only input that can start a
// rollback: a driver then reads the pipeline's newest successful run and feeds its artifacts
// as a KindPrevious input ahead of the others, so the rollback targets the newest success
// rather than the one current when the run started.
func NeedsPrevious(inputs []Input) bool {
	for _, in := range inputs {
		if in.Kind == KindResult && in.Status == Failed {
			return true
		}
	}
	return false
}
