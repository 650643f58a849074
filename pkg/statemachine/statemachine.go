// Package statemachine holds stepline's one Step Functions state machine, pipeline.asl.json,
// and the Go side of its contract: the shape of the state the states pass around, the routes
// functions/advance answers with, the task kinds the states dispatch, and the number of state
// transitions a run costs. The JSON file is the only copy: Go embeds it, and the SAM template
// and the CDK construct reference it with DefinitionSubstitutions.
package statemachine

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/stepline/stepline/pkg/engine"
)

//go:embed pipeline.asl.json
var definition []byte

// Definition returns the state machine's Amazon States Language, with its ${…} placeholders.
func Definition() []byte { return slices.Clone(definition) }

// Substitutions returns the DefinitionSubstitutions the file needs, each a function ARN.
func Substitutions() []string {
	return []string{"AdvanceFunctionArn", "SourceFunctionArn", "WaitFunctionArn"}
}

// ExecutionStatusChange is the detail-type of the event Step Functions sends to the default
// event bus when a Standard execution's status changes (source "aws.states"), with the
// execution's executionArn, stateMachineArn, name, status, input (JSON text), error and cause
// in its detail: https://docs.aws.amazon.com/step-functions/latest/dg/cw-events.html and
// https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-states.html
const ExecutionStatusChange = "Step Functions Execution Status Change"

// EndedStatuses are the execution statuses that may end a run outside the state machine's
// Catch paths (StopExecution, the execution's timeout, States.Runtime and
// States.DataLimitExceeded, which States.ALL does not catch, the Broken state), leaving its
// stage locks held. ExecutionEndedRule sends these to functions/advance, which abandons the
// run. A SUCCEEDED execution always ended through Advance.
func EndedStatuses() []string { return []string{"FAILED", "TIMED_OUT", "ABORTED"} }

// Route is functions/advance's answer: what the state machine does next.
type Route string

// Routes. Single sends one task straight to its kind's state (three transitions a wave), Map
// sends several through the Dispatch map, Sleep waits WaitSeconds, Done ends the run with
// Status.
const (
	RouteSingle Route = "single"
	RouteMap    Route = "map"
	RouteSleep  Route = "sleep"
	RouteDone   Route = "done"
)

// Kind is how the state machine runs a task.
type Kind string

// Task kinds, one dispatch state each.
const (
	// KindSource streams the commit's archive into S3 (functions/source).
	KindSource Kind = "source"
	// KindCodeBuild runs codebuild:startBuild.sync.
	KindCodeBuild Kind = "codebuild"
	// KindWait starts long work and waits for its task token (approval, ECS, CodeDeploy,
	// CloudFormation, S3 deploys).
	KindWait Kind = "wait"
	// KindPark waits for a stage lock: functions/advance stores the token, the run that
	// releases the lock (or supersedes this one) answers it.
	KindPark Kind = "park"
	// KindLambda invokes the user's function.
	KindLambda Kind = "lambda"
)

// Kinds lists every kind the state machine dispatches.
func Kinds() []Kind { return []Kind{KindSource, KindCodeBuild, KindWait, KindPark, KindLambda} }

// KindOf returns the kind that runs an action of provider. The local provider deploys to a
// directory on the machine running `stepline run`; there is no such machine on AWS.
func KindOf(provider string) (Kind, error) {
	switch provider {
	case engine.ProviderSource:
		return KindSource, nil
	case "codebuild":
		return KindCodeBuild, nil
	case engine.ProviderApproval, "ecs", "codedeploy", "cloudformation", "s3":
		return KindWait, nil
	case "lambda":
		return KindLambda, nil
	case "local":
		return "", fmt.Errorf("provider local deploys to a directory of the machine running stepline run; on AWS use s3, ecs, codedeploy or cloudformation")
	}
	return "", fmt.Errorf("provider %q has no dispatch state", provider)
}

// Item is one task as the state machine sees it ($.task in a dispatch state).
type Item struct {
	// ID is engine.Task.ID(): run/stage/action/attempt.
	ID   string `json:"id"`
	Kind Kind   `json:"kind"`
	// TimeoutSeconds is the attempt's timeout; the Source state reads it (TimeoutSecondsPath),
	// CodeBuild gets it as TimeoutInMinutesOverride, the wait function enforces it.
	TimeoutSeconds int `json:"timeout_seconds"`
	// Task is the engine's task, for the functions that need all of it (wait, park).
	Task      engine.Task `json:"engine"`
	Source    *Source     `json:"source,omitempty"`
	CodeBuild *CodeBuild  `json:"codebuild,omitempty"`
	Lambda    *Lambda     `json:"lambda,omitempty"`
}

// Source tells functions/source what to archive; the function gets {run, task} with this at
// task.source.
type Source struct {
	Provider   string `json:"provider"`
	Repository string `json:"repository"`
	Commit     string `json:"commit"`
	Hook       string `json:"hook"`
	Bucket     string `json:"bucket"`
	Key        string `json:"key"`
}

