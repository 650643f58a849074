package runops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/stepline/stepline/pkg/advance"
	"github.com/stepline/stepline/pkg/approval"
	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/pipeline"
	"github.com/stepline/stepline/pkg/scm"
	"github.com/stepline/stepline/pkg/statemachine"
	"github.com/stepline/stepline/pkg/store"
	"github.com/stepline/stepline/pkg/store/dynamo"
	"github.com/stepline/stepline/pkg/triggerstep"
)

// AWSStore is what AWS needs of the stack's table (store/dynamo): runs, and the task tokens
// and requests kept next to them.
type AWSStore interface {
	GetRun(ctx context.Context, id string) (store.Record, error)
	ListRuns(ctx context.Context, f store.Filter) ([]store.Record, error)
	Latest(ctx context.Context) ([]store.Record, error)
	PutRun(ctx context.Context, r store.Record) error
	PutToken(ctx context.Context, run, task, token string, expires time.Time) error
	Token(ctx context.Context, run, task string) (string, error)
	DeleteToken(ctx context.Context, run, task string) error
	// SeqFor and LastSucceeded number a started run and find its rollback target, as the
	// trigger does (triggerstep.Runs).
	SeqFor(ctx context.Context, scope store.Scope, key string) (int64, error)
	LastSucceeded(ctx context.Context, scope store.Scope) (store.Record, error)
}

var (
	_ AWSStore = (*dynamo.Store)(nil)
	_ AWSStore = (*store.Memory)(nil)
)

