// Package pipeline reads stepline's pipeline file, .stepline.yml: it parses the YAML through
// yaml.Node so every value keeps its position, checks the whole file and reports every problem
// at once as file:line:col: message [rule], and compiles each pipeline into the engine's
// position-free engine.Definition.
//
// The model keeps positions (Pos) on every value so that later code, such as trigger
// explanations, can point at the exact filter that decided something. Values that were not
// written in the file but filled in as defaults have a zero Pos.
package pipeline

import "time"

// Pos is a 1-based line and column in the pipeline file; the zero Pos means "not in the file"
// (a default value or an absent key).
type Pos struct {
	Line int `json:"line"`
	Col  int `json:"col"`
}

// IsZero reports whether the position is unknown, i.e. the value was not written in the file.
func (p Pos) IsZero() bool { return p.Line == 0 }

// String is a text value and where it was written.
type String struct {
	Value string
	Pos   Pos
}

// Int is an integer value and where it was written.
type Int struct {
	Value int
	Pos   Pos
}

// Float is a number value and where it was written.
type Float struct {
	Value float64
	Pos   Pos
}

// Bool is a boolean value and where it was written.
type Bool struct {
	Value bool
	Pos   Pos
}

// Duration is a duration value and where it was written.
type Duration struct {
	Value time.Duration
	Pos   Pos
}

// Var is one entry of a string map (pipeline variables, environment variables, action env);
// Name.Pos is the key's position, Value.Pos the value's.
type Var struct {
	Name  String
	Value String
}

// File is a parsed pipeline file.
type File struct {
	// Name is the file name given to Parse, used in problem positions.
	Name string
	// Version is the file format version; only 1 exists.
	Version Int
	// Pipelines are the file's pipelines, in file order.
	Pipelines []*Pipeline
}

// Execution modes of a pipeline (CodePipeline V2's names).
const (
	ModeQueued     = "queued"
	ModeSuperseded = "superseded"
	ModeParallel   = "parallel"
)

// Pipeline is one pipeline of a file: its triggers, per-branch environments and stages.
type Pipeline struct {
	Pos  Pos
	Name String
	// ExecutionMode is queued, superseded or parallel; superseded when not written.
	ExecutionMode String
	// Variables are the pipeline's variables, read as #{variables.NAME}.
	Variables []Var
	// Triggers say which events start the pipeline; matched by the trigger package.
	Triggers []*Trigger
	// Environments are tried in order; the first whose branches match the run's branch wins.
	Environments []*Environment
	// Stages run one after another, after the implicit Source stage.
	Stages []*Stage
	// Notifications choose which changes are sent where; nil sends every change to the
	// stack's topic.
	Notifications []*Notification
}

// Trigger kinds, the values of a trigger's "on" key.
const (
	OnPush        = "push"
	OnPullRequest = "pull_request"
	OnImage       = "image"
	OnObject      = "object"
	OnSchedule    = "schedule"
)

// Pull request events a pull_request trigger can listen to.
const (
	EventOpened  = "opened"
	EventUpdated = "updated"
	EventClosed  = "closed"
	EventMerged  = "merged"
)

// Trigger is one entry of a pipeline's triggers. Which fields apply depends on On: push uses
// Branches, Tags and Paths; pull_request uses Events, Branches (the target branch) and Paths;
// image uses Repository and Tags; object uses Bucket and Keys; schedule uses Cron and Branch.
type Trigger struct {
	Pos Pos
	On  String
	// Branches, Tags and Paths are nil when not written.
	Branches *Filter
	Tags     *Filter
	Paths    *Filter
	// Events defaults to opened and updated (with zero positions) for pull_request triggers.
	Events     []String
	Repository String
	// Bucket is the S3 bucket an object trigger listens to; Keys (nil when not written)
	// filters the created object's key.
	Bucket String
	Keys   *Filter
	Cron   String
	Branch String
	// Trusted is nil when not written (trusted). false makes every run the trigger starts
	// untrusted (docs/trust.md): its builds run apart, with no repository secrets, and it
	// never deploys. A fork's pull request is untrusted whatever it says.
	Trusted *Bool
}

