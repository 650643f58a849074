// Package waitstep is the handler of functions/wait, which the state machine's Wait state
// invokes with lambda:invoke.waitForTaskToken and {token, run, task}. The function starts
// the long work, keeps the task token and returns; the answer comes later through the token.
//
// Approvals: the request, with the random key its links carry (approval.NewKey), and the
// token are kept in the table, a one-time EventBridge Scheduler schedule is set for the
// deadline, and "stepline Approval Requested" is announced with the links of the approval
// page (pkg/approval). At the deadline the schedule invokes the function again with
// {"expire": {run, task}}, and a token still kept is failed as ActionTimedOut.
//
// Deploys (ecs, codedeploy, cloudformation, s3; WithDeploys): the provider's Start is called
// with the task's configuration and its input artifacts (pkg/deploy/s3artifact at the run's
// locations; a rollback attempt carries the previous run's and sets Request.Previous). A
// deploy finished within Start is answered at once; otherwise the token is kept under the
// task and under the key the finishing event names, and the action's deadline is scheduled as
// an approval's is, its expiry naming what was awaited (Wait.What). The finishing events
// ("ECS Deployment State Change", "CodeDeploy Deployment State-change Notification",
// "CloudFormation Stack Status Change") reach this same function from the stack's rules on
// the default bus; each provider's Match names the wait, and the token is answered: success
// with the outputs as the action's variables ({"variables": ...}, as pkg/advance reads a
// Wait's output), or ActionFailed with the service's reason. Late, duplicate and unknown
// events do nothing.
package waitstep

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	schedtypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/stepline/stepline/pkg/approval"
	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/pipeline"
	"github.com/stepline/stepline/pkg/statemachine"
	"github.com/stepline/stepline/pkg/store"
)

// Tokens is what the function needs of the token store (store/dynamo in AWS). Token fails
// with store.ErrNotFound when there is none, or when it has expired.
type Tokens interface {
	PutToken(ctx context.Context, run, task, token string, expires time.Time) error
	Token(ctx context.Context, run, task string) (string, error)
	DeleteToken(ctx context.Context, run, task string) error
}

// taskFailer fails an expired approval's task.
type taskFailer interface {
	SendTaskFailure(ctx context.Context, in *sfn.SendTaskFailureInput, optFns ...func(*sfn.Options)) (*sfn.SendTaskFailureOutput, error)
}

// schedules sets (and, when the announcement fails, removes) an approval's deadline.
type schedules interface {
	CreateSchedule(ctx context.Context, in *scheduler.CreateScheduleInput, optFns ...func(*scheduler.Options)) (*scheduler.CreateScheduleOutput, error)
	DeleteSchedule(ctx context.Context, in *scheduler.DeleteScheduleInput, optFns ...func(*scheduler.Options)) (*scheduler.DeleteScheduleOutput, error)
}

var (
	_ taskFailer = (*sfn.Client)(nil)
	_ schedules  = (*scheduler.Client)(nil)
)

// Config is the deployment's settings, from the function's environment.
type Config struct {
	// APIURL is the HTTP API's base URL the approval links start with (STEPLINE_API_URL).
	APIURL string
	// Bus is the EventBridge bus approvals are announced on (STEPLINE_EVENT_BUS).
	Bus string
	// ScheduleGroup and SchedulerRoleARN are the group deadlines are created in and the role
	// Scheduler assumes to invoke this function (STEPLINE_SCHEDULE_GROUP,
	// STEPLINE_SCHEDULER_ROLE_ARN).
	ScheduleGroup    string
	SchedulerRoleARN string
	// StateMachineARN is the pipeline state machine, named as the resource of the events
	// (STEPLINE_STATE_MACHINE_ARN).
	StateMachineARN string
}

// TokenGrace is how long a token is kept past its approval's deadline. The deadline's
// schedule must still find it (Scheduler retries delivering the invocation for up to a day,
// Lambda retries a failed one for up to 6 hours before it goes to the dead-letter queue, and
// the token store reports a token past its expiry as missing); the page refuses decisions
// from the deadline on by itself.
const TokenGrace = 24 * time.Hour

