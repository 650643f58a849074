// Package engine is stepline's pure pipeline planner: given a pipeline definition, the state of
// one run, what has happened since the last call and the current time, Advance decides which
// actions start now, which state-change events to announce and whether the run is finished.
//
// The package does no I/O, reads no clock and draws no random numbers, so the AWS advance Lambda
// and the local runner share one copy of pipeline semantics and every rule is testable as a
// table of inputs and decisions.
package engine

import "time"

// Mode is how runs of one pipeline share its stages (CodePipeline V2's execution modes).
type Mode string

const (
	// ModeSuperseded lets a newer run overtake an older one waiting to enter a locked stage.
	ModeSuperseded Mode = "superseded"
	// ModeQueued makes runs wait for each locked stage in arrival order.
	ModeQueued Mode = "queued"
	// ModeParallel runs never wait for each other; stages are not locked.
	ModeParallel Mode = "parallel"
)

// Definition is the validated, position-free form of one pipeline of a pipeline file. The
// pipeline package compiles the YAML file into it; the engine never sees YAML.
type Definition struct {
	// Pipeline is the pipeline's name.
	Pipeline string `json:"pipeline"`
	// Mode is the execution mode; empty means ModeSuperseded, CodePipeline V2's default.
	Mode Mode `json:"mode,omitempty"`
	// Stages run one after another.
	Stages []Stage `json:"stages"`
	// Notifications are the pipeline file's notifications: block: who is told of which changes.
	// Empty means the default: every kind to the stack's topic.
	Notifications []Notification `json:"notifications,omitempty"`
}

// Notification is one rule of the notifications: block: these kinds of change go to Target.
type Notification struct {
	// Events are notify.Kind names ("pipeline-failed", ...); empty means every kind.
	Events []string `json:"events,omitempty"`
	// Target says where the message goes.
	Target NotificationTarget `json:"target"`
}

// NotificationTarget is where a notification is sent.
type NotificationTarget struct {
	// Kind is "topic" (an SNS topic: TopicARN, or the stack's own topic when empty), "slack" or
	// "teams" (an incoming webhook whose URL is the SecretID secret's value).
	Kind string `json:"kind"`
	// TopicARN is an SNS topic ARN for Kind "topic"; empty means the stack's topic.
	TopicARN string `json:"topic_arn,omitempty"`
	// SecretID names the Secrets Manager secret (name or ARN) holding a slack/teams webhook URL.
	SecretID string `json:"secret_id,omitempty"`
}

// Stage is a group of actions; actions with equal RunOrder run in parallel, groups in
// ascending RunOrder.
type Stage struct {
	Name      string        `json:"name"`
	OnFailure FailurePolicy `json:"on_failure,omitzero"`
	Actions   []Action      `json:"actions"`
}

// FailureResult names what a stage does when one of its actions has failed for good.
type FailureResult string

const (
	// Fail ends the run as failed (the default).
	Fail FailureResult = "fail"
	// Retry runs the stage's failed actions (or all of them) again, Attempts times at most.
	Retry FailureResult = "retry"
	// Rollback runs the stage's actions again with the artifacts of the last successful run,
	// then ends the run as failed.
	Rollback FailureResult = "rollback"
)

// RetryScope says which actions a stage retry runs again.
type RetryScope string

const (
	// FailedActions retries only the actions that failed (the default).
	FailedActions RetryScope = "failed_actions"
	// AllActions retries every action of the stage.
	AllActions RetryScope = "all_actions"
)

// FailurePolicy is a stage's on_failure setting.
type FailurePolicy struct {
	Result FailureResult `json:"result,omitempty"`
	// Attempts is how many stage retries Retry allows; zero means one.
	Attempts int `json:"attempts,omitempty"`
	// Scope is which actions a stage retry runs again.
	Scope RetryScope `json:"scope,omitempty"`
}

// Action is one step of a stage, run by the executor of its provider.
type Action struct {
	Name string `json:"name"`
	// Provider selects the executor: source, codebuild, local, approval, ecs, codedeploy,
	// cloudformation, s3, lambda.
	Provider string `json:"provider"`
	// RunOrder orders the action inside its stage; zero is treated as 1.
	RunOrder int `json:"run_order,omitempty"`
	// Inputs and Outputs name artifacts; an input is produced by an earlier action's Outputs.
	Inputs  []string `json:"inputs,omitempty"`
	Outputs []string `json:"outputs,omitempty"`
	// Namespace is where the action's exported variables are published (#{namespace.NAME}).
	Namespace string `json:"namespace,omitempty"`
	// Config is the provider's configuration; string values may hold #{ns.name} variables,
	// which the engine resolves when the action starts.
	Config map[string]any `json:"config,omitempty"`
	// Timeout fails a running attempt that has not reported by then; zero means none.
	Timeout time.Duration `json:"timeout,omitempty"`
	// Retry retries a failed attempt with backoff before the failure counts for the stage.
	Retry RetryPolicy `json:"retry,omitzero"`
}

// RetryPolicy is an action's own retry with exponential backoff.
type RetryPolicy struct {
	// MaxAttempts is the total number of attempts, the first included; zero or one means none.
	MaxAttempts int `json:"max_attempts,omitempty"`
	// Backoff is the wait before the second attempt; it doubles (times Factor) each time.
	Backoff time.Duration `json:"backoff,omitempty"`
	// Factor multiplies the wait after each attempt; zero means 2.
	Factor float64 `json:"factor,omitempty"`
	// MaxBackoff caps the wait; zero means no cap.
	MaxBackoff time.Duration `json:"max_backoff,omitempty"`
}

// Well-known providers. The engine treats them alike except where noted.
const (
	ProviderSource   = "source"
	ProviderApproval = "approval"  // never retried by RetryPolicy; a rejection is final
	ProviderBuild    = "codebuild" // an untrusted run may run it (RefuseUntrusted)
)
