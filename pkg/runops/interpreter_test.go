package runops_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/advance"
	"github.com/stepline/stepline/pkg/approval"
	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/pipeline"
	"github.com/stepline/stepline/pkg/runops"
	"github.com/stepline/stepline/pkg/runops/runopstest"
	"github.com/stepline/stepline/pkg/statemachine/asltest"
	"github.com/stepline/stepline/pkg/store"
	"github.com/stepline/stepline/pkg/store/dynamo"
)

// releasePipeline builds, waits for an approval, then ships.
const releasePipeline = runopstest.ReleasePipeline

const stateMachineARN = "arn:aws:states:us-east-1:123456789012:stateMachine:stepline-pipeline"

// cloud runs the real state machine in the interpreter with the real advance function over
// an in-memory table (runopstest.Executions), and is the Step Functions the operator and the
// advance function talk to: StartExecution interprets the execution, task tokens reach the
// Wait state waiting for them, StopExecution aborts the build that runs.
type cloud struct {
	*runopstest.Executions
	t   *testing.T
	def engine.Definition
	db  *store.Memory
	adv *advance.Handler
	op  *runops.AWS

	mu      sync.Mutex
	stopped *sfn.StopExecutionInput
	abort   chan struct{}
}

func newCloud(t *testing.T) *cloud {
	f, err := pipeline.Parse(".stepline.yml", []byte(releasePipeline))
	require.NoError(t, err)
	p, err := f.Pipeline("")
	require.NoError(t, err)
	c := &cloud{t: t, def: p.Definition(), db: store.NewMemory(), abort: make(chan struct{})}
	c.Executions = runopstest.NewExecutions(t, c.db)
	c.adv = advance.New(c.db, nopPublisher{}, c, advance.Config{Bucket: "artifacts", Project: "stepline-build"})
	c.Advance = c.adv
	c.op = runops.NewAWS(c.db, c, identity{}, stateMachineARN)
	return c
}

type nopPublisher struct{}

func (nopPublisher) Publish(context.Context, store.Record, []engine.Event) error { return nil }

// identity is STS for a user named ana.
type identity struct{}

func (identity) GetCallerIdentity(context.Context, *sts.GetCallerIdentityInput, ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error) {
	return &sts.GetCallerIdentityOutput{Arn: aws.String("arn:aws:iam::123456789012:user/ana"), Account: aws.String("123456789012")}, nil
}

func (c *cloud) SendTaskSuccess(_ context.Context, in *sfn.SendTaskSuccessInput, _ ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error) {
	c.Succeed(*in.TaskToken, *in.Output)
	return &sfn.SendTaskSuccessOutput{}, nil
}

func (c *cloud) SendTaskFailure(_ context.Context, in *sfn.SendTaskFailureInput, _ ...func(*sfn.Options)) (*sfn.SendTaskFailureOutput, error) {
	c.Fail(*in.TaskToken, *in.Error, *in.Cause)
	return &sfn.SendTaskFailureOutput{}, nil
}

func (c *cloud) StartExecution(_ context.Context, in *sfn.StartExecutionInput, _ ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error) {
	return &sfn.StartExecutionOutput{ExecutionArn: aws.String(c.Start(*in.StateMachineArn, *in.Name, *in.Input))}, nil
}

func (c *cloud) DescribeExecution(_ context.Context, in *sfn.DescribeExecutionInput, _ ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	if !c.Started(*in.ExecutionArn) {
		return nil, &sfntypes.ExecutionDoesNotExist{Message: aws.String("Execution Does Not Exist: " + *in.ExecutionArn)}
	}
	return &sfn.DescribeExecutionOutput{ExecutionArn: in.ExecutionArn, Status: sfntypes.ExecutionStatusRunning}, nil
}

func (c *cloud) StopExecution(_ context.Context, in *sfn.StopExecutionInput, _ ...func(*sfn.Options)) (*sfn.StopExecutionOutput, error) {
	c.mu.Lock()
	c.stopped = in
	c.mu.Unlock()
	close(c.abort)
	return &sfn.StopExecutionOutput{}, nil
}

// start records run as the trigger does and starts its execution.
func (c *cloud) start(run string) string {
	c.t.Helper()
	ctx := context.Background()
	name := run
	arn := runopstest.ExecutionARN(stateMachineARN, name)
	require.NoError(c.t, c.db.PutRun(ctx, store.Record{Definition: c.def, State: engine.New(c.def, engine.RunInfo{ID: run, Seq: 1}),
		Repo: "octo/api", Provider: "github", Branch: "main", Commit: strings.Repeat("c", 40), ExecutionARN: arn}))
	input, _ := json.Marshal(map[string]string{"run": run})
	_, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(stateMachineARN), Name: aws.String(name), Input: aws.String(string(input))})
	require.NoError(c.t, err)
	return arn
}

// kept waits until the wait function has kept the approval's token.
func (c *cloud) kept(run string, attempt int) {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := c.db.Token(context.Background(), run, approval.TaskKey("Release", "Approve", attempt)); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatalf("run %s never waited for its approval", run)
}

