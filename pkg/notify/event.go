package notify

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/stepline/stepline/pkg/approval"
	"github.com/stepline/stepline/pkg/changes"
	"github.com/stepline/stepline/pkg/engine"
)

// Kind names a notification: the events a pipeline file's notifications block can choose.
type Kind string

// The kinds of notification, one per state change people act on.
const (
	PipelineStarted    Kind = "pipeline-started"
	PipelineSucceeded  Kind = "pipeline-succeeded"
	PipelineFailed     Kind = "pipeline-failed"
	PipelineSuperseded Kind = "pipeline-superseded"
	PipelineCanceled   Kind = "pipeline-canceled"
	StageFailed        Kind = "stage-failed"
	ActionFailed       Kind = "action-failed"
	ApprovalNeeded     Kind = "approval-needed"
	Rollback           Kind = "rollback"
)

// Kinds lists every Kind, in the order documentation names them.
func Kinds() []Kind {
	return []Kind{PipelineStarted, PipelineSucceeded, PipelineFailed, PipelineSuperseded, PipelineCanceled,
		StageFailed, ActionFailed, ApprovalNeeded, Rollback}
}

// Change is one stepline event as EventBridge delivers it to a rule's target, decoded.
type Change struct {
	// DetailType is the event's detail-type.
	DetailType string
	// Time is when it happened.
	Time time.Time
	// State is the detail of a pipeline, stage or action state change.
	State changes.Detail
	// Approval is the detail of "stepline Approval Requested".
	Approval approval.RequestedDetail
}

// ErrNotStepline means the event is not one of stepline's state changes or approval
// requests: a rule sent something else, which is dropped, not retried.
var ErrNotStepline = errors.New("not a stepline state change")

// envelope is the part of an EventBridge event Decode reads.
type envelope struct {
	Source     string          `json:"source"`
	DetailType string          `json:"detail-type"`
	Time       string          `json:"time"`
	Detail     json.RawMessage `json:"detail"`
}

// stateDetail is the part of a changes.Detail notifications read: a field nothing reads
// (version, the action type) never refuses an event, whatever its type becomes.
type stateDetail struct {
	Pipeline    string `json:"pipeline"`
	ExecutionID string `json:"execution-id"`
	State       string `json:"state"`
	Stage       string `json:"stage"`
	Action      string `json:"action"`
	Attempt     int    `json:"attempt"`
	StartTime   string `json:"start-time"`
	Message     string `json:"message"`
	Rollback    bool   `json:"rollback"`
	Repository  string `json:"repository"`
	Branch      string `json:"branch"`
	Commit      string `json:"commit"`
}

// Decode reads one EventBridge event. Fields nothing reads are ignored; a malformed time
// falls back to the detail's start-time, and then to the zero time, since the event still
// says what happened.
func Decode(b []byte) (Change, error) {
	var e envelope
	if err := json.Unmarshal(b, &e); err != nil {
		return Change{}, fmt.Errorf("decode an event: %w", err)
	}
	if e.Source != changes.Source {
		return Change{}, fmt.Errorf("%w: source %q", ErrNotStepline, e.Source)
	}
	c := Change{DetailType: e.DetailType}
	var err error
	switch e.DetailType {
	case changes.DetailPipeline, changes.DetailStage, changes.DetailAction:
		var d stateDetail
		err = json.Unmarshal(e.Detail, &d)
		if err == nil && (d.Pipeline == "" || d.ExecutionID == "" || d.State == "") {
			err = errors.New("pipeline, execution-id and state are required")
		}
		c.State = changes.Detail{Pipeline: d.Pipeline, ExecutionID: d.ExecutionID, State: d.State, Stage: d.Stage,
			Action: d.Action, Attempt: d.Attempt, StartTime: d.StartTime, Message: d.Message, Rollback: d.Rollback,
			Repository: d.Repository, Branch: d.Branch, Commit: d.Commit}
	case approval.DetailRequested:
		err = json.Unmarshal(e.Detail, &c.Approval)
		if err == nil && (c.Approval.Pipeline == "" || c.Approval.Run == "") {
			err = errors.New("pipeline and run are required")
		}
	default:
		return Change{}, fmt.Errorf("%w: detail-type %q", ErrNotStepline, e.DetailType)
	}
	if err != nil {
		return Change{}, fmt.Errorf("decode %s: %w", e.DetailType, err)
	}
	c.Time = parseTime(e.Time, c.State.StartTime)
	return c, nil
}

func parseTime(times ...string) time.Time {
	for _, s := range times {
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// Run returns the id of the run the change is about.
func (c Change) Run() string {
	if c.DetailType == approval.DetailRequested {
		return c.Approval.Run
	}
	return c.State.ExecutionID
}

// Kind returns the notification the change is, and false for a change nobody is told about
// (a stage or action that started or succeeded, a stage waiting for its lock, a retry).
func (c Change) Kind() (Kind, bool) {
	d := c.State
	switch c.DetailType {
	case approval.DetailRequested:
		return ApprovalNeeded, true
	case changes.DetailPipeline:
		switch d.State {
		case engine.Started:
			return PipelineStarted, true
		case string(engine.Succeeded):
			return PipelineSucceeded, true
		case string(engine.Failed):
			return PipelineFailed, true
		case string(engine.Superseded):
			return PipelineSuperseded, true
		case string(engine.Canceled):
			return PipelineCanceled, true
		}
	case changes.DetailStage:
		switch d.State {
		case string(engine.Failed):
			return StageFailed, true
		case engine.RollingBack:
			return Rollback, true
		}
	case changes.DetailAction:
		if d.State == string(engine.Failed) {
			return ActionFailed, true
		}
	}
	return "", false
}
