package advance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/statemachine"
	"github.com/stepline/stepline/pkg/store"
)

// ExecutionEvent is what functions/advance reads of EventBridge's "Step Functions Execution
// Status Change" event. Only the fields used are decoded (dates and the output are not), so
// a new or retyped field never refuses the event.
type ExecutionEvent struct {
	Source     string           `json:"source,omitempty"`
	DetailType string           `json:"detail-type,omitempty"`
	Detail     *ExecutionDetail `json:"detail,omitempty"`
}

// ExecutionDetail is the event's detail.
type ExecutionDetail struct {
	ExecutionArn    string `json:"executionArn"`
	StateMachineArn string `json:"stateMachineArn"`
	Status          string `json:"status"`
	// Input is the execution's input as JSON text, {"run": "<id>"} as functions/trigger
	// starts it; EventBridge leaves it out (null) only when input and output together pass
	// 248 KB, which a run id never does.
	Input *string `json:"input"`
	Error *string `json:"error"`
	Cause *string `json:"cause"`
}

// ended abandons the run of an execution that ended outside the state machine's Catch paths
// (StopExecution, the execution's timeout, States.DataLimitExceeded or States.Runtime, the
// Broken state): its stage locks are released (the run waiting behind it is told, as on
// every release), its record ends CANCELED and the state changes are published, through the
// same step the Abandon state takes. A run that already ended, an event for an execution
// with no run, a duplicate delivery and any other event change nothing and are logged: a
// Failed or Canceled run's execution ends FAILED too, after Advance has released its locks.
func (h *Handler) ended(ctx context.Context, in Input) error {
	d := in.Detail
	if in.Source != "aws.states" || in.DetailType != statemachine.ExecutionStatusChange || d == nil {
		h.log.WarnContext(ctx, "not a Step Functions execution status change; ignored", "source", in.Source, "detail-type", in.DetailType)
		return nil
	}
	log := h.log.With("execution", d.ExecutionArn, "status", d.Status)
	if !slices.Contains(statemachine.EndedStatuses(), d.Status) {
		log.InfoContext(ctx, "execution status change that ends no run; ignored")
		return nil
	}
	var started struct {
		Run string `json:"run"`
	}
	if d.Input == nil || json.Unmarshal([]byte(*d.Input), &started) != nil || started.Run == "" {
		log.WarnContext(ctx, "execution ended without a run in its input; ignored")
		return nil
	}
	log = log.With("run", started.Run)
	rec, err := h.store.GetRun(ctx, started.Run)
	switch {
	case errors.Is(err, store.ErrNotFound):
		log.WarnContext(ctx, "execution ended for a run with no record; ignored")
		return nil
	case err != nil:
		return &AdvanceUnavailable{Msg: fmt.Sprintf("read run %s: %v", started.Run, err)}
	case rec.State.Status.Final():
		log.InfoContext(ctx, "execution ended after its run; nothing to release", "run_status", rec.State.Status.String())
		return nil
	case rec.ExecutionARN != "" && rec.ExecutionARN != d.ExecutionArn:
		// A retry or a rollback resumed the run in a newer execution, which drives it now.
		log.InfoContext(ctx, "an earlier execution of a resumed run ended; ignored", "current", rec.ExecutionARN)
		return nil
	}
	msg := "the execution ended " + d.Status + " outside the state machine's paths"
	if e := (statemachine.TaskError{Error: deref(d.Error), Cause: deref(d.Cause)}); e.Error == statemachine.ErrRunStopped && e.Cause != "" {
		// StopExecution from stepline stop: its cause says who stopped the run and why.
		msg = e.Cause
	} else if e != (statemachine.TaskError{}) {
		msg += ": " + strings.TrimPrefix(failure(&e), ": ")
	}
	log.WarnContext(ctx, "abandoning the run of an execution that ended outside the state machine's paths")
	in.State = statemachine.State{Run: started.Run}
	_, err = h.step(ctx, in, &engine.Input{Kind: engine.KindCancel, Message: msg})
	return err
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
