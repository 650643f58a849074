// Package deploy is what every AWS deploy provider (ecs, codedeploy, cloudformation, s3) has in
// common: a Provider starts one deploy action and says what finishes it; the finish arrives as
// an EventBridge event on AWS (Match, pure) or, on a laptop that no event can reach, from the
// service's describe APIs (Poll). The state machine's Wait state (functions/wait) calls Start
// and keeps the task token under the Wait's key; the event rule's function calls Match and
// answers the token; `stepline run --aws-deploy` calls Start and then Poll until it is done.
// Each provider lives in its own package below this one, one file a provider, behind this
// one interface (STYLE.md rule 16).
package deploy

import (
	"context"
	"encoding/json"
	"time"
)

// Provider performs one kind of deploy action.
type Provider interface {
	// Start begins the deploy the request describes and returns what finishes it. A deploy
	// that is already finished when Start returns (an empty change set, an S3 upload) says so
	// in Wait.Done with its Outcome.
	Start(ctx context.Context, req Request) (Wait, error)
	// Poll asks the service once how the deploy of w stands (laptop mode: no events there).
	Poll(ctx context.Context, w Wait) (Outcome, error)
}

// EventMatcher reads the EventBridge events a provider's deploys end with.
type EventMatcher interface {
	// Match reads one event (detail-type and detail, as EventBridge delivers them) and
	// returns the key of the Wait it finishes and the outcome; ok is false for an event that
	// finishes nothing (an intermediate state, another service's event). It does no I/O.
	Match(detailType string, detail json.RawMessage) (key string, out Outcome, ok bool)
}

// Request is one deploy action to start.
type Request struct {
	// Run and Action identify the action (for names, client tokens and messages).
	Run, Stage, Action string
	// Config is the action's provider configuration with every #{...} variable resolved.
	Config map[string]any
	// Inputs are the action's input artifacts by name.
	Inputs map[string]Artifact
	// Previous is true when the request redeploys an earlier run's artifacts (a rollback).
	Previous bool
}

// Artifact is an input artifact: a zip in S3 (on AWS) or on disk (local runs).
type Artifact interface {
	// ReadFile returns one file of the artifact, by its slash-separated path in the zip.
	ReadFile(ctx context.Context, name string) ([]byte, error)
	// Location is where the artifact is, for services that read it themselves (S3 URL).
	Location() Location
}

// Location is an artifact's place in S3.
type Location struct {
	Bucket, Key string
}

// Wait is what a started deploy waits for.
type Wait struct {
	// Provider is the provider's name (ecs, codedeploy, cloudformation, s3).
	Provider string `json:"provider"`
	// Key is what the finishing event names: an ECS deployment id, a CodeDeploy deployment
	// id, a CloudFormation stack id. Match returns the same key.
	Key string `json:"key"`
	// Resource is the ARN the rule scopes on and the message names (service, stack, ...).
	Resource string `json:"resource,omitempty"`
	// What says in words what is awaited, for a timeout's message ("ECS deployment
	// ecs-svc/123 of service api to complete").
	What string `json:"what"`
	// Done is true when the deploy finished within Start; Outcome is then final.
	Done    bool    `json:"done,omitempty"`
	Outcome Outcome `json:"outcome,omitzero"`
	// Started is when Start returned.
	Started time.Time `json:"started"`
}

// Outcome is how a deploy stands.
type Outcome struct {
	// Done is false while the deploy is still in progress.
	Done bool `json:"done"`
	// Succeeded is meaningful when Done.
	Succeeded bool `json:"succeeded,omitempty"`
	// RolledBack is true when the service itself rolled the deploy back (ECS circuit
	// breaker, CodeDeploy automatic rollback, CloudFormation UPDATE_ROLLBACK_COMPLETE).
	RolledBack bool `json:"rolled_back,omitempty"`
	// Message is the service's reason, for the run's record and notifications.
	Message string `json:"message,omitempty"`
	// Outputs become the action's exported variables (a stack's outputs, say).
	Outputs map[string]string `json:"outputs,omitempty"`
}
