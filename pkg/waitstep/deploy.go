package waitstep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/stepline/stepline/pkg/approval"
	"github.com/stepline/stepline/pkg/deploy"
	"github.com/stepline/stepline/pkg/statemachine"
	"github.com/stepline/stepline/pkg/store"
	"github.com/stepline/stepline/pkg/store/dynamo"
)

// Waits keeps started deploys by the key their finishing event names (store/dynamo in AWS).
// Waiting fails with store.ErrNotFound when there is none, or when it has expired.
type Waits interface {
	PutWaiting(ctx context.Context, key string, w dynamo.Waiting) error
	Waiting(ctx context.Context, key string) (dynamo.Waiting, error)
	DeleteWaiting(ctx context.Context, key string) error
}

// taskAnswerer answers a deploy's task token: its outcome, or its failure.
type taskAnswerer interface {
	taskFailer
	SendTaskSuccess(ctx context.Context, in *sfn.SendTaskSuccessInput, optFns ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error)
}

var _ taskAnswerer = (*sfn.Client)(nil)

// outputReader is the cloudformation provider's Outputs: Match is pure, so a stack's outputs
// are read once its success event has arrived.
type outputReader interface {
	Outputs(ctx context.Context, stackID string) (map[string]string, error)
}

// Deploys is what the deploy actions need on AWS.
type Deploys struct {
	// Providers are the deploy providers by name (ecs, codedeploy, cloudformation, s3).
	Providers map[string]deploy.Provider
	// Artifact opens an input artifact at its S3 location (s3artifact.New in AWS).
	Artifact func(deploy.Location) deploy.Artifact
	// Waits keeps started deploys by their key.
	Waits Waits
	// Tasks answers the task tokens.
	Tasks taskAnswerer
}

// WithDeploys serves the deploy providers; without it, deploy actions fail at once.
func WithDeploys(d Deploys) Option { return func(h *Handler) { h.deploys = d } }

// Event is an EventBridge event as a rule delivers it to a Lambda function: the deploy
// events of ECS, CodeDeploy and CloudFormation on the default bus.
// https://docs.aws.amazon.com/eventbridge/latest/ref/overiew-event-structure.html
type Event struct {
	ID         string          `json:"id,omitempty"`
	Source     string          `json:"source,omitempty"`
	DetailType string          `json:"detail-type,omitempty"`
	Resources  []string        `json:"resources,omitempty"`
	Detail     json.RawMessage `json:"detail,omitempty"`
}

// waitKey is where a provider's wait is kept: keys of two providers never meet.
func waitKey(provider, key string) string { return provider + ":" + key }

// startDeploy builds the provider's request from the task, starts the deploy and either
// answers the token at once (a deploy finished within Start) or keeps the token under the
// Wait's key and schedules the action's timeout.
//
// The wait is recorded after Start returns, since only Start learns the key; the events that
// finish a deploy (an ECS deployment's tasks running and healthy, a stack's resources created)
// come long after that. One that came first would find no wait and be logged; the deadline
// would then fail the action as timed out, naming what it waited for.
func (h *Handler) startDeploy(ctx context.Context, token string, it statemachine.Item) (Output, error) {
	t := it.Task
	fail := func(format string, args ...any) (Output, error) {
		return Output{}, &ActionFailed{Msg: fmt.Sprintf("action %s/%s: ", t.Stage, t.Action) + fmt.Sprintf(format, args...)}
	}
	p, ok := h.deploys.Providers[t.Provider]
	if !ok || h.deploys.Waits == nil || h.deploys.Tasks == nil || h.deploys.Artifact == nil {
		return fail("provider %s is not available on AWS in this deployment", t.Provider)
	}
	lc, ok := lambdacontext.FromContext(ctx)
	if !ok || lc.InvokedFunctionArn == "" {
		return fail("no Lambda context names this function, which the deadline's schedule must invoke")
	}
	req := deploy.Request{Run: t.Run, Stage: t.Stage, Action: t.Action, Config: t.Config,
		Inputs: map[string]deploy.Artifact{}, Previous: t.Rollback}
	for _, in := range t.Inputs {
		loc, err := s3Location(in.Location)
		if err != nil {
			return fail("input artifact %s: %v", in.Name, err)
		}
		req.Inputs[in.Name] = h.deploys.Artifact(loc)
	}
	task := approval.TaskKey(t.Stage, t.Action, t.Attempt)
	log := h.log.With("run", t.Run, "task", task, "provider", t.Provider, "rollback", t.Rollback)
	w, err := p.Start(ctx, req)
	if err != nil {
		return fail("%v", err)
	}
	if w.Done {
		log.InfoContext(ctx, "deploy: finished within its start", "succeeded", w.Outcome.Succeeded, "message", w.Outcome.Message)
		if err := h.answer(ctx, token, w.Outcome); err != nil && !approval.TaskClosed(err) {
			return Output{}, fmt.Errorf("action %s/%s: answer the finished deploy: %w", t.Stage, t.Action, err)
		}
		return Output{Finished: true}, nil
	}
	deadline := deadlineAfter(h.now(), timeoutOf(it))
	raw, _ := json.Marshal(w)
	key := waitKey(t.Provider, w.Key)
	// The token is kept under the task as an approval's is (the deadline finds it there) and
	// under the key (the event finds it there).
	if err := h.tokens.PutToken(ctx, t.Run, task, token, deadline.Add(TokenGrace)); err != nil {
		return fail("keep the task token: %v", err)
	}
	if err := h.deploys.Waits.PutWaiting(ctx, key, dynamo.Waiting{Run: t.Run, Task: task, Token: token, Wait: string(raw), Expires: deadline.Add(TokenGrace)}); err != nil {
		return fail("keep the task token under %s: %v", key, err)
	}
	if _, err := h.schedule(ctx, DeployScheduleName(t.Run, task), lc.InvokedFunctionArn,
		Expire{Run: t.Run, Task: task, Key: key, What: w.What}, deadline); err != nil {
		return fail("set its deadline: %v", err)
	}
	log.InfoContext(ctx, "deploy: started", "key", key, "what", w.What, "expires", deadline)
	return Output{Waiting: task, Expires: &deadline, Key: key}, nil
}