// Handler is functions/wait's handler. Build it with New.
type Handler struct {
	tokens    Tokens
	sfn       taskFailer
	schedules schedules
	events    approval.EventPutter
	cfg       Config
	deploys   Deploys
	now       func() time.Time
	log       *slog.Logger
}

// Option configures a Handler.
type Option func(*Handler)

// WithClock sets the clock (tests).
func WithClock(now func() time.Time) Option { return func(h *Handler) { h.now = now } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(h *Handler) { h.log = l } }

// New returns a Handler.
func New(tokens Tokens, tasks taskFailer, sched schedules, eb approval.EventPutter, cfg Config, opts ...Option) *Handler {
	h := &Handler{tokens: tokens, sfn: tasks, schedules: sched, events: eb, cfg: cfg, now: time.Now, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(h)
	}
	return h
}

// Input is what the function is invoked with: the Wait state's {token, run, task}, the
// deadline schedule's {"expire": {run, task}}, or a deploy's finishing event from an
// EventBridge rule on the default bus (the fields of Event).
//
// The events come to this function rather than to one of their own: answering them needs the
// table's token items, SendTaskSuccess/Failure and the describe calls the providers' Start
// makes already (DescribeStacks), so a second function's role would repeat this one's grants
// but for codedeploy:GetDeployment, and cost a function, a role, a log group and an alarm more.
type Input struct {
	Token  string             `json:"token,omitempty"`
	Run    string             `json:"run,omitempty"`
	Task   *statemachine.Item `json:"task,omitempty"`
	Expire *Expire            `json:"expire,omitempty"`
	Event
}

// Expire names the wait whose deadline has come; Task is its approval.TaskKey. A deploy's
// also carries the key it is kept under and what it waited for, for the timeout's message.
type Expire struct {
	Run  string `json:"run"`
	Task string `json:"task"`
	Key  string `json:"key,omitempty"`
	What string `json:"what,omitempty"`
}

// Output is the function's answer. The Wait state ignores it (the token's answer is the
// state's result); it says what was done, for logs and tests.
type Output struct {
	// Waiting is the approval's task key when an approval now waits.
	Waiting string `json:"waiting,omitempty"`
	// Expires is the approval's deadline.
	Expires *time.Time `json:"expires,omitempty"`
	// Expired is true when a deadline failed a task still waiting.
	Expired bool `json:"expired,omitempty"`
	// Key is the key a started deploy waits under.
	Key string `json:"key,omitempty"`
	// Finished is true when a deploy's task was answered (finished within Start, or by an event).
	Finished bool `json:"finished,omitempty"`
}

// Handle starts a wait, or ends one whose deadline has come.
func (h *Handler) Handle(ctx context.Context, in Input) (Output, error) {
	if in.Expire != nil {
		return h.expire(ctx, *in.Expire)
	}
	if in.DetailType != "" {
		return h.finished(ctx, in.Event)
	}
	if in.Task == nil || in.Token == "" {
		return Output{}, &ActionFailed{Msg: "the wait function needs the Wait state's {token, run, task}: the request has no token or no task"}
	}
	t := in.Task.Task
	if t.Run == "" || t.Stage == "" || t.Action == "" || t.Attempt < 1 {
		return Output{}, &ActionFailed{Msg: fmt.Sprintf("task %q names no run, stage, action or attempt", in.Task.ID)}
	}
	switch t.Provider {
	case engine.ProviderApproval:
		return h.request(ctx, in.Token, *in.Task)
	case "ecs", "codedeploy", "cloudformation", "s3":
		return h.startDeploy(ctx, in.Token, *in.Task)
	}
	return Output{}, &ActionFailed{Msg: fmt.Sprintf("action %s/%s: provider %q does not wait for a task token", t.Stage, t.Action, t.Provider)}
}

// timeoutOf is the approval's timeout: the attempt's, else the task's, capped at and
// defaulting to pipeline.MaxApprovalTimeout, as the pipeline file rules.
func timeoutOf(it statemachine.Item) time.Duration {
	d := time.Duration(it.TimeoutSeconds) * time.Second
	if d <= 0 {
		d = it.Task.Timeout
	}
	if d <= 0 || d > pipeline.MaxApprovalTimeout {
		d = pipeline.MaxApprovalTimeout
	}
	return d
}

