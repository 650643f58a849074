// Package cloudformation is the cloudformation deploy provider: a change set made from a
// template in an input artifact (a `sam package`d template works), executed, and finished by
// the "CloudFormation Stack Status Change" event of the stack; or, with action: delete, the
// stack's deletion. The stack's outputs become the action's output variables, as CodePipeline's
// CloudFormation action exports them.
package cloudformation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/smithy-go"

	"github.com/stepline/stepline/pkg/deploy"
)

// Name is the provider's name in pipeline files and in Wait.Provider.
const Name = "cloudformation"

// Event names of the finishing event on the default bus.
// https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/event-detail-stack-status-change.html
const (
	EventSource     = "aws.cloudformation"
	EventDetailType = "CloudFormation Stack Status Change"
)

// MaxTemplateBody is the largest template CreateChangeSet takes inline (TemplateBody); a
// larger one must be in S3 and named by TemplateURL.
// https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateChangeSet.html
const MaxTemplateBody = 51_200

// Defaults of the change set's creation wait (WithChangeSetWait).
const (
	DefaultChangeSetTimeout  = 3 * time.Minute
	DefaultChangeSetInterval = 2 * time.Second
)

// API is the part of the CloudFormation client the provider uses, with the SDK's signatures;
// *cloudformation.Client is one. Every call names a stack
// (arn:aws:cloudformation:<region>:<account>:stack/<name>/*); a SAM template's CreateChangeSet
// also needs arn:aws:cloudformation:<region>:aws:transform/Serverless-2016-10-31, and a `role`
// needs iam:PassRole on it.
// https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-iam-template.html
type API interface {
	stackReader
	changeSets
	DeleteStack(ctx context.Context, in *cloudformation.DeleteStackInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DeleteStackOutput, error)
}