// s3Location reads an artifact location written as s3://bucket/key.
func s3Location(loc string) (deploy.Location, error) {
	rest, ok := strings.CutPrefix(loc, "s3://")
	bucket, key, _ := strings.Cut(rest, "/")
	if !ok || bucket == "" || key == "" {
		return deploy.Location{}, fmt.Errorf("location %q is not s3://bucket/key", loc)
	}
	return deploy.Location{Bucket: bucket, Key: key}, nil
}

// DeployScheduleName names a deploy's deadline, as ScheduleName does an approval's.
func DeployScheduleName(run, task string) string {
	return "deploy-" + strings.TrimPrefix(ScheduleName(run, task), "approval-")
}

// Result is what a succeeded deploy answers its task token with: pkg/advance reads
// variables as the action's exported variables (a stack's outputs).
type Result struct {
	Message   string            `json:"message,omitempty"`
	Variables map[string]string `json:"variables,omitempty"`
}

// answer sends the outcome through the token: success with the outputs as variables, or
// ActionFailed with the service's message.
func (h *Handler) answer(ctx context.Context, token string, out deploy.Outcome) error {
	if out.Succeeded {
		raw, _ := json.Marshal(Result{Message: out.Message, Variables: out.Outputs})
		_, err := h.deploys.Tasks.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(token), Output: aws.String(string(raw))})
		return err
	}
	msg := out.Message
	if out.RolledBack && !strings.Contains(msg, "roll") {
		msg += " (rolled back by the service)"
	}
	_, err := h.deploys.Tasks.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{TaskToken: aws.String(token),
		Error: aws.String(statemachine.ErrActionFailed), Cause: aws.String(truncate(msg, 32768))})
	return err
}