func (c *cloud) record(run string) store.Record {
	c.t.Helper()
	rec, err := c.db.GetRun(context.Background(), run)
	require.NoError(c.t, err)
	return rec
}

func TestOnTheStateMachineApproveAndRejectDecideTheWaitingExecution(t *testing.T) {
	ctx := context.Background()
	t.Run("approve: the execution goes on to ship and succeeds", func(t *testing.T) {
		c := newCloud(t)
		arn := c.start("api-1")
		c.kept("api-1", 1)
		require.NoError(t, c.op.Approve(ctx, "api-1", "Release", "Approve", "ship it"))
		ex := c.Ended(arn)
		require.Empty(t, ex.Error, ex.Cause)
		assert.Equal(t, []string{"Advance", "Route", "CodeBuild", "Advance", "Route", "Succeeded"}, ex.Entered[len(ex.Entered)-6:], "Ship built after the approval")
		rec := c.record("api-1")
		assert.Equal(t, engine.Succeeded, rec.State.Status)
		assert.Equal(t, "approved by arn:aws:iam::123456789012:user/ana: ship it", rec.State.Stages[2].Actions[0].Message)
		refusedWith(t, c.op.Approve(ctx, "api-1", "Release", "Approve", ""), "the run has ended (SUCCEEDED)")
	})
	t.Run("reject: the execution fails, saying who rejected and why", func(t *testing.T) {
		c := newCloud(t)
		arn := c.start("api-2")
		c.kept("api-2", 1)
		require.NoError(t, c.op.Reject(ctx, "api-2", "Release", "Approve", "not on a Friday"))
		ex := c.Ended(arn)
		assert.Equal(t, "PipelineFailed", ex.Error)
		rec := c.record("api-2")
		assert.Equal(t, engine.Failed, rec.State.Status)
		assert.Contains(t, rec.State.Message, "rejected by arn:aws:iam::123456789012:user/ana: not on a Friday")
		assert.Equal(t, engine.Pending, rec.State.Stages[2].Actions[1].Status, "Ship never ran")
	})
}

func TestOnTheStateMachineARetryResumesTheFailedRunInANewExecution(t *testing.T) {
	ctx := context.Background()
	c := newCloud(t)
	failures := 1
	c.Build = func(spec string) (any, error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if spec == "ci/package.yml" && failures > 0 {
			failures--
			return nil, asltest.NamedError{Name: "States.TaskFailed", Msg: `{"Build":{"Id":"stepline-build:1","BuildStatus":"FAILED"}}`}
		}
		return map[string]any{"Build": map[string]any{"Id": "stepline-build:" + spec, "BuildStatus": "SUCCEEDED"}}, nil
	}
	first := c.start("api-3")
	ex := c.Ended(first)
	require.Equal(t, "PipelineFailed", ex.Error)

	require.NoError(t, c.op.Retry(ctx, "api-3", "Build", false))
	rec := c.record("api-3")
	require.NotEqual(t, first, rec.ExecutionARN)
	c.kept("api-3", 1)
	require.NoError(t, c.op.Approve(ctx, "api-3", "Release", "Approve", ""))
	ex = c.Ended(rec.ExecutionARN)
	require.Empty(t, ex.Error, ex.Cause)
	assert.Equal(t, []string{"Advance", "Route", "CodeBuild"}, ex.Entered[:3], "the new execution starts with the retried build, not the source")
	rec = c.record("api-3")
	assert.Equal(t, engine.Succeeded, rec.State.Status)
	assert.Equal(t, 2, rec.State.Stages[1].Actions[0].Attempt)
	assert.Equal(t, 1, rec.State.Stages[0].Actions[0].Attempt, "the source did not run again")

	// The first execution's end, delivered late, leaves the resumed run alone.
	_, err := c.adv.Handle(ctx, endedEvent(t, first, "FAILED", "", ""))
	require.NoError(t, err)
	assert.Equal(t, engine.Succeeded, c.record("api-3").State.Status)
}