// Untrusted reports whether the trigger marks its runs untrusted (trusted: false).
func (t *Trigger) Untrusted() bool { return t.Trusted != nil && !t.Trusted.Value }

// Filter is an include/exclude pair of doublestar glob lists. A value passes when it matches
// some Include pattern (or Include is empty) and no Exclude pattern.
type Filter struct {
	Pos     Pos
	Include []String
	Exclude []String
}

// Environment is a per-branch deployment target: its name and variables are read as
// #{env.name} and #{env.KEY}.
type Environment struct {
	Pos       Pos
	Branches  []String
	Name      String
	Variables []Var
	// URL is the environment's address (a preview's, say), the link of the commit status a
	// successful run posts; empty when not written. Unlike Name and Variables it is resolved
	// once the run has succeeded, so it may read every namespace, actions' outputs included.
	URL String
}

// Stage on_failure results and retry scopes, as written in the file.
const (
	FailureFail     = "fail"
	FailureRetry    = "retry"
	FailureRollback = "rollback"

	ScopeFailedActions = "failed_actions"
	ScopeAllActions    = "all_actions"
)

// Stage is a named group of actions; actions run by run_order, equal orders in parallel.
type Stage struct {
	Pos  Pos
	Name String
	// OnFailure is nil when not written (the run fails).
	OnFailure *OnFailure
	Actions   []*Action
}

// OnFailure is a stage's on_failure setting, written either as a bare result or as a mapping.
type OnFailure struct {
	Pos    Pos
	Result String
	// Attempts and Scope apply to the retry result only.
	Attempts Int
	Scope    String
}

// Action providers a pipeline file may name. The source provider is reserved for the implicit
// Source stage.
const (
	ProviderCodeBuild      = "codebuild"
	ProviderLocal          = "local"
	ProviderApproval       = "approval"
	ProviderECS            = "ecs"
	ProviderCodeDeploy     = "codedeploy"
	ProviderCloudFormation = "cloudformation"
	ProviderS3             = "s3"
	ProviderLambda         = "lambda"
)

// Action is one step of a stage. Provider-specific keys are kept in Config.
type Action struct {
	Pos      Pos
	Name     String
	Provider String
	// RunOrder is 1 (with a zero Pos) when not written.
	RunOrder  Int
	Inputs    []String
	Outputs   []String
	Namespace String
	// Timeout is zero when not written, except for approvals, which default to 7 days.
	Timeout Duration
	// Retry is nil when not written.
	Retry *Retry
	// Env holds the action's environment variables.
	Env []Var
	// Config holds the provider-specific keys in file order, then the defaults of the keys not
	// written (with zero positions).
	Config []Setting

	// stage and index place the action in its pipeline for ordering checks and messages.
	stage      *Stage
	stageIndex int
	// artifactRefs are the artifacts named by "artifact::path" settings: implicit inputs.
	artifactRefs []String
}

// Retry is an action's own retry with exponential backoff.
type Retry struct {
	Pos         Pos
	MaxAttempts Int
	Backoff     Duration
	Factor      Float
	MaxBackoff  Duration
}

// Setting is one provider-specific key of an action. Value is a string, bool, int, []any of
// strings or map[string]any of strings, the shapes engine.Action.Config carries.
type Setting struct {
	Key   String
	Value any
	// Pos is the value's position; zero for a default.
	Pos Pos
}

// Setting returns the action's provider setting named key, and whether it exists (written or
// defaulted).
func (a *Action) Setting(key string) (Setting, bool) {
	for _, s := range a.Config {
		if s.Key.Value == key {
			return s, true
		}
	}
	return Setting{}, false
}

// Stage returns the stage the action belongs to.
func (a *Action) Stage() *Stage { return a.stage }

// ID names the action as Stage/Action, unique within a pipeline, for messages.
func (a *Action) ID() string {
	if a.stage == nil {
		return a.Name.Value
	}
	return a.stage.Name.Value + "/" + a.Name.Value
}
