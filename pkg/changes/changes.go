// Package changes announces run state changes as CodePipeline does, on an EventBridge bus:
// the same three detail-types (pipeline, stage and action execution state change) and detail
// fields, with source "stepline", so rules, dashboards and notification tools written for
// CodePipeline carry over.
package changes

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/store"
)

// Source is the EventBridge source of every state change.
const Source = "stepline"

// Detail types, CodePipeline's names with stepline's prefix.
const (
	DetailPipeline = "stepline Pipeline Execution State Change"
	DetailStage    = "stepline Stage Execution State Change"
	DetailAction   = "stepline Action Execution State Change"
)

// Detail is the detail of a state change, with CodePipeline's field names.
type Detail struct {
	Pipeline    string      `json:"pipeline"`
	ExecutionID string      `json:"execution-id"`
	State       string      `json:"state"`
	Version     int64       `json:"version"`
	Stage       string      `json:"stage,omitempty"`
	Action      string      `json:"action,omitempty"`
	Type        *ActionType `json:"type,omitempty"`
	// StartTime is when the event happened, RFC 3339.
	StartTime string `json:"start-time"`
	// Attempt, Rollback and Message are stepline's additions.
	Attempt  int    `json:"attempt,omitempty"`
	Rollback bool   `json:"rollback,omitempty"`
	Message  string `json:"message,omitempty"`
	// Repository, Branch and Commit say what the run builds, for notifications.
	Repository string `json:"repository,omitempty"`
	Branch     string `json:"branch,omitempty"`
	Commit     string `json:"commit,omitempty"`
}

// ActionType is CodePipeline's action type of an action event.
type ActionType struct {
	Owner    string `json:"owner"`
	Provider string `json:"provider"`
	Category string `json:"category"`
	Version  string `json:"version"`
}

// Envelope returns the detail-type and detail of one engine event of run rec.
func Envelope(rec store.Record, e engine.Event) (string, Detail) {
	d := Detail{Pipeline: e.Pipeline, ExecutionID: e.Run, State: e.State, Version: rec.State.Seq,
		StartTime: e.Time.UTC().Format(time.RFC3339), Message: e.Message,
		Repository: rec.Repo, Branch: rec.Branch, Commit: rec.Commit}
	switch e.Type {
	case engine.StageEvent:
		d.Stage = e.Stage
		return DetailStage, d
	case engine.ActionEvent:
		d.Stage, d.Action, d.Attempt, d.Rollback = e.Stage, e.Action, e.Attempt, e.Rollback
		d.Type = &ActionType{Owner: "stepline", Provider: e.Provider, Category: category(e.Provider), Version: "1"}
		return DetailAction, d
	}
	return DetailPipeline, d
}

// category is CodePipeline's action category of a provider.
func category(provider string) string {
	switch provider {
	case engine.ProviderSource:
		return "Source"
	case "codebuild":
		return "Build"
	case engine.ProviderApproval:
		return "Approval"
	case "lambda":
		return "Invoke"
	}
	return "Deploy"
}

type eventPutter interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, optFns ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

var _ eventPutter = (*eventbridge.Client)(nil)

// EventBridge publishes state changes to a bus.
type EventBridge struct {
	eb  eventPutter
	bus string
}

// NewEventBridge returns a publisher to bus.
func NewEventBridge(eb eventPutter, bus string) *EventBridge { return &EventBridge{eb: eb, bus: bus} }

// Publish puts the events, ten per call, in order; any refused entry fails the call (the
// advance step is retried, and a state change announced twice is harmless).
func (p *EventBridge) Publish(ctx context.Context, rec store.Record, events []engine.Event) error {
	for start := 0; start < len(events); start += 10 {
		batch := events[start:min(start+10, len(events))]
		entries := make([]ebtypes.PutEventsRequestEntry, 0, len(batch))
		for _, e := range batch {
			typ, d := Envelope(rec, e)
			b, err := json.Marshal(d)
			if err != nil {
				return err
			}
			entries = append(entries, ebtypes.PutEventsRequestEntry{EventBusName: aws.String(p.bus), Source: aws.String(Source),
				DetailType: aws.String(typ), Detail: aws.String(string(b)), Time: aws.Time(e.Time),
				Resources: []string{}})
		}
		out, err := p.eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
		if err != nil {
			return fmt.Errorf("put %d state changes on %s: %w", len(entries), p.bus, err)
		}
		if out.FailedEntryCount > 0 {
			var codes []string
			for _, r := range out.Entries {
				if r.ErrorCode != nil {
					codes = append(codes, aws.ToString(r.ErrorCode))
				}
			}
			return fmt.Errorf("put state changes on %s: %d refused (%s)", p.bus, out.FailedEntryCount, strings.Join(codes, ", "))
		}
	}
	return nil
}
