package runops_test

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/advance"
	"github.com/stepline/stepline/pkg/approval"
	"github.com/stepline/stepline/pkg/awstest"
	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/runops"
	"github.com/stepline/stepline/pkg/runops/runopstest"
	"github.com/stepline/stepline/pkg/store"
	"github.com/stepline/stepline/pkg/store/dynamo"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// calls collects the IAM actions of the SDK calls a client makes ("dynamodb:GetItem"), for
// the permissions docs/operations.md lists per command.
type calls struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (c *calls) config(cfg aws.Config) aws.Config {
	cfg.APIOptions = append(cfg.APIOptions, func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("calls", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			prefix := map[string]string{"DynamoDB": "dynamodb", "SFN": "states", "CloudFormation": "cloudformation", "STS": "sts"}[awsmiddleware.GetServiceID(ctx)]
			c.mu.Lock()
			c.seen[prefix+":"+awsmiddleware.GetOperationName(ctx)] = true
			c.mu.Unlock()
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
	})
	return cfg
}

// take returns the actions seen since the last take, sorted.
func (c *calls) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for k := range c.seen {
		out = append(out, k)
	}
	sort.Strings(out)
	c.seen = map[string]bool{}
	return out
}

// deployed is a stepline on moto and an AWS operator over it, with the clients a test checks
// it with.
type deployed struct {
	t     *testing.T
	stack runopstest.Stack
	op    *runops.AWS
	db    *dynamo.Store
	sfn   *sfn.Client
	calls *calls
}

func newDeployed(t *testing.T) *deployed {
	t.Helper()
	moto := awstest.StartMoto(t)
	d := &deployed{t: t, stack: runopstest.Deploy(t, moto), calls: &calls{seen: map[string]bool{}}}
	d.db = dynamo.New(dynamodb.NewFromConfig(moto.Config()), d.stack.Table)
	d.sfn = sfn.NewFromConfig(moto.Config())
	cfg := d.calls.config(moto.Config())
	s, err := runops.ReadStack(context.Background(), cloudformation.NewFromConfig(cfg), d.stack.Name)
	require.NoError(t, err)
	require.Equal(t, runops.Stack{Table: d.stack.Table, StateMachine: d.stack.StateMachine}, s)
	d.op = runops.NewAWS(dynamo.New(dynamodb.NewFromConfig(cfg), s.Table), sfn.NewFromConfig(cfg), sts.NewFromConfig(cfg), s.StateMachine)
	return d
}

// gated is the pipeline of these tests: a build, then an approval and a deploy build.
func gated() engine.Definition {
	return engine.Definition{Pipeline: "api", Mode: engine.ModeParallel, Stages: []engine.Stage{
		{Name: "Source", Actions: []engine.Action{{Name: "Source", Provider: engine.ProviderSource, Outputs: []string{"source"}}}},
		{Name: "Build", Actions: []engine.Action{{Name: "Package", Provider: "codebuild", Inputs: []string{"source"}, Outputs: []string{"bin"}}}},
		{Name: "Release", Actions: []engine.Action{{Name: "Approve", Provider: engine.ProviderApproval},
			{Name: "Ship", Provider: "codebuild", RunOrder: 2, Inputs: []string{"bin"}}}},
	}}
}

// run records a run of gated driven by inputs after each Advance (nil: none), as the
// trigger and advance functions would have, with its execution started on moto.
func (d *deployed) run(id string, seq int64, steps ...func(engine.Decision) []engine.Input) store.Record {
	d.t.Helper()
	ctx := context.Background()
	def := gated()
	st := engine.New(def, engine.RunInfo{ID: id, Seq: seq})
	var dec engine.Decision
	var err error
	st, dec, err = engine.Advance(def, st, nil, engine.Time(1_795_000_000_000))
	require.NoError(d.t, err)
	for _, step := range steps {
		st, dec, err = engine.Advance(def, st, step(dec), engine.Time(1_795_000_000_000+seq))
		require.NoError(d.t, err)
	}
	input, _ := json.Marshal(map[string]string{"run": id})
	ex, err := d.sfn.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(d.stack.StateMachine), Name: aws.String(id), Input: aws.String(string(input))})
	require.NoError(d.t, err)
	rec := store.Record{Definition: def, State: st, Repo: "octo/api", Provider: "github", Branch: "main", Trigger: "push",
		ExecutionARN: aws.ToString(ex.ExecutionArn)}
	require.NoError(d.t, d.db.PutRun(ctx, rec))
	d.calls.take()
	return rec
}

func succeed(dec engine.Decision) []engine.Input {
	var out []engine.Input
	for _, t := range dec.Start {
		outs := map[string]string{}
		for _, o := range t.Outputs {
			outs[o] = "s3://artifacts/runs/" + t.Run + "/" + o + ".zip"
		}
		out = append(out, t.Succeeded(outs, nil))
	}
	return out
}

func fail(dec engine.Decision) []engine.Input {
	var out []engine.Input
	for _, t := range dec.Start {
		out = append(out, t.Failed("build failed", false))
	}
	return out
}