// stackReader is what Poll and Outputs read.
type stackReader interface {
	DescribeStacks(ctx context.Context, in *cloudformation.DescribeStacksInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
	DescribeStackEvents(ctx context.Context, in *cloudformation.DescribeStackEventsInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DescribeStackEventsOutput, error)
}

// changeSets is what a deploy does with change sets.
type changeSets interface {
	CreateChangeSet(ctx context.Context, in *cloudformation.CreateChangeSetInput, optFns ...func(*cloudformation.Options)) (*cloudformation.CreateChangeSetOutput, error)
	DescribeChangeSet(ctx context.Context, in *cloudformation.DescribeChangeSetInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DescribeChangeSetOutput, error)
	ExecuteChangeSet(ctx context.Context, in *cloudformation.ExecuteChangeSetInput, optFns ...func(*cloudformation.Options)) (*cloudformation.ExecuteChangeSetOutput, error)
	DeleteChangeSet(ctx context.Context, in *cloudformation.DeleteChangeSetInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DeleteChangeSetOutput, error)
}

var _ API = (*cloudformation.Client)(nil)

// TemplateUploader puts a template too large for TemplateBody where CloudFormation can read
// it, and returns its TemplateURL. S3Templates is one.
type TemplateUploader interface {
	UploadTemplate(ctx context.Context, name string, body []byte) (url string, err error)
}

// Provider deploys CloudFormation stacks through change sets.
type Provider struct {
	api      API
	uploader TemplateUploader
	timeout  time.Duration
	interval time.Duration
	now      func() time.Time
	sleep    func(context.Context, time.Duration) error
}

var (
	_ deploy.Provider     = (*Provider)(nil)
	_ deploy.EventMatcher = (*Provider)(nil)
)

// Option configures a Provider.
type Option func(*Provider)

// WithUploader lets templates over MaxTemplateBody bytes deploy: they are uploaded through u
// and passed as TemplateURL. Without one such a template fails with a message saying so.
func WithUploader(u TemplateUploader) Option { return func(p *Provider) { p.uploader = u } }

// WithChangeSetWait sets how long Start waits for a change set to be created and how often it
// asks (defaults DefaultChangeSetTimeout and DefaultChangeSetInterval).
func WithChangeSetWait(timeout, interval time.Duration) Option {
	return func(p *Provider) { p.timeout, p.interval = timeout, interval }
}

// WithClock sets the clock Wait.Started reads and the sleep between DescribeChangeSet calls.
func WithClock(now func() time.Time, sleep func(context.Context, time.Duration) error) Option {
	return func(p *Provider) { p.now, p.sleep = now, sleep }
}

// New returns a Provider calling api.
func New(api API, opts ...Option) *Provider {
	p := &Provider{api: api, timeout: DefaultChangeSetTimeout, interval: DefaultChangeSetInterval, now: time.Now, sleep: sleepCtx}
	for _, o := range opts {
		o(p)
	}
	return p
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ErrConfig marks an action whose configuration cannot deploy (a bad stack name, a missing
// template file, ...): retrying cannot help.
var ErrConfig = errors.New("invalid cloudformation action")

// stackNameRE is CloudFormation's rule for a stack name: letters, digits and hyphens, starting
// with a letter, at most 128 characters.
// https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html
var stackNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,127}$`)

// roleARNRE is an IAM role's ARN in any partition.
var roleARNRE = regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$`)

// config is an action's configuration, read from Request.Config.
type config struct {
	stack        string
	delete       bool
	artifact     string
	file         string
	capabilities []cftypes.Capability
	parameters   []cftypes.Parameter
	role         string
}

func readConfig(c map[string]any) (config, error) {
	var cfg config
	var errs []string
	str := func(key string) string {
		v, _ := c[key].(string)
		return v
	}
	cfg.stack = str("stack")
	if !stackNameRE.MatchString(cfg.stack) {
		errs = append(errs, fmt.Sprintf("stack name %q is not a CloudFormation stack name: use letters, digits and hyphens, start with a letter, at most 128 characters", cfg.stack))
	}
	switch a := str("action"); a {
	case "", "deploy":
	case "delete":
		cfg.delete = true
	default:
		errs = append(errs, fmt.Sprintf("action %q is not deploy or delete", a))
	}
	if t := str("template"); t != "" {
		art, file, ok := strings.Cut(t, "::")
		if !ok || art == "" || file == "" {
			errs = append(errs, fmt.Sprintf("template %q is not \"artifact::path\"", t))
		}
		cfg.artifact, cfg.file = art, file
	} else if !cfg.delete {
		errs = append(errs, "template is required to deploy")
	}
	if list, ok := c["capabilities"].([]any); ok {
		for _, v := range list {
			s, _ := v.(string)
			if !slices.Contains(cftypes.Capability("").Values(), cftypes.Capability(s)) {
				errs = append(errs, fmt.Sprintf("capability %v is not one of %v", v, cftypes.Capability("").Values()))
				continue
			}
			cfg.capabilities = append(cfg.capabilities, cftypes.Capability(s))
		}
	}
	if m, ok := c["parameters"].(map[string]any); ok {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			s, ok := m[k].(string)
			if !ok {
				errs = append(errs, fmt.Sprintf("parameter %s: expected a string, found %T", k, m[k]))
				continue
			}
			cfg.parameters = append(cfg.parameters, cftypes.Parameter{ParameterKey: aws.String(k), ParameterValue: aws.String(s)})
		}
	}
	cfg.role = str("role")
	if cfg.role != "" && !roleARNRE.MatchString(cfg.role) {
		errs = append(errs, fmt.Sprintf("role %q is not an IAM role ARN (arn:aws:iam::123456789012:role/name)", cfg.role))
	}
	if len(errs) > 0 {
		return config{}, fmt.Errorf("%w: %s", ErrConfig, strings.Join(errs, "; "))
	}
	return cfg, nil
}

