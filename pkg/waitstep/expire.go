package waitstep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/stepline/stepline/pkg/approval"
	"github.com/stepline/stepline/pkg/statemachine"
	"github.com/stepline/stepline/pkg/store"
)

// expire fails the approval's (or deploy's, expireDeploy) task as timed out if its token is still kept, then forgets it.
// An approval decided meanwhile has no token: nothing to do. Errors are returned for
// Scheduler to retry.
func (h *Handler) expire(ctx context.Context, e Expire) (Output, error) {
	if e.Run == "" || e.Task == "" {
		return Output{}, fmt.Errorf("expire: the schedule's input names no run or task")
	}
	log := h.log.With("run", e.Run, "task", e.Task)
	token, err := h.tokens.Token(ctx, e.Run, e.Task)
	if errors.Is(err, store.ErrNotFound) {
		log.InfoContext(ctx, "approval: decided before its deadline")
		return Output{}, nil
	}
	if err != nil {
		return Output{}, fmt.Errorf("expire %s %s: read the token: %w", e.Run, e.Task, err)
	}
	if e.Key != "" && h.deploys.Waits != nil {
		return h.expireDeploy(ctx, log, e, token)
	}
	var req approval.Request
	if raw, err := h.tokens.Token(ctx, e.Run, approval.RequestKey(e.Task)); err == nil {
		_ = json.Unmarshal([]byte(raw), &req)
	}
	cause := "the approval was not answered by its deadline"
	if !req.Expires.IsZero() {
		cause += ", " + req.Expires.UTC().Format(time.RFC3339)
	}
	_, err = h.sfn.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{TaskToken: aws.String(token),
		Error: aws.String(statemachine.ErrActionTimedOut), Cause: aws.String(cause)})
	closed := approval.TaskClosed(err)
	if err != nil && !closed {
		return Output{}, fmt.Errorf("expire %s %s: fail the task: %w", e.Run, e.Task, err)
	}
	if err := h.tokens.DeleteToken(ctx, e.Run, e.Task); err != nil {
		return Output{}, fmt.Errorf("expire %s %s: forget the token: %w", e.Run, e.Task, err)
	}
	if closed {
		log.InfoContext(ctx, "approval: its task was already closed", "error", err)
		return Output{}, nil
	}
	log.InfoContext(ctx, "approval: expired")
	if req.Run != "" {
		now := h.now()
		if err := approval.Publish(ctx, h.events, h.cfg.Bus, approval.DetailDecided, approval.Decided(req, approval.Expired, "", now), now); err != nil {
			log.WarnContext(ctx, "approval: the expiry was not announced", "error", err)
		}
	}
	return Output{Expired: true}, nil
}