// CodeBuild holds the StartBuild overrides of a build; the names follow the API.
type CodeBuild struct {
	Project            string           `json:"project"`
	SourceLocation     string           `json:"source_location"`
	Buildspec          string           `json:"buildspec"`
	Environment        []EnvVar         `json:"environment"`
	Artifacts          Artifacts        `json:"artifacts"`
	SecondaryArtifacts []map[string]any `json:"secondary_artifacts"`
	// SecondarySources are the inputs after the first, each under its artifact name
	// (CODEBUILD_SRC_DIR_<name> in the build, as stepline run gives them locally).
	SecondarySources []SecondarySource `json:"secondary_sources"`
	TimeoutMinutes   int               `json:"timeout_minutes"`
	// BuildEnvironment, when present, overrides the project's environment; the state machine
	// then starts the build from CodeBuildEnvironment, whose Parameters carry these overrides.
	// Absent, the build runs in its project's own environment.
	BuildEnvironment *BuildEnvironment `json:"build_environment,omitempty"`
}

// BuildEnvironment is StartBuild's environment overrides, all four given together since the
// state that sends them cannot leave one out.
type BuildEnvironment struct {
	Image                    string `json:"image"`
	ComputeType              string `json:"compute_type"`
	PrivilegedMode           bool   `json:"privileged_mode"`
	ImagePullCredentialsType string `json:"image_pull_credentials_type"`
}

// SecondarySource is one SecondarySourcesOverride entry: an S3 zip under an identifier.
type SecondarySource struct {
	Type             string `json:"Type"`
	Location         string `json:"Location"`
	SourceIdentifier string `json:"SourceIdentifier"`
}

// EnvVar is one CodeBuild environment variable override.
type EnvVar struct {
	Name  string `json:"Name"`
	Value string `json:"Value"`
	Type  string `json:"Type"`
}

// Artifacts is CodeBuild's ArtifactsOverride.
type Artifacts struct {
	Type      string `json:"Type"`
	Location  string `json:"Location,omitempty"`
	Path      string `json:"Path,omitempty"`
	Name      string `json:"Name,omitempty"`
	Packaging string `json:"Packaging,omitempty"`
}

// Lambda is the invocation of the user's function.
type Lambda struct {
	Function string         `json:"function"`
	Payload  map[string]any `json:"payload"`
}

// State is the execution's document between states ($): what functions/advance returns, and
// what it receives back after a wave with the tasks' outputs or errors.
type State struct {
	Run         string `json:"run"`
	Route       Route  `json:"route,omitempty"`
	Status      string `json:"status,omitempty"`
	Task        *Item  `json:"task,omitempty"`
	Tasks       []Item `json:"tasks,omitempty"`
	WaitSeconds int    `json:"wait_seconds,omitempty"`
	// Output and Error are a single task's outcome; Results the Map's, one per task.
	Output  json.RawMessage `json:"output,omitempty"`
	Error   *TaskError      `json:"error,omitempty"`
	Results []Outcome       `json:"results,omitempty"`
	// Step counts Advance's answers, so two inputs that would otherwise look alike (two
	// sleeps of the same length) are told apart by the retried-call check.
	Step int `json:"step,omitempty"`
}

// Outcome is one Map iteration's output: the task and its output or error.
type Outcome struct {
	Task   Item            `json:"task"`
	Output json.RawMessage `json:"output,omitempty"`
	Error  *TaskError      `json:"error,omitempty"`
}

// TaskError is what a Catch puts at $.error: the error name (the Go type name of a Lambda's
// error, or a States.* name) and its cause.
type TaskError struct {
	Error string `json:"Error"`
	Cause string `json:"Cause"`
}

// Outcomes returns what a state brings back to Advance: the Map's results, or the single
// task's outcome; none on the first call and after a sleep.
func (s State) Outcomes() []Outcome {
	if len(s.Results) > 0 {
		return s.Results
	}
	if s.Task != nil && (s.Output != nil || s.Error != nil) {
		return []Outcome{{Task: *s.Task, Output: s.Output, Error: s.Error}}
	}
	return nil
}

// Error names the functions return at the Lambda boundary (the Go type names aws-lambda-go
// reports), which the states catch or retry by name. Each function's tests pin its types to
// these names.
const (
	// ErrAdvanceConflict: the run's record changed under the call (retried).
	ErrAdvanceConflict = "AdvanceConflict"
	// ErrAdvanceUnavailable: the store or the event bus failed transiently (retried).
	ErrAdvanceUnavailable = "AdvanceUnavailable"
	// ErrSourceNotFound: the repository or commit does not exist (final).
	ErrSourceNotFound = "SourceNotFound"
	// ErrSourceUnauthorized: the token is missing or refused (final).
	ErrSourceUnauthorized = "SourceUnauthorized"
	// ErrSourceUnavailable: the provider or S3 failed transiently (retried, then failed).
	ErrSourceUnavailable = "SourceUnavailable"
	// ErrSourceInvalidInput: the task's source settings are wrong (final).
	ErrSourceInvalidInput = "SourceInvalidInput"
	// ErrSourceInvalidArchive: the provider's archive could not be read (final).
	ErrSourceInvalidArchive = "SourceInvalidArchive"
	// ErrSourceFailed: anything else went wrong.
	ErrSourceFailed = "SourceFailed"
	// ErrActionRejected: an approval was rejected (final).
	ErrActionRejected = "ActionRejected"
	// ErrActionFailed: a long-running action reported failure.
	ErrActionFailed = "ActionFailed"
	// ErrActionTimedOut: a long-running action was not answered by its deadline (the wait
	// function's schedule fails an approval's task with it). Final for approvals, as the
	// engine never retries them.
	ErrActionTimedOut = "ActionTimedOut"
	// ErrRunStopped is the error StopExecution is given by `stepline stop` (pkg/runops); its
	// cause, who stopped the run and why, becomes the run's message.
	ErrRunStopped = "RunStopped"
)