func (d *deployed) status(arn string) string {
	d.t.Helper()
	out, err := d.sfn.DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	require.NoError(d.t, err)
	return string(out.Status)
}

func refusedWith(t *testing.T, err error, reason string) {
	t.Helper()
	var r *runops.Refused
	require.True(t, errors.As(err, &r), "want a refusal, got %v", err)
	assert.Contains(t, r.Reason, reason)
}

func TestAWSListsAndShowsTheStacksRuns(t *testing.T) {
	d := newDeployed(t)
	ctx := context.Background()
	for i := int64(1); i <= 3; i++ {
		d.run("api-"+string(rune('0'+i)), i, succeed, succeed)
	}
	p, err := d.op.Runs(ctx, runops.Filter{Pipeline: "api", Limit: 2})
	require.NoError(t, err)
	require.Len(t, p.Runs, 2)
	assert.Equal(t, "api-3", p.Runs[0].ID())
	assert.Equal(t, "api-2", p.Next)
	p, err = d.op.Runs(ctx, runops.Filter{Pipeline: "api", Limit: 2, Token: p.Next})
	require.NoError(t, err)
	require.Len(t, p.Runs, 1)
	assert.Empty(t, p.Next)
	rec, err := d.op.Run(ctx, "api-2")
	require.NoError(t, err)
	assert.Equal(t, "octo/api", rec.Repo)
	_, err = d.op.Run(ctx, "api-")
	assert.ErrorIs(t, err, store.ErrNotFound, "Run takes exact ids")
}

func TestAWSStopAbandonsTheExecutionOrWaitsForTheRunningBuild(t *testing.T) {
	d := newDeployed(t)
	ctx := context.Background()
	t.Run("abandon stops the execution, with who and why as its cause", func(t *testing.T) {
		rec := d.run("api-1", 1, succeed) // Package builds
		require.NoError(t, d.op.Stop(ctx, rec.ID(), true, "hung"))
		assert.Equal(t, "ABORTED", d.status(rec.ExecutionARN))
		assert.Equal(t, []string{"dynamodb:GetItem", "states:StopExecution", "sts:GetCallerIdentity"}, d.calls.take())
	})
	t.Run("a stop with a build running is kept for the Advance after it", func(t *testing.T) {
		rec := d.run("api-2", 2, succeed)
		require.NoError(t, d.op.Stop(ctx, rec.ID(), false, "freeze"))
		assert.Equal(t, "RUNNING", d.status(rec.ExecutionARN), "the build finishes first")
		raw, err := d.db.Token(ctx, rec.ID(), advance.StopKey)
		require.NoError(t, err)
		var in engine.Input
		require.NoError(t, json.Unmarshal([]byte(raw), &in))
		assert.Equal(t, engine.KindStop, in.Kind)
		assert.Equal(t, "freeze", in.Message)
		assert.True(t, strings.HasPrefix(in.Who, "arn:aws:"), "the caller's IAM identity: %q", in.Who)
		assert.Equal(t, []string{"dynamodb:GetItem", "dynamodb:PutItem"}, d.calls.take(), "the identity was read once, by the first stop")
	})
	t.Run("a stop with only an approval waiting stops the execution now", func(t *testing.T) {
		rec := d.run("api-3", 3, succeed, succeed)
		require.Equal(t, engine.InProgress, rec.State.Stages[2].Actions[0].Status)
		require.NoError(t, d.op.Stop(ctx, rec.ID(), false, ""))
		assert.Equal(t, "ABORTED", d.status(rec.ExecutionARN))
	})
	t.Run("an ended run cannot be stopped", func(t *testing.T) {
		rec := d.run("api-4", 4, fail)
		refusedWith(t, d.op.Stop(ctx, rec.ID(), true, ""), "the run has ended (FAILED)")
	})
}

func TestAWSRetryStartsOneExecutionThatResumesTheRun(t *testing.T) {
	d := newDeployed(t)
	ctx := context.Background()
	rec := d.run("api-1", 1, succeed, fail)
	require.Equal(t, engine.Failed, rec.State.Status)

	refusedWith(t, d.op.Retry(ctx, rec.ID(), "Release", false), "ended in stage Build, not in Release")
	require.NoError(t, d.op.Retry(ctx, rec.ID(), "Build", true))
	assert.Equal(t, []string{"dynamodb:GetItem", "dynamodb:PutItem", "states:StartExecution", "sts:GetCallerIdentity"}, d.calls.take())

	after, err := d.db.GetRun(ctx, rec.ID())
	require.NoError(t, err)
	require.NotEqual(t, rec.ExecutionARN, after.ExecutionARN, "the record names the execution that drives it now")
	assert.Contains(t, after.ExecutionARN, ":execution:"+d.stack.Name+"-pipeline:api-1-resume-")
	ex, err := d.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(after.ExecutionARN)})
	require.NoError(t, err)
	assert.Equal(t, "RUNNING", string(ex.Status))
	var input advance.Input
	require.NoError(t, json.Unmarshal([]byte(aws.ToString(ex.Input)), &input))
	assert.Equal(t, "api-1", input.Run)
	require.NotNil(t, input.Resume)
	assert.Equal(t, engine.Input{Kind: engine.KindRetry, Stage: "Build", All: true, Who: input.Resume.Who}, *input.Resume)

	refusedWith(t, d.op.Retry(ctx, rec.ID(), "Build", false), "another retry or rollback of this run was started")
}