// Start deploys (a change set, created, then executed) or deletes the stack the request names.
// An empty change set, and the deletion of a stack that does not exist, finish within Start.
func (p *Provider) Start(ctx context.Context, req deploy.Request) (deploy.Wait, error) {
	cfg, err := readConfig(req.Config)
	if err != nil {
		return deploy.Wait{}, err
	}
	stack, err := p.describe(ctx, cfg.stack)
	if err != nil && !errors.Is(err, errNoStack) {
		return deploy.Wait{}, err
	}
	if cfg.delete {
		return p.startDelete(ctx, req, cfg, stack)
	}
	return p.startDeploy(ctx, req, cfg, stack)
}

func (p *Provider) startDelete(ctx context.Context, req deploy.Request, cfg config, stack *cftypes.Stack) (deploy.Wait, error) {
	if stack == nil {
		return p.done(cfg.stack, "", deploy.Outcome{Done: true, Succeeded: true, Message: fmt.Sprintf("stack %s does not exist: nothing to delete", cfg.stack)}), nil
	}
	id := aws.ToString(stack.StackId)
	tok := token(req, p.now())
	in := &cloudformation.DeleteStackInput{StackName: aws.String(id), ClientRequestToken: aws.String(tok)}
	if cfg.role != "" {
		in.RoleARN = aws.String(cfg.role)
	}
	if _, err := p.api.DeleteStack(ctx, in); err != nil {
		return deploy.Wait{}, fmt.Errorf("delete stack %s: %w", cfg.stack, err)
	}
	return p.wait(id, tok, fmt.Sprintf("CloudFormation stack %s (%s) to be deleted", cfg.stack, id)), nil
}

func (p *Provider) startDeploy(ctx context.Context, req deploy.Request, cfg config, stack *cftypes.Stack) (deploy.Wait, error) {
	art, ok := req.Inputs[cfg.artifact]
	if !ok {
		return deploy.Wait{}, fmt.Errorf("%w: template %s::%s: no input artifact %q", ErrConfig, cfg.artifact, cfg.file, cfg.artifact)
	}
	body, err := art.ReadFile(ctx, cfg.file)
	if err != nil {
		return deploy.Wait{}, fmt.Errorf("read template %s::%s: %w", cfg.artifact, cfg.file, err)
	}
	kind := cftypes.ChangeSetTypeUpdate
	if stack == nil || stack.StackStatus == cftypes.StackStatusReviewInProgress {
		// A stack whose first change set was never executed is only a name holder in
		// REVIEW_IN_PROGRESS: it is created again, not updated.
		kind = cftypes.ChangeSetTypeCreate
	} else if stack.StackStatus == cftypes.StackStatusRollbackComplete {
		return deploy.Wait{}, fmt.Errorf("%w: stack %s is in ROLLBACK_COMPLETE (its creation failed) and cannot be updated: delete it (action: delete) and deploy again", ErrConfig, cfg.stack)
	}
	now := p.now()
	in := &cloudformation.CreateChangeSetInput{
		StackName:     aws.String(cfg.stack),
		ChangeSetName: aws.String(changeSetName(req, now)),
		ChangeSetType: kind,
		Capabilities:  cfg.capabilities,
		Parameters:    cfg.parameters,
		Description:   aws.String(clip(fmt.Sprintf("stepline run %s, %s/%s", req.Run, req.Stage, req.Action), 1024)),
	}
	if cfg.role != "" {
		in.RoleARN = aws.String(cfg.role)
	}
	if len(body) <= MaxTemplateBody {
		in.TemplateBody = aws.String(string(body))
	} else {
		if p.uploader == nil {
			return deploy.Wait{}, fmt.Errorf("%w: template %s::%s is %d bytes, more than the %d CloudFormation takes inline, and no bucket is set up to upload it to", ErrConfig, cfg.artifact, cfg.file, len(body), MaxTemplateBody)
		}
		url, err := p.uploader.UploadTemplate(ctx, aws.ToString(in.ChangeSetName)+".template", body)
		if err != nil {
			return deploy.Wait{}, fmt.Errorf("upload template %s::%s: %w", cfg.artifact, cfg.file, err)
		}
		in.TemplateURL = aws.String(url)
	}
	created, err := p.api.CreateChangeSet(ctx, in)
	if err != nil {
		if noChanges(err.Error()) {
			// Some endpoints refuse an empty change set at once instead of failing it later.
			return p.done(cfg.stack, aws.ToString(stackIDOf(stack)), deploy.Outcome{Done: true, Succeeded: true, Message: "no changes: stack " + cfg.stack + " is up to date"}), nil
		}
		return deploy.Wait{}, fmt.Errorf("create change set for stack %s: %w", cfg.stack, err)
	}
	csID, stackID := aws.ToString(created.Id), aws.ToString(created.StackId)
	cs, err := p.awaitChangeSet(ctx, csID, stackID)
	if err != nil {
		return deploy.Wait{}, fmt.Errorf("stack %s: %w", cfg.stack, err)
	}
	if cs.Status == cftypes.ChangeSetStatusFailed {
		reason := aws.ToString(cs.StatusReason)
		if noChanges(reason) {
			if _, err := p.api.DeleteChangeSet(ctx, &cloudformation.DeleteChangeSetInput{ChangeSetName: aws.String(csID), StackName: aws.String(stackID)}); err != nil {
				return deploy.Wait{}, fmt.Errorf("delete the empty change set of stack %s: %w", cfg.stack, err)
			}
			return p.done(cfg.stack, stackID, deploy.Outcome{Done: true, Succeeded: true, Message: "no changes: stack " + cfg.stack + " is up to date"}), nil
		}
		// The failed change set stays, so the console shows why.
		return p.done(cfg.stack, stackID, deploy.Outcome{Done: true, Message: fmt.Sprintf("change set for stack %s failed: %s", cfg.stack, reason)}), nil
	}
	tok := token(req, now)
	if _, err := p.api.ExecuteChangeSet(ctx, &cloudformation.ExecuteChangeSetInput{ChangeSetName: aws.String(csID), StackName: aws.String(stackID), ClientRequestToken: aws.String(tok)}); err != nil {
		return deploy.Wait{}, fmt.Errorf("execute change set of stack %s: %w", cfg.stack, err)
	}
	return p.wait(stackID, tok, fmt.Sprintf("CloudFormation stack %s (%s) to finish its %s", cfg.stack, stackID, strings.ToLower(string(kind)))), nil
}

