package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/advance"
	"github.com/stepline/stepline/pkg/approval"
	"github.com/stepline/stepline/pkg/awstest"
	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/runops/runopstest"
	"github.com/stepline/stepline/pkg/store"
	"github.com/stepline/stepline/pkg/store/dynamo"
)

// onStack is a deployed stepline on moto, the default credential chain pointed at it.
type onStack struct {
	t     *testing.T
	stack runopstest.Stack
	db    *dynamo.Store
	sfn   *sfn.Client
}

func newOnStack(t *testing.T) *onStack {
	cfg := onMoto(t)
	s := &onStack{t: t, stack: runopstest.Deploy(t, awstest.StartMoto(t))}
	s.db = dynamo.New(dynamodb.NewFromConfig(cfg), s.stack.Table)
	s.sfn = sfn.NewFromConfig(cfg)
	return s
}

func (s *onStack) stepline(args ...string) result {
	s.t.Helper()
	return stepline(append(args, "--aws", "--stack", s.stack.Name)...)
}

// run records a run of a build-then-approve pipeline, advanced through outcomes (true:
// every started action succeeds), with its execution started.
func (s *onStack) run(id string, seq int64, outcomes ...bool) store.Record {
	s.t.Helper()
	def := engine.Definition{Pipeline: "api", Mode: engine.ModeParallel, Stages: []engine.Stage{
		{Name: "Source", Actions: []engine.Action{{Name: "Source", Provider: engine.ProviderSource, Outputs: []string{"source"}}}},
		{Name: "Build", Actions: []engine.Action{{Name: "Package", Provider: "codebuild", Inputs: []string{"source"}}}},
		{Name: "Release", Actions: []engine.Action{{Name: "Approve", Provider: engine.ProviderApproval}}},
	}}
	st, d, err := engine.Advance(def, engine.New(def, engine.RunInfo{ID: id, Seq: seq}), nil, engine.Time(1_795_000_000_000+seq))
	require.NoError(s.t, err)
	for _, ok := range outcomes {
		var in []engine.Input
		for _, t := range d.Start {
			var res engine.Input
			if ok {
				res = t.Succeeded(map[string]string{"source": "s3://a/runs/" + id + "/source.zip"}, nil)
			} else {
				res = t.Failed("build failed", false)
			}
			if t.Provider == "codebuild" {
				// CodeBuild's build id, "<project>:<uuid>", as the advance function records it.
				res.External = fmt.Sprintf("stepline-build:%08d-0000-4000-8000-%012d", seq, t.Attempt)
			}
			in = append(in, res)
		}
		st, d, err = engine.Advance(def, st, in, engine.Time(1_795_000_000_000+seq))
		require.NoError(s.t, err)
	}
	input, _ := json.Marshal(map[string]string{"run": id})
	ex, err := s.sfn.StartExecution(context.Background(), &sfn.StartExecutionInput{StateMachineArn: aws.String(s.stack.StateMachine),
		Name: aws.String(id), Input: aws.String(string(input))})
	require.NoError(s.t, err)
	rec := store.Record{Definition: def, State: st, Repo: "octo/api", Provider: "github", Branch: "main", Trigger: "push",
		Commit: "0123456789abcdef0123456789abcdef01234567", ExecutionARN: aws.ToString(ex.ExecutionArn)}
	require.NoError(s.t, s.db.PutRun(context.Background(), rec))
	return rec
}

func (s *onStack) execution(arn string) *sfn.DescribeExecutionOutput {
	s.t.Helper()
	out, err := s.sfn.DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	require.NoError(s.t, err)
	return out
}

func TestRunsAndShowReadADeployedStack(t *testing.T) {
	s := newOnStack(t)
	s.run("api-1-aaaa1111", 1, true, false)
	s.run("api-2-bbbb2222", 2, true, true)

	res := s.stepline("runs")
	require.Equal(t, ExitOK, res.code, res.err)
	assert.Contains(t, res.out, "RUN")
	assert.Contains(t, res.out, "api-1-aaaa1111  api       FAILED")
	assert.Contains(t, res.out, "api-2-bbbb2222  api       IN_PROGRESS")
	res = s.stepline("runs", "--status", "FAILED")
	assert.NotContains(t, res.out, "api-2-bbbb2222")

	res = s.stepline("show", "api-2")
	require.Equal(t, ExitOK, res.code, res.err)
	assert.Contains(t, res.out, "run api-2-bbbb2222 of pipeline api (push, branch main, commit 0123456")
	assert.Contains(t, res.out, "Approve")

	res = stepline("runs", "--aws", "--stack", "no-such-stack")
	assert.Equal(t, ExitUsage, res.code)
	assert.Contains(t, res.err, "read stack no-such-stack")
}