// finished handles a deploy event: the provider whose Match reads it names the wait it
// finishes; the kept token is answered and forgotten. A late, duplicate or unknown event
// finds no wait and does nothing; a token Step Functions no longer knows (the task timed out
// or was answered) is forgotten. Errors that a retry may fix (the table, a describe call,
// Step Functions) are returned, for Lambda's asynchronous retries.
func (h *Handler) finished(ctx context.Context, e Event) (Output, error) {
	log := h.log.With("event", e.ID, "source", e.Source, "detail_type", e.DetailType)
	if h.deploys.Waits == nil {
		log.WarnContext(ctx, "deploy event: this deployment serves no deploy providers")
		return Output{}, nil
	}
	name, key, out, ok := h.match(e)
	if !ok {
		log.InfoContext(ctx, "deploy event: finishes no deploy")
		return Output{}, nil
	}
	wk := waitKey(name, key)
	log = log.With("key", wk)
	kept, err := h.deploys.Waits.Waiting(ctx, wk)
	if errors.Is(err, store.ErrNotFound) {
		log.InfoContext(ctx, "deploy event: no deploy waits for it (late, duplicate or not ours)")
		return Output{}, nil
	}
	if err != nil {
		return Output{}, fmt.Errorf("deploy event %s: read the wait: %w", wk, err)
	}
	var w deploy.Wait
	_ = json.Unmarshal([]byte(kept.Wait), &w)
	out, err = h.complete(ctx, name, w, out)
	if err != nil {
		return Output{}, fmt.Errorf("deploy event %s: %w", wk, err)
	}
	log = log.With("run", kept.Run, "task", kept.Task)
	err = h.answer(ctx, kept.Token, out)
	closed := approval.TaskClosed(err)
	if err != nil && !closed {
		return Output{}, fmt.Errorf("deploy event %s: answer the task: %w", wk, err)
	}
	if err := h.deploys.Waits.DeleteWaiting(ctx, wk); err != nil {
		return Output{}, fmt.Errorf("deploy event %s: forget the wait: %w", wk, err)
	}
	if err := h.tokens.DeleteToken(ctx, kept.Run, kept.Task); err != nil {
		log.WarnContext(ctx, "deploy event: the task's token could not be removed; its deadline finds the task closed", "error", err)
	}
	if closed {
		log.InfoContext(ctx, "deploy event: its task was already closed", "error", err)
		return Output{}, nil
	}
	log.InfoContext(ctx, "deploy: finished", "succeeded", out.Succeeded, "rolled_back", out.RolledBack, "message", out.Message)
	return Output{Finished: true}, nil
}

// match asks each provider whether the event finishes one of its deploys.
func (h *Handler) match(e Event) (provider, key string, out deploy.Outcome, ok bool) {
	for name, p := range h.deploys.Providers {
		m, isMatcher := p.(deploy.EventMatcher)
		if !isMatcher {
			continue
		}
		if key, out, ok := m.Match(e.DetailType, e.Detail); ok {
			return name, key, out, true
		}
	}
	return "", "", deploy.Outcome{}, false
}

// complete adds what the event does not say: a stack's outputs after its success, and
// whether CodeDeploy rolled back a failed deployment (its event does not tell; GetDeployment
// does).
func (h *Handler) complete(ctx context.Context, provider string, w deploy.Wait, out deploy.Outcome) (deploy.Outcome, error) {
	p := h.deploys.Providers[provider]
	if or, ok := p.(outputReader); ok && out.Succeeded {
		outputs, err := or.Outputs(ctx, w.Resource)
		if err != nil {
			return out, fmt.Errorf("read the outputs of %s: %w", w.Resource, err)
		}
		out.Outputs = outputs
		return out, nil
	}
	if provider == "codedeploy" && !out.Succeeded {
		polled, err := p.Poll(ctx, w)
		if err != nil {
			h.log.WarnContext(ctx, "deploy event: the failed deployment could not be described; reported as the event says", "error", err)
			return out, nil
		}
		if polled.Done {
			return polled, nil
		}
	}
	return out, nil
}

// expireDeploy is the deadline of a deploy still waiting: the task fails as timed out,
// naming what it waited for, and the wait is forgotten.
func (h *Handler) expireDeploy(ctx context.Context, log *slog.Logger, e Expire, token string) (Output, error) {
	cause := "the deploy did not finish by its deadline: waited for " + e.What
	_, err := h.sfn.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{TaskToken: aws.String(token),
		Error: aws.String(statemachine.ErrActionTimedOut), Cause: aws.String(truncate(cause, 32768))})
	closed := approval.TaskClosed(err)
	if err != nil && !closed {
		return Output{}, fmt.Errorf("expire %s %s: fail the task: %w", e.Run, e.Task, err)
	}
	if err := h.deploys.Waits.DeleteWaiting(ctx, e.Key); err != nil {
		return Output{}, fmt.Errorf("expire %s %s: forget the wait: %w", e.Run, e.Task, err)
	}
	if err := h.tokens.DeleteToken(ctx, e.Run, e.Task); err != nil {
		return Output{}, fmt.Errorf("expire %s %s: forget the token: %w", e.Run, e.Task, err)
	}
	if closed {
		log.InfoContext(ctx, "deploy: its task was already closed", "error", err)
		return Output{}, nil
	}
	log.InfoContext(ctx, "deploy: timed out", "what", e.What)
	return Output{Expired: true}, nil
}