// awaitChangeSet asks until the change set is created or has failed. Creating a change set
// takes seconds and sends no EventBridge event, so this short wait polls inside Start, bounded
// by the provider's timeout (well under a Lambda function's 15 minutes); the long part, the
// execution, is what the event finishes. The stack is named beside the change set's ARN,
// which CloudFormation does not need but IAM authorizes the call on.
func (p *Provider) awaitChangeSet(ctx context.Context, id, stackID string) (*cloudformation.DescribeChangeSetOutput, error) {
	deadline := p.now().Add(p.timeout)
	for {
		out, err := p.api.DescribeChangeSet(ctx, &cloudformation.DescribeChangeSetInput{ChangeSetName: aws.String(id), StackName: aws.String(stackID)})
		if err != nil {
			return nil, fmt.Errorf("describe change set %s: %w", id, err)
		}
		switch out.Status {
		case cftypes.ChangeSetStatusCreateComplete, cftypes.ChangeSetStatusFailed:
			return out, nil
		}
		if !p.now().Before(deadline) {
			return nil, fmt.Errorf("change set %s is still %s after %s", id, out.Status, p.timeout)
		}
		if err := p.sleep(ctx, p.interval); err != nil {
			return nil, err
		}
	}
}

// noChanges tells an empty change set by CloudFormation's reason: the words are all the API
// gives (StatusReason), in either of its two phrasings.
func noChanges(reason string) bool {
	return strings.Contains(reason, "didn't contain changes") || strings.Contains(reason, "No updates are to be performed")
}

