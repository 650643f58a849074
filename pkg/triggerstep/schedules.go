package triggerstep

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	schedtypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"

	"github.com/stepline/stepline/pkg/scm"
	"github.com/stepline/stepline/pkg/trigger"
)

// MaxScheduleName is EventBridge Scheduler's limit on a schedule name.
const MaxScheduleName = 64

// ScheduleKey is the key of the input a schedule sends the trigger function through the
// trigger queue: {"stepline-schedule": ScheduleInput}.
const ScheduleKey = "stepline-schedule"

// scheduledTime is the context attribute Scheduler replaces with the time the firing was
// scheduled for, the same on every retry of one firing: the firing's idempotency key.
const scheduledTime = "<aws.scheduler.scheduled-time>"

// ScheduleInput names the schedule trigger a schedule fires: which repository's registered
// file, which pipeline, which of its triggers (from 0), the branch to build, and the time the
// firing was scheduled for (RFC 3339, filled in by Scheduler).
type ScheduleInput struct {
	Provider   string `json:"provider"`
	Repository string `json:"repository"`
	Pipeline   string `json:"pipeline"`
	Trigger    int    `json:"trigger"`
	Branch     string `json:"branch"`
	Time       string `json:"time"`
}

type schedules interface {
	CreateSchedule(ctx context.Context, in *scheduler.CreateScheduleInput, optFns ...func(*scheduler.Options)) (*scheduler.CreateScheduleOutput, error)
	UpdateSchedule(ctx context.Context, in *scheduler.UpdateScheduleInput, optFns ...func(*scheduler.Options)) (*scheduler.UpdateScheduleOutput, error)
	DeleteSchedule(ctx context.Context, in *scheduler.DeleteScheduleInput, optFns ...func(*scheduler.Options)) (*scheduler.DeleteScheduleOutput, error)
}

var _ schedules = (*scheduler.Client)(nil)

// ScheduleName names the schedule of trigger number index of pipeline in repo of provider:
// readable parts (repository and pipeline slugs, the index) cut to fit, then a digest of the
// exact values, so names are stable across pushes, unique per trigger, within
// MaxScheduleName and made of the characters Scheduler accepts ([0-9A-Za-z._-]).
func ScheduleName(provider, repo, pipeline string, index int) string {
	sum := sha256.Sum256([]byte(provider + "\x00" + repo + "\x00" + pipeline + "\x00" + strconv.Itoa(index)))
	suffix := "-" + hex.EncodeToString(sum[:6])
	readable := scm.Slug(repo) + "." + scm.Slug(pipeline) + "." + strconv.Itoa(index)
	if len(readable) > MaxScheduleName-len(suffix) {
		readable = strings.TrimRight(readable[:MaxScheduleName-len(suffix)], ".-")
	}
	return readable + suffix
}

// scheduleRequest is what one schedule trigger asks Scheduler for.
type scheduleRequest struct {
	name        string
	expression  string
	input       string
	description string
}

func (h *Handler) scheduleRequest(provider, repo string, s trigger.Schedule) scheduleRequest {
	in, _ := json.Marshal(map[string]ScheduleInput{ScheduleKey: {Provider: provider, Repository: repo,
		Pipeline: s.Pipeline, Trigger: s.Trigger, Branch: s.Branch, Time: scheduledTime}})
	desc := fmt.Sprintf("stepline: %s %s, pipeline %s, schedule trigger #%d on %s", provider, repo, s.Pipeline, s.Trigger+1, s.Branch)
	if len(desc) > 512 {
		desc = strings.ToValidUTF8(desc[:509], "") + "…"
	}
	return scheduleRequest{name: ScheduleName(provider, repo, s.Pipeline, s.Trigger), expression: s.Expression, input: string(in), description: desc}
}

// putSchedule creates or replaces one schedule sending its input to target, the trigger
// queue's ARN (Scheduler sends the input as the message body): UpdateSchedule first, since
// most pushes leave a schedule as it was, CreateSchedule when there is none yet. A refusal of
// the expression (ValidationException) is the file's problem, not the service's: it is
// logged and skipped, so one bad cron neither blocks the others nor retries forever.
func (h *Handler) putSchedule(ctx context.Context, log *slog.Logger, target string, r scheduleRequest) error {
	tgt := &schedtypes.Target{Arn: aws.String(target), RoleArn: aws.String(h.schedulerRole), Input: aws.String(r.input)}
	window := &schedtypes.FlexibleTimeWindow{Mode: schedtypes.FlexibleTimeWindowModeOff}
	desc := aws.String(r.description)
	update := func() error {
		_, err := h.scheduler.UpdateSchedule(ctx, &scheduler.UpdateScheduleInput{Name: aws.String(r.name), GroupName: aws.String(h.scheduleGroup),
			ScheduleExpression: aws.String(r.expression), FlexibleTimeWindow: window, Target: tgt, State: schedtypes.ScheduleStateEnabled, Description: desc})
		return err
	}
	err := update()
	var missing *schedtypes.ResourceNotFoundException
	if errors.As(err, &missing) {
		_, err = h.scheduler.CreateSchedule(ctx, &scheduler.CreateScheduleInput{Name: aws.String(r.name), GroupName: aws.String(h.scheduleGroup),
			ScheduleExpression: aws.String(r.expression), FlexibleTimeWindow: window, Target: tgt, State: schedtypes.ScheduleStateEnabled, Description: desc})
		var conflict *schedtypes.ConflictException
		if errors.As(err, &conflict) {
			// Another invocation created it between the two calls: make it ours.
			err = update()
		}
	}
	var invalid *schedtypes.ValidationException
	switch {
	case errors.As(err, &invalid):
		log.ErrorContext(ctx, "trigger: EventBridge Scheduler refuses the schedule; it does not run", "schedule", r.name, "expression", r.expression, "error", err)
		return nil
	case err != nil:
		return fmt.Errorf("schedule %s: %w", r.name, err)
	}
	log.InfoContext(ctx, "trigger: schedule in place", "schedule", r.name, "expression", r.expression)
	return nil
}

// deleteSchedule removes a schedule whose trigger is gone; one already gone is fine.
func (h *Handler) deleteSchedule(ctx context.Context, log *slog.Logger, name string) error {
	_, err := h.scheduler.DeleteSchedule(ctx, &scheduler.DeleteScheduleInput{Name: aws.String(name), GroupName: aws.String(h.scheduleGroup)})
	var missing *schedtypes.ResourceNotFoundException
	if err != nil && !errors.As(err, &missing) {
		return fmt.Errorf("delete schedule %s: %w", name, err)
	}
	log.InfoContext(ctx, "trigger: schedule removed, its trigger is gone", "schedule", name)
	return nil
}