// MinDeadline is how far ahead of now an approval's deadline, and so its schedule, is set at
// the least: Scheduler's at() must not lie in the past by the time the schedule is created.
const MinDeadline = 60 * time.Second

// deadlineAfter is now plus d (at least MinDeadline), in whole seconds rounded up: at() has
// no fractions, and the deadline is never early.
func deadlineAfter(now time.Time, d time.Duration) time.Time {
	d = max(d, MinDeadline)
	return now.Add(d).Add(time.Second - 1).Truncate(time.Second).UTC()
}

// request keeps the request and the token, sets the deadline and announces the approval.
//
// The Wait state retries the invocation on Lambda service errors, when this function may
// have run already, and a retry may carry a new task token. A request kept by an earlier
// invocation therefore stands, with its key and deadline, so the links already sent keep
// working: only the new token is stored, and the schedule, created already, answers
// ConflictException. The announcement is sent again only when the request does not say it
// went out (an earlier invocation stopped, or failed to record it, after keeping the
// request); it then carries the same links.
func (h *Handler) request(ctx context.Context, token string, it statemachine.Item) (Output, error) {
	t := it.Task
	lc, ok := lambdacontext.FromContext(ctx)
	if !ok || lc.InvokedFunctionArn == "" {
		return Output{}, &ActionFailed{Msg: "approval: no Lambda context names this function, which the deadline's schedule must invoke"}
	}
	now := h.now()
	task := approval.TaskKey(t.Stage, t.Action, t.Attempt)
	log := h.log.With("run", t.Run, "task", task)

	req, found, err := h.kept(ctx, log, t.Run, task)
	if err != nil {
		return Output{}, &ActionFailed{Msg: fmt.Sprintf("approval %s/%s: read the kept request: %v", t.Stage, t.Action, err)}
	}
	if found {
		log.InfoContext(ctx, "approval: requested before; its key and deadline stand", "expires", req.Expires, "announced", req.Announced)
	} else {
		req = approval.Request{Pipeline: t.Pipeline, Run: t.Run, Stage: t.Stage, Action: t.Action, Attempt: t.Attempt,
			Message: configString(t, "message"), URL: configString(t, "url"),
			Expires: deadlineAfter(now, timeoutOf(it)), Key: approval.NewKey()}
		if err := h.keep(ctx, req); err != nil {
			return Output{}, &ActionFailed{Msg: fmt.Sprintf("approval %s/%s: keep the request: %v", t.Stage, t.Action, err)}
		}
	}
	deadline := req.Expires
	if err := h.tokens.PutToken(ctx, t.Run, task, token, deadline.Add(TokenGrace)); err != nil {
		return Output{}, &ActionFailed{Msg: fmt.Sprintf("approval %s/%s: keep the task token: %v", t.Stage, t.Action, err)}
	}
	name := ScheduleName(t.Run, task)
	// A retry long after the first invocation may find the deadline close or gone: the
	// schedule then fires MinDeadline from now, and the expiry fails the task.
	at := deadline
	if soonest := deadlineAfter(now, 0); at.Before(soonest) {
		at = soonest
	}
	created, err := h.schedule(ctx, name, lc.InvokedFunctionArn, Expire{Run: t.Run, Task: task}, at)
	if err != nil {
		return Output{}, &ActionFailed{Msg: fmt.Sprintf("approval %s/%s: set its deadline: %v", t.Stage, t.Action, err)}
	}
	out := Output{Waiting: task, Expires: &deadline}
	if req.Announced {
		log.InfoContext(ctx, "approval: announced before; the new token is kept", "schedule", name)
		return out, nil
	}
	links := approval.LinksFor(h.cfg.APIURL, t.Run, task, req.Key)
	var resources []string
	if h.cfg.StateMachineARN != "" {
		resources = []string{h.cfg.StateMachineARN}
	}
	if err := approval.Publish(ctx, h.events, h.cfg.Bus, approval.DetailRequested, approval.Requested(req, links), now, resources...); err != nil {
		// Nobody would hear of it: fail the action now rather than let it wait unseen.
		if created {
			if _, derr := h.schedules.DeleteSchedule(ctx, &scheduler.DeleteScheduleInput{Name: aws.String(name), GroupName: aws.String(h.cfg.ScheduleGroup)}); derr != nil {
				log.WarnContext(ctx, "approval: the deadline's schedule could not be removed", "schedule", name, "error", derr)
			}
		}
		for _, key := range []string{task, approval.RequestKey(task)} {
			if derr := h.tokens.DeleteToken(ctx, t.Run, key); derr != nil {
				log.WarnContext(ctx, "approval: the token or the request could not be removed", "item", key, "error", derr)
			}
		}
		return Output{}, &ActionFailed{Msg: fmt.Sprintf("approval %s/%s: announce it: %v", t.Stage, t.Action, err)}
	}
	req.Announced = true
	if err := h.keep(ctx, req); err != nil {
		// The approval waits all the same; a retried invocation would announce the same links again.
		log.WarnContext(ctx, "approval: announced, but the request could not record it", "error", err)
	}
	log.InfoContext(ctx, "approval: requested", "pipeline", t.Pipeline, "expires", deadline, "schedule", name)
	return out, nil
}