// wait is what an executed change set or a deletion waits for: keyed by the stack id and the
// ClientRequestToken CloudFormation copies into the stack's events, so a delayed duplicate of
// an earlier deploy's final event (same stack, another token) finishes nothing.
func (p *Provider) wait(stackID, tok, what string) deploy.Wait {
	return deploy.Wait{Provider: Name, Key: eventKey(stackID, tok), Resource: stackID, What: what, Started: p.now()}
}

// eventKey is the key of a stack's events: its id and the request token, when there is one.
func eventKey(stackID, tok string) string {
	if tok == "" {
		return stackID
	}
	return stackID + "#" + tok
}

func (p *Provider) done(stack, stackID string, out deploy.Outcome) deploy.Wait {
	return deploy.Wait{Provider: Name, Key: stackID, Resource: stackID, What: "CloudFormation stack " + stack, Done: true, Outcome: out, Started: p.now()}
}

func stackIDOf(s *cftypes.Stack) *string {
	if s == nil {
		return nil
	}
	return s.StackId
}

// changeSetName is unique per start (a retried Start makes a new one) and CloudFormation's
// shape: a letter first, then letters, digits and hyphens, at most 128 characters.
func changeSetName(req deploy.Request, now time.Time) string {
	return "stepline-" + token(req, now)
}