// Executions is the part of Step Functions AWS calls, with the SDK's signatures.
type Executions interface {
	StartExecution(ctx context.Context, in *sfn.StartExecutionInput, optFns ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
	StopExecution(ctx context.Context, in *sfn.StopExecutionInput, optFns ...func(*sfn.Options)) (*sfn.StopExecutionOutput, error)
	DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, optFns ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
	SendTaskSuccess(ctx context.Context, in *sfn.SendTaskSuccessInput, optFns ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error)
	SendTaskFailure(ctx context.Context, in *sfn.SendTaskFailureInput, optFns ...func(*sfn.Options)) (*sfn.SendTaskFailureOutput, error)
}

// Caller names the AWS identity operations are recorded as.
type Caller interface {
	GetCallerIdentity(ctx context.Context, in *sts.GetCallerIdentityInput, optFns ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
}

// StackReader reads a stack's outputs.
type StackReader interface {
	DescribeStacks(ctx context.Context, in *cloudformation.DescribeStacksInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
}

var (
	_ Executions  = (*sfn.Client)(nil)
	_ Caller      = (*sts.Client)(nil)
	_ StackReader = (*cloudformation.Client)(nil)
)

// Stack is what AWS needs to know of a deployed stepline: its stack's outputs.
type Stack struct {
	// Table is the TableName output; StateMachine the StateMachineArn output.
	Table, StateMachine string
}

// ReadStack reads the TableName and StateMachineArn outputs of the stack name
// (DescribeStacks: https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStacks.html).
func ReadStack(ctx context.Context, cf StackReader, name string) (Stack, error) {
	out, err := cf.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
	if err != nil {
		return Stack{}, fmt.Errorf("read stack %s: %w", name, err)
	}
	if len(out.Stacks) == 0 {
		return Stack{}, fmt.Errorf("read stack %s: no such stack", name)
	}
	var s Stack
	for _, o := range out.Stacks[0].Outputs {
		switch aws.ToString(o.OutputKey) {
		case "TableName":
			s.Table = aws.ToString(o.OutputValue)
		case "StateMachineArn":
			s.StateMachine = aws.ToString(o.OutputValue)
		}
	}
	if s.Table == "" || s.StateMachine == "" {
		return Stack{}, fmt.Errorf("stack %s has no TableName or StateMachineArn output: is it a stepline stack?", name)
	}
	return s, nil
}

// AWS is the Operator of a deployed stepline's runs, with the caller's own credentials: the
// runs are read from the stack's table; an approval answers the Wait state's task token as
// the approval page does; a stop that lets running actions finish is kept in the table for the
// next Advance (advance.StopKey), and one with nothing to finish or abandoning them is
// StopExecution (the ExecutionEndedRule then cancels the run, releasing its locks, as for any
// execution that ends outside the state machine's paths); a retry or a rollback starts an
// execution that resumes the run. Who did it is the caller's IAM identity (STS).
type AWS struct {
	db           AWSStore
	sfn          Executions
	ids          Caller
	stateMachine string
	now          func() time.Time

	// provider, repo, registry and revs are what Start needs (WithRepository).
	provider, repo string
	registry       Registry
	revs           Revisions

	mu  sync.Mutex
	who string
}

var _ Operator = (*AWS)(nil)

// NewAWS returns the Operator of the runs in db, driven by the state machine stateMachine.
func NewAWS(db AWSStore, executions Executions, ids Caller, stateMachine string) *AWS {
	return &AWS{db: db, sfn: executions, ids: ids, stateMachine: stateMachine, now: time.Now}
}

// identity is the caller's IAM identity (its ARN), read once
// (https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html).
func (a *AWS) identity(ctx context.Context) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.who != "" {
		return a.who, nil
	}
	out, err := a.ids.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", fmt.Errorf("who is asking (sts:GetCallerIdentity): %w", err)
	}
	a.who = aws.ToString(out.Arn)
	return a.who, nil
}

// Runs implements Operator.
func (a *AWS) Runs(ctx context.Context, f Filter) (Page, error) {
	return runs(ctx, a.db, f)
}

// Latest implements Operator.
func (a *AWS) Latest(ctx context.Context) ([]store.Record, error) { return a.db.Latest(ctx) }

// Run implements Operator.
func (a *AWS) Run(ctx context.Context, id string) (store.Record, error) { return a.db.GetRun(ctx, id) }

// Approve implements Operator: SendTaskSuccess with the approval page's output and who.
func (a *AWS) Approve(ctx context.Context, run, stage, action, comment string) error {
	return a.decide(ctx, OpApprove, run, stage, action, comment)
}

// Reject implements Operator: SendTaskFailure ActionRejected, the cause saying who and why.
func (a *AWS) Reject(ctx context.Context, run, stage, action, comment string) error {
	return a.decide(ctx, OpReject, run, stage, action, comment)
}

func (a *AWS) decide(ctx context.Context, op, run, stage, action, comment string) error {
	rec, err := a.db.GetRun(ctx, run)
	if err != nil {
		return err
	}
	if err := engine.CheckDecision(rec.Definition, rec.State, stage, action); err != nil {
		return refusal(op, run, err)
	}
	i, j, _ := indexOf(rec.Definition, stage, action)
	task := approval.TaskKey(stage, action, rec.State.Stages[i].Actions[j].Attempt)
	token, err := a.db.Token(ctx, run, task)
	if errors.Is(err, store.ErrNotFound) {
		return refuse(op, run, "%s/%s has no task token kept: the wait function has not stored it yet, or it was decided or expired meanwhile", stage, action)
	}
	if err != nil {
		return err
	}
	who, err := a.identity(ctx)
	if err != nil {
		return err
	}
	if op == OpApprove {
		out, _ := json.Marshal(approval.Output{Approved: true, Comment: comment, Time: a.now().UTC().Format(time.RFC3339), By: who})
		_, err = a.sfn.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(token), Output: aws.String(string(out))})
	} else {
		_, err = a.sfn.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{TaskToken: aws.String(token),
			Error: aws.String(statemachine.ErrActionRejected), Cause: aws.String(approval.Rejection{By: who, Comment: comment}.Cause())})
	}
	switch {
	case approval.TaskClosed(err):
		_ = a.db.DeleteToken(ctx, run, task)
		return refuse(op, run, "%s/%s was decided, expired or stopped meanwhile", stage, action)
	case err != nil:
		return fmt.Errorf("%s %s/%s of run %s: %w", op, stage, action, run, err)
	}
	// As the page does: the link answers "decided" from now on. Step Functions refuses a
	// second answer anyway.
	_ = a.db.DeleteToken(ctx, run, task)
	return nil
}