func TestOnTheStateMachineAStopLetsTheRunningBuildFinishOrAbandonsIt(t *testing.T) {
	ctx := context.Background()
	blocking := func(c *cloud, release <-chan struct{}, building chan<- struct{}) {
		c.Build = func(spec string) (any, error) {
			if spec == "ci/package.yml" {
				close(building)
				select {
				case <-release:
				case <-c.abort:
					return nil, asltest.ErrAbort
				}
			}
			return map[string]any{"Build": map[string]any{"Id": "stepline-build:" + spec, "BuildStatus": "SUCCEEDED"}}, nil
		}
	}
	t.Run("stop: the build finishes, nothing else starts, the execution ends canceled", func(t *testing.T) {
		c := newCloud(t)
		release, building := make(chan struct{}), make(chan struct{})
		blocking(c, release, building)
		arn := c.start("api-4")
		<-building
		require.NoError(t, c.op.Stop(ctx, "api-4", false, "freeze"))
		close(release)
		ex := c.Ended(arn)
		assert.Equal(t, "PipelineCanceled", ex.Error, ex.Cause)
		rec := c.record("api-4")
		assert.Equal(t, engine.Canceled, rec.State.Status)
		assert.Equal(t, "stopped by arn:aws:iam::123456789012:user/ana: freeze", rec.State.Message)
		assert.Equal(t, engine.Succeeded, rec.State.Stages[1].Actions[0].Status, "the running build finished")
		assert.NotContains(t, ex.Entered, "Wait", "the approval was never asked")
	})
	t.Run("abandon: the execution is stopped and its end cancels the run", func(t *testing.T) {
		c := newCloud(t)
		release, building := make(chan struct{}), make(chan struct{})
		blocking(c, release, building)
		arn := c.start("api-5")
		<-building
		require.NoError(t, c.op.Stop(ctx, "api-5", true, "hung"))
		ex := c.Ended(arn)
		require.Equal(t, asltest.Aborted, ex.Error)
		require.Equal(t, arn, aws.ToString(c.stopped.ExecutionArn))
		// EventBridge delivers the execution's end (ExecutionEndedRule) with StopExecution's
		// error and cause.
		_, err := c.adv.Handle(ctx, endedEvent(t, arn, "ABORTED", aws.ToString(c.stopped.Error), aws.ToString(c.stopped.Cause)))
		require.NoError(t, err)
		rec := c.record("api-5")
		assert.Equal(t, engine.Canceled, rec.State.Status)
		assert.Equal(t, "abandoned by arn:aws:iam::123456789012:user/ana: hung", rec.State.Message)
	})
}

// endedEvent is the "Step Functions Execution Status Change" event of execution arn
// (https://docs.aws.amazon.com/step-functions/latest/dg/cw-events.html).
func endedEvent(t *testing.T, arn, status, errName, cause string) advance.Input {
	t.Helper()
	name := arn[strings.LastIndex(arn, ":")+1:]
	run, _, _ := strings.Cut(name, "-resume-")
	input, _ := json.Marshal(map[string]string{"run": run})
	raw, err := json.Marshal(map[string]any{"detail-type": "Step Functions Execution Status Change", "source": "aws.states",
		"detail": map[string]any{"executionArn": arn, "stateMachineArn": stateMachineARN, "name": name, "status": status,
			"input": string(input), "error": errName, "cause": cause}})
	require.NoError(t, err)
	var in advance.Input
	require.NoError(t, json.Unmarshal(raw, &in))
	if errName == "" {
		in.Detail.Error, in.Detail.Cause = nil, nil
	}
	return in
}

// clone is the user's clone for Start: one commit holding the pipeline file.
type clone struct{ commit string }

func (c clone) Resolve(_ context.Context, branch, commit string) (string, string, string, error) {
	if branch != "main" || (commit != "" && commit != c.commit) {
		return "", "", "", errors.New("no such revision")
	}
	return c.commit, "Add the release stage", "ana", nil
}

func (c clone) File(_ context.Context, commit, path string) ([]byte, error) {
	if commit != c.commit || path != ".stepline.yml" {
		return nil, errors.New("no such file")
	}
	return []byte(releasePipeline), nil
}

// registry holds octo/api, registered with its hook.
type registry struct{}

func (registry) Registration(_ context.Context, provider, repo string) (dynamo.Registration, error) {
	if provider != "github" || repo != "octo/api" {
		return dynamo.Registration{}, store.ErrNotFound
	}
	return dynamo.Registration{Provider: provider, Repo: repo, Branch: "main", Hook: "hook-0123456789abcdef"}, nil
}

func TestOnTheStateMachineAStartedRunRunsTheCommitFromItsSource(t *testing.T) {
	ctx := context.Background()
	c := newCloud(t)
	head := strings.Repeat("ab", 20)
	c.op.WithRepository("github", "octo/api", registry{}, clone{commit: head})
	id, err := c.op.Start(ctx, "api", "main", "")
	require.NoError(t, err)
	rec := c.record(id)
	assert.Equal(t, "manual (stepline start)", rec.Trigger)
	assert.Equal(t, head, rec.Commit)
	assert.Equal(t, "hook-0123456789abcdef", rec.Hook)
	assert.Equal(t, "ana", rec.State.Vars["source"]["author"], "the commit's author, as a push would say")
	assert.Equal(t, "Add the release stage", rec.State.Vars["source"]["commit_message"])
	c.kept(id, 1)
	require.NoError(t, c.op.Approve(ctx, id, "Release", "Approve", ""))
	ex := c.Ended(rec.ExecutionARN)
	require.Empty(t, ex.Error, ex.Cause)
	assert.Equal(t, []string{"Advance", "Route", "Source"}, ex.Entered[:3])
	assert.Equal(t, engine.Succeeded, c.record(id).State.Status)

	_, err = c.op.Start(ctx, "api", "nope", "")
	refusedWith(t, err, "no such revision")
}