func TestAWSRollbackStartsAnExecutionWithTheChosenRunsArtifacts(t *testing.T) {
	d := newDeployed(t)
	ctx := context.Background()
	good := d.run("api-1", 1, succeed, succeed, approveAndShip, succeed)
	require.Equal(t, engine.Succeeded, good.State.Status)
	bad := d.run("api-2", 2, succeed, succeed, approveAndShip, fail)
	require.Equal(t, engine.Failed, bad.State.Status)

	require.NoError(t, d.op.Rollback(ctx, bad.ID(), "Release", good.ID()))
	after, err := d.db.GetRun(ctx, bad.ID())
	require.NoError(t, err)
	ex, err := d.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(after.ExecutionARN)})
	require.NoError(t, err)
	var input advance.Input
	require.NoError(t, json.Unmarshal([]byte(aws.ToString(ex.Input)), &input))
	require.NotNil(t, input.Resume)
	assert.Equal(t, engine.KindRollback, input.Resume.Kind)
	assert.Equal(t, "api-1", input.Resume.By)
	assert.Equal(t, good.State.Artifacts, input.Resume.Outputs)

	other := d.run("api-3", 3, succeed, succeed, approveAndShip, succeed)
	other.Branch = "feature"
	require.NoError(t, d.db.PutRun(ctx, other))
	refusedWith(t, d.op.Rollback(ctx, good.ID(), "Release", other.ID()), "a rollback stays in its scope")
}

// approveAndShip answers the approval, then lets Ship start.
func approveAndShip(dec engine.Decision) []engine.Input { return succeed(dec) }

func TestAWSApprovalAnswersTheKeptTaskToken(t *testing.T) {
	d := newDeployed(t)
	ctx := context.Background()
	rec := d.run("api-1", 1, succeed, succeed)
	task := approval.TaskKey("Release", "Approve", 1)

	refusedWith(t, d.op.Approve(ctx, rec.ID(), "Release", "Approve", "ok"), "has no task token kept")
	require.NoError(t, d.db.PutToken(ctx, rec.ID(), task, "token-of-the-wait-state", engine.Time(1_900_000_000_000)))
	d.calls.take()
	require.NoError(t, d.op.Approve(ctx, rec.ID(), "Release", "Approve", "ok"))
	assert.Equal(t, []string{"dynamodb:DeleteItem", "dynamodb:GetItem", "states:SendTaskSuccess", "sts:GetCallerIdentity"}, d.calls.take())
	_, err := d.db.Token(ctx, rec.ID(), task)
	assert.ErrorIs(t, err, store.ErrNotFound, "the token is forgotten once answered, as the page does")

	require.NoError(t, d.db.PutToken(ctx, rec.ID(), task, "token-of-the-wait-state", engine.Time(1_900_000_000_000)))
	d.calls.take()
	require.NoError(t, d.op.Reject(ctx, rec.ID(), "Release", "Approve", "no"))
	assert.Equal(t, []string{"dynamodb:DeleteItem", "dynamodb:GetItem", "states:SendTaskFailure"}, d.calls.take(), "the identity is read once")

	refusedWith(t, d.op.Approve(ctx, rec.ID(), "Build", "Package", ""), "is a codebuild action, not an approval")
	ended := d.run("api-2", 2, fail)
	refusedWith(t, d.op.Approve(ctx, ended.ID(), "Release", "Approve", ""), "the run has ended")
}

func TestAWSStartCreatesTheRunAndStartsItsExecutionAsTheTriggerDoes(t *testing.T) {
	d := newDeployed(t)
	ctx := context.Background()
	head := strings.Repeat("ab", 20)
	_, err := d.op.Start(ctx, "api", "main", "")
	refusedWith(t, err, "name the repository to start")

	d.op.WithRepository("github", "octo/api", d.db, clone{commit: head})
	_, err = d.op.Start(ctx, "api", "main", "")
	refusedWith(t, err, "github:octo/api is not registered in this stack")
	require.NoError(t, d.db.PutRegistration(ctx, dynamo.Registration{Provider: "github", Repo: "octo/api", Branch: "main",
		Commit: head, Hook: "hook-0123456789abcdef", File: []byte(releasePipeline), Pushed: engine.Time(1_795_000_000_000)}))
	d.calls.take()

	id, err := d.op.Start(ctx, "api", "main", "")
	require.NoError(t, err)
	assert.Equal(t, []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem",
		"states:DescribeExecution", "states:StartExecution", "sts:GetCallerIdentity"}, d.calls.take())
	rec, err := d.db.GetRun(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, head, rec.Commit)
	assert.Equal(t, "hook-0123456789abcdef", rec.Hook)
	ex, err := d.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(rec.ExecutionARN)})
	require.NoError(t, err)
	assert.Equal(t, "RUNNING", string(ex.Status))
	assert.JSONEq(t, `{"run":"`+id+`"}`, aws.ToString(ex.Input), "the trigger's execution input")
}