func TestApproveRetryAndStopADeployedStacksRuns(t *testing.T) {
	s := newOnStack(t)
	ctx := context.Background()

	waiting := s.run("api-1-aaaa1111", 1, true, true)
	require.NoError(t, s.db.PutToken(ctx, waiting.ID(), approval.TaskKey("Release", "Approve", 1), "the-wait-states-token", engine.Time(1_900_000_000_000)))
	res := s.stepline("approve", "api-1", "Release", "Approve", "-m", "ok")
	require.Equal(t, ExitOK, res.code, res.err)
	assert.Contains(t, res.out, "approved Release/Approve of run api-1-aaaa1111")
	_, err := s.db.Token(ctx, waiting.ID(), approval.TaskKey("Release", "Approve", 1))
	assert.ErrorIs(t, err, store.ErrNotFound, "the token was answered")
	res = s.stepline("reject", "api-1", "Release", "Approve")
	assert.Equal(t, ExitFailed, res.code)
	assert.Contains(t, res.err, "reject of run api-1-aaaa1111 refused: Release/Approve has no task token kept")

	failed := s.run("api-2-bbbb2222", 2, true, false)
	res = s.stepline("retry", "api-2")
	require.Equal(t, ExitOK, res.code, res.err)
	assert.Contains(t, res.out, "retried stage Build: run api-2-bbbb2222 is FAILED", "the new execution has not advanced it yet")
	rec, err := s.db.GetRun(ctx, failed.ID())
	require.NoError(t, err)
	ex := s.execution(rec.ExecutionARN)
	assert.Equal(t, "RUNNING", string(ex.Status))
	var input advance.Input
	require.NoError(t, json.Unmarshal([]byte(aws.ToString(ex.Input)), &input))
	require.NotNil(t, input.Resume)
	assert.Equal(t, engine.KindRetry, input.Resume.Kind)
	res = s.stepline("retry", "api-2", "--all")
	assert.Equal(t, ExitFailed, res.code)
	assert.Contains(t, res.err, "another retry or rollback of this run was started")

	building := s.run("api-3-cccc3333", 3, true)
	res = s.stepline("stop", "api-3", "--reason", "freeze")
	require.Equal(t, ExitOK, res.code, res.err)
	assert.Contains(t, res.out, "run api-3-cccc3333 is stopping")
	_, err = s.db.Token(ctx, building.ID(), advance.StopKey)
	require.NoError(t, err, "kept for the next Advance")
	res = s.stepline("stop", "api-3", "--abandon")
	require.Equal(t, ExitOK, res.code, res.err)
	assert.Contains(t, res.out, "run api-3-cccc3333 is being abandoned")
	assert.Equal(t, "ABORTED", string(s.execution(building.ExecutionARN).Status))

	res = s.stepline("rollback", "api-3", "Build", "--to", "api-2")
	assert.Equal(t, ExitFailed, res.code)
	assert.Contains(t, res.err, "rollback of run api-3-cccc3333 refused: the run is IN_PROGRESS: stop it first")

	res = s.stepline("start", "--pipeline", "api", "--branch", "main")
	assert.Equal(t, ExitFailed, res.code)
	assert.Contains(t, res.err, "start refused: name the repository to start")
}

func TestStartOnADeployedStackRunsACommitOfTheClone(t *testing.T) {
	s := newOnStack(t)
	ctx := context.Background()
	r := newRepo(t, map[string]string{".stepline.yml": gatedFile})
	require.NoError(t, s.db.PutRegistration(ctx, dynamo.Registration{Provider: "github", Repo: "octo/rel", Branch: "main",
		Hook: "hook-0123456789abcdef", Pushed: engine.Time(1_795_000_000_000)}))
	head := r.git("rev-parse", "HEAD")

	res := s.stepline("start", "--repository", "github:octo/rel", "--repo", r.dir, "--branch", "main")
	require.Equal(t, ExitOK, res.code, res.err)
	assert.Regexp(t, `^started: run rel-1-[0-9a-f]+ is PENDING\n$`, res.out)
	id := strings.Fields(res.out)[2]
	rec, err := s.db.GetRun(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, head, rec.Commit)
	assert.Equal(t, "RUNNING", string(s.execution(rec.ExecutionARN).Status))

	res = s.stepline("start", "--repository", "github:octo/rel", "--repo", r.dir, "--branch", "nope")
	assert.Equal(t, ExitFailed, res.code)
	assert.Contains(t, res.err, "start refused:")
	res = s.stepline("start", "--repository", "octo/rel", "--repo", r.dir, "--branch", "main")
	assert.Equal(t, ExitUsage, res.code)
}