// token identifies one start of the action: ExecuteChangeSet's and DeleteStack's
// ClientRequestToken, which CloudFormation copies into the stack's events.
func token(req deploy.Request, now time.Time) string {
	sum := sha256.Sum256([]byte(req.Run + "\x00" + req.Stage + "\x00" + req.Action + "\x00" + now.UTC().Format(time.RFC3339Nano)))
	return hex.EncodeToString(sum[:12])
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// errNoStack is DescribeStacks' answer for a stack name CloudFormation does not know.
var errNoStack = errors.New("no such stack")

// describe returns the stack called name (or with that id), errNoStack if there is none.
func (p *Provider) describe(ctx context.Context, name string) (*cftypes.Stack, error) {
	out, err := p.api.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
	if err != nil {
		// CloudFormation answers an unknown stack with a ValidationError, like any bad
		// input; only the message tells them apart.
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "ValidationError" && strings.Contains(ae.ErrorMessage(), "does not exist") {
			return nil, fmt.Errorf("describe stack %s: %w", name, errNoStack)
		}
		return nil, fmt.Errorf("describe stack %s: %w", name, err)
	}
	if len(out.Stacks) == 0 {
		return nil, fmt.Errorf("describe stack %s: %w", name, errNoStack)
	}
	return &out.Stacks[0], nil
}

// Poll reads the stack's status (DescribeStacks by its id, which also finds a deleted stack);
// a failure's message names the first resource that failed since the deploy started
// (DescribeStackEvents), and a success carries the stack's outputs.
func (p *Provider) Poll(ctx context.Context, w deploy.Wait) (deploy.Outcome, error) {
	if w.Done {
		return w.Outcome, nil
	}
	st, err := p.describe(ctx, w.Resource)
	if err != nil {
		return deploy.Outcome{}, err
	}
	out := outcomeOf(st.StackStatus, aws.ToString(st.StackStatusReason))
	if !out.Done {
		return out, nil
	}
	if out.Succeeded {
		out.Outputs = outputsOf(st)
		return out, nil
	}
	if reason, err := p.firstFailure(ctx, w.Resource, w.Started); err != nil {
		return deploy.Outcome{}, err
	} else if reason != "" {
		out.Message = reason
	}
	return out, nil
}

// firstFailure returns the reason of the earliest failed resource event since the deploy
// started, from the first page of events (newest first; a deploy's failures are recent).
func (p *Provider) firstFailure(ctx context.Context, stackID string, since time.Time) (string, error) {
	out, err := p.api.DescribeStackEvents(ctx, &cloudformation.DescribeStackEventsInput{StackName: aws.String(stackID)})
	if err != nil {
		return "", fmt.Errorf("describe events of stack %s: %w", stackID, err)
	}
	reason := ""
	for _, e := range out.StackEvents {
		if e.Timestamp != nil && e.Timestamp.Before(since) {
			break
		}
		if strings.HasSuffix(string(e.ResourceStatus), "_FAILED") && aws.ToString(e.ResourceStatusReason) != "" {
			reason = fmt.Sprintf("%s (%s) %s: %s", aws.ToString(e.LogicalResourceId), aws.ToString(e.ResourceType), e.ResourceStatus, aws.ToString(e.ResourceStatusReason))
		}
	}
	return reason, nil
}

// Outputs returns the stack's outputs by key. Match is pure, so whoever answers the task token
// after a successful event calls this to fill Outcome.Outputs.
func (p *Provider) Outputs(ctx context.Context, stackID string) (map[string]string, error) {
	st, err := p.describe(ctx, stackID)
	if err != nil {
		return nil, err
	}
	return outputsOf(st), nil
}

func outputsOf(st *cftypes.Stack) map[string]string {
	if len(st.Outputs) == 0 {
		return nil
	}
	m := make(map[string]string, len(st.Outputs))
	for _, o := range st.Outputs {
		m[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	return m
}

// statusDetail is the detail of a "CloudFormation Stack Status Change" event.
// https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/event-detail-stack-status-change.html
type statusDetail struct {
	StackID            string `json:"stack-id"`
	ClientRequestToken string `json:"client-request-token"`
	StatusDetails      struct {
		Status       string `json:"status"`
		StatusReason string `json:"status-reason"`
	} `json:"status-details"`
}

// Match reads a "CloudFormation Stack Status Change" event: its key is the stack id and the
// event's client-request-token (the one Start's ExecuteChangeSet or DeleteStack sent); only a
// final status finishes the wait.
func (p *Provider) Match(detailType string, detail json.RawMessage) (string, deploy.Outcome, bool) {
	if detailType != EventDetailType {
		return "", deploy.Outcome{}, false
	}
	var d statusDetail
	if err := json.Unmarshal(detail, &d); err != nil || d.StackID == "" {
		return "", deploy.Outcome{}, false
	}
	out := outcomeOf(cftypes.StackStatus(d.StatusDetails.Status), d.StatusDetails.StatusReason)
	if !out.Done {
		return "", deploy.Outcome{}, false
	}
	return eventKey(d.StackID, d.ClientRequestToken), out, true
}

// outcomeOf classifies a stack status: *_IN_PROGRESS (cleanup included) and unknown statuses
// are not final; CREATE, UPDATE, IMPORT and DELETE _COMPLETE succeed; UPDATE_ROLLBACK_COMPLETE
// fails as rolled back (the stack is back on its previous template); every other final status
// fails. UPDATE_ROLLBACK_FAILED is not reported as rolled back: the rollback did not finish and
// the stack needs a hand (ContinueUpdateRollback).
// https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/view-stack-events.html#cfn-console-view-stack-data-resources-status-codes
func outcomeOf(status cftypes.StackStatus, reason string) deploy.Outcome {
	msg := string(status)
	if reason != "" {
		msg += ": " + reason
	}
	switch status {
	case cftypes.StackStatusCreateComplete, cftypes.StackStatusUpdateComplete, cftypes.StackStatusImportComplete, cftypes.StackStatusDeleteComplete:
		return deploy.Outcome{Done: true, Succeeded: true, Message: msg}
	case cftypes.StackStatusUpdateRollbackComplete:
		return deploy.Outcome{Done: true, RolledBack: true, Message: msg}
	case cftypes.StackStatusCreateFailed, cftypes.StackStatusRollbackComplete, cftypes.StackStatusRollbackFailed,
		cftypes.StackStatusDeleteFailed, cftypes.StackStatusUpdateFailed, cftypes.StackStatusUpdateRollbackFailed,
		cftypes.StackStatusImportRollbackComplete, cftypes.StackStatusImportRollbackFailed:
		return deploy.Outcome{Done: true, Message: msg}
	}
	return deploy.Outcome{Message: msg}
}