// kept returns the request an earlier invocation kept for task of run. A request that cannot
// be read, or that has no key (kept before keys were drawn at random), is not one to keep:
// found is false, and a new request replaces it.
func (h *Handler) kept(ctx context.Context, log *slog.Logger, run, task string) (req approval.Request, found bool, err error) {
	raw, err := h.tokens.Token(ctx, run, approval.RequestKey(task))
	if errors.Is(err, store.ErrNotFound) {
		return approval.Request{}, false, nil
	}
	if err != nil {
		return approval.Request{}, false, err
	}
	if err := json.Unmarshal([]byte(raw), &req); err != nil || req.Key == "" || req.Expires.IsZero() {
		log.WarnContext(ctx, "approval: a kept request without a key or deadline is replaced", "error", err)
		return approval.Request{}, false, nil
	}
	return req, true, nil
}

// keep stores req under its RequestKey for as long as its token.
func (h *Handler) keep(ctx context.Context, req approval.Request) error {
	raw, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("encode the request: %w", err)
	}
	return h.tokens.PutToken(ctx, req.Run, approval.RequestKey(req.Task()), string(raw), req.Expires.Add(TokenGrace))
}

// ScheduleName names the deadline of the approval task of run: Scheduler allows 64
// characters of [0-9A-Za-z_.-], so the name is a digest, the same for a retried invocation.
func ScheduleName(run, task string) string {
	sum := sha256.Sum256([]byte(run + "/" + task))
	return "approval-" + hex.EncodeToString(sum[:16])
}

// schedule creates the one-time schedule invoking fn with {"expire": e} at deadline, and
// deletes itself once done. It reports whether it created the schedule: one that exists
// already was created by an earlier invocation for the same attempt.
func (h *Handler) schedule(ctx context.Context, name, fn string, e Expire, deadline time.Time) (bool, error) {
	input, _ := json.Marshal(Input{Expire: &e})
	_, err := h.schedules.CreateSchedule(ctx, &scheduler.CreateScheduleInput{
		Name:                       aws.String(name),
		GroupName:                  aws.String(h.cfg.ScheduleGroup),
		ScheduleExpression:         aws.String("at(" + deadline.Format("2006-01-02T15:04:05") + ")"),
		ScheduleExpressionTimezone: aws.String("UTC"),
		FlexibleTimeWindow:         &schedtypes.FlexibleTimeWindow{Mode: schedtypes.FlexibleTimeWindowModeOff},
		ActionAfterCompletion:      schedtypes.ActionAfterCompletionDelete,
		Description:                aws.String(truncate("stepline approval deadline of "+e.Run+" "+e.Task, 512)),
		Target: &schedtypes.Target{
			Arn:     aws.String(fn),
			RoleArn: aws.String(h.cfg.SchedulerRoleARN),
			Input:   aws.String(string(input)),
		},
	})
	var conflict *schedtypes.ConflictException
	if errors.As(err, &conflict) {
		return false, nil
	}
	return err == nil, err
}

// configString returns a text setting of the task, "" when absent.
func configString(t engine.Task, key string) string {
	s, _ := t.Config[key].(string)
	return s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