// Stop implements Operator.
func (a *AWS) Stop(ctx context.Context, run string, abandon bool, reason string) error {
	rec, err := a.db.GetRun(ctx, run)
	if err != nil {
		return err
	}
	if err := engine.CheckStop(rec.State, abandon); err != nil {
		return refusal(OpStop, run, err)
	}
	if rec.ExecutionARN == "" {
		return refuse(OpStop, run, "its record names no execution")
	}
	who, err := a.identity(ctx)
	if err != nil {
		return err
	}
	if !abandon && running(rec) {
		in, _ := json.Marshal(engine.Input{Kind: engine.KindStop, Who: who, Message: reason})
		// Kept as long as an action may run; the Advance after the wave takes it.
		return a.db.PutToken(ctx, run, advance.StopKey, string(in), a.now().Add(7*24*time.Hour))
	}
	verb := "stopped"
	if abandon {
		verb = "abandoned"
	}
	_, err = a.sfn.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: aws.String(rec.ExecutionARN),
		Error: aws.String(statemachine.ErrRunStopped), Cause: aws.String(verb + byWho(who) + colonText(reason))})
	var gone *sfntypes.ExecutionDoesNotExist
	if errors.As(err, &gone) {
		return refuse(OpStop, run, "its execution %s does not exist", rec.ExecutionARN)
	}
	return err
}

// running reports whether an action other than an approval runs in the run's current stage:
// something a stop that lets actions finish waits for.
func running(rec store.Record) bool {
	i := rec.State.Stage
	for j, as := range rec.State.Stages[i].Actions {
		if as.Status == engine.InProgress && rec.Definition.Stages[i].Actions[j].Provider != engine.ProviderApproval {
			return true
		}
	}
	return false
}

// Retry implements Operator: an execution resumes the run with the retry.
func (a *AWS) Retry(ctx context.Context, run, stage string, all bool) error {
	rec, err := a.db.GetRun(ctx, run)
	if err != nil {
		return err
	}
	if err := engine.CheckRetry(rec.Definition, rec.State, stage); err != nil {
		return refusal(OpRetry, run, err)
	}
	who, err := a.identity(ctx)
	if err != nil {
		return err
	}
	return a.resume(ctx, OpRetry, rec, engine.Input{Kind: engine.KindRetry, Stage: stage, All: all, Who: who})
}

// Rollback implements Operator: an execution resumes the run with the rollback.
func (a *AWS) Rollback(ctx context.Context, run, stage, to string) error {
	rec, err := a.db.GetRun(ctx, run)
	if err != nil {
		return err
	}
	target, err := a.db.GetRun(ctx, to)
	if err != nil {
		return fmt.Errorf("the run to roll back to: %w", err)
	}
	who, err := a.identity(ctx)
	if err != nil {
		return err
	}
	in, err := rollbackInput(rec, target, stage, who)
	if err != nil {
		return err
	}
	return a.resume(ctx, OpRollback, rec, in)
}

// resume starts the execution that reopens rec with in. Its name is derived from the run and
// the time it ended, so two people retrying the same failure at once start one execution:
// Step Functions refuses the second name (ExecutionAlreadyExists). The record names the new
// execution before it starts, so the old execution's end never cancels the resumed run, and
// a stop finds the execution that drives it.
func (a *AWS) resume(ctx context.Context, op string, rec store.Record, in engine.Input) error {
	name := triggerstep.ExecutionName(rec.ID()+"-resume-"+strconv.FormatInt(rec.State.Ended, 10), rec.Pipeline())
	arn, ok := triggerstep.ExecutionARN(a.stateMachine, name)
	if !ok {
		return fmt.Errorf("%q is not a state machine ARN", a.stateMachine)
	}
	rec.ExecutionARN = arn
	rec.Updated = a.now().UTC()
	if err := a.db.PutRun(ctx, rec); err != nil {
		return err
	}
	input, _ := json.Marshal(advance.Input{State: statemachine.State{Run: rec.ID()}, Resume: &in})
	_, err := a.sfn.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(a.stateMachine),
		Name: aws.String(name), Input: aws.String(string(input))})
	var exists *sfntypes.ExecutionAlreadyExists
	if errors.As(err, &exists) {
		return refuse(op, rec.ID(), "another retry or rollback of this run was started (execution %s)", name)
	}
	if err != nil {
		return fmt.Errorf("start execution %s: %w", name, err)
	}
	return nil
}

// Revisions resolves the revisions of the repository a run starts from and reads files at
// them: the command line reads the user's clone (pkg/local), which holds what was pushed.
type Revisions interface {
	// Resolve returns the full id of commit (empty: branch's head), and its message and author.
	Resolve(ctx context.Context, branch, commit string) (id, message, author string, err error)
	// File returns path at commit.
	File(ctx context.Context, commit, path string) ([]byte, error)
}

// Registry reads a repository's registration (stepline repo add and the trigger keep it).
type Registry interface {
	Registration(ctx context.Context, provider, repo string) (dynamo.Registration, error)
}

var _ Registry = (*dynamo.Store)(nil)

// WithRepository lets Start start runs of provider's repo ("github", "octo/api"), registered
// in the stack, reading its revisions with revs.
func (a *AWS) WithRepository(provider, repo string, registry Registry, revs Revisions) *AWS {
	a.provider, a.repo, a.registry, a.revs = provider, repo, registry, revs
	return a
}

// Start implements Operator: the pipeline file at the commit is read from Revisions, and the
// run is created and its execution started by the trigger's own code
// (triggerstep.StartManual), named after the commit and the time, with the repository's
// registered hook for the source step.
func (a *AWS) Start(ctx context.Context, name, branch, commit string) (string, error) {
	if a.repo == "" || a.revs == nil {
		return "", refuse(OpStart, "", "name the repository to start (provider:owner/name, as stepline repo add registered it)")
	}
	if branch == "" {
		return "", refuse(OpStart, "", "name the branch the run builds")
	}
	reg, err := a.registry.Registration(ctx, a.provider, a.repo)
	if errors.Is(err, store.ErrNotFound) {
		return "", refuse(OpStart, "", "%s:%s is not registered in this stack (stepline repo add, then push to its default branch)", a.provider, a.repo)
	}
	if err != nil {
		return "", err
	}
	id, message, author, err := a.revs.Resolve(ctx, branch, commit)
	if err != nil {
		return "", refuse(OpStart, "", "%v", err)
	}
	data, err := a.revs.File(ctx, id, triggerstep.PipelineFile)
	if err != nil {
		return "", refuse(OpStart, "", "%v", err)
	}
	f, err := pipeline.Parse(triggerstep.PipelineFile, data)
	if err != nil {
		return "", refuse(OpStart, "", "%s at %.12s: %v", triggerstep.PipelineFile, id, err)
	}
	p, err := f.Pipeline(name)
	if err != nil {
		return "", refuse(OpStart, "", "%v", err)
	}
	who, err := a.identity(ctx)
	if err != nil {
		return "", err
	}
	key := fmt.Sprintf("manual-%.12s-%s", id, strconv.FormatInt(a.now().UnixMilli(), 36))
	ev := scm.Event{Provider: a.provider, Kind: scm.KindPush, Delivery: key,
		Repository: scm.Repository{FullName: a.repo, DefaultBranch: reg.Branch},
		Ref:        "refs/heads/" + branch, Branch: branch, After: id,
		Commits: []scm.Commit{{ID: id, Message: message, Author: author}}, Sender: who}
	run, err := triggerstep.StartManual(ctx, a.db, a.sfn, a.stateMachine, p, triggerstep.Manual{Key: key, Event: ev, Hook: reg.Hook}, a.now)
	var bad *scm.RefError
	if errors.As(err, &bad) {
		return "", refuse(OpStart, "", "%v", err)
	}
	return run, err
}
