package waitstep

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/awstest"
	"github.com/stepline/stepline/pkg/deploy"
	"github.com/stepline/stepline/pkg/deploy/cloudformation"
	"github.com/stepline/stepline/pkg/deploy/codedeploy"
	"github.com/stepline/stepline/pkg/deploy/deploytest"
	deployecs "github.com/stepline/stepline/pkg/deploy/ecs"
	"github.com/stepline/stepline/pkg/deploy/s3artifact"
	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/statemachine"
	"github.com/stepline/stepline/pkg/store/dynamo"
)

// memProvider is a deploy provider in memory: Start answers wait (or err) and keeps the
// request; Match reads {"key", "ok"} details of its detail type; Poll answers polled.
type memProvider struct {
	name    string
	wait    deploy.Wait
	err     error
	polled  deploy.Outcome
	outputs map[string]string
	got     []deploy.Request
	polls   int
}

func (p *memProvider) Start(_ context.Context, req deploy.Request) (deploy.Wait, error) {
	p.got = append(p.got, req)
	return p.wait, p.err
}

func (p *memProvider) Poll(context.Context, deploy.Wait) (deploy.Outcome, error) {
	p.polls++
	return p.polled, nil
}

func (p *memProvider) Match(detailType string, detail json.RawMessage) (string, deploy.Outcome, bool) {
	var d struct {
		Key string `json:"key"`
		OK  bool   `json:"ok"`
	}
	if detailType != p.name+" done" || json.Unmarshal(detail, &d) != nil {
		return "", deploy.Outcome{}, false
	}
	return d.Key, deploy.Outcome{Done: true, Succeeded: d.OK, Message: p.name + " said so"}, true
}

// memOutputs is a provider whose stacks have outputs (the cloudformation provider's Outputs).
type memOutputs struct{ *memProvider }

func (p memOutputs) Outputs(context.Context, string) (map[string]string, error) {
	return p.outputs, nil
}

type deployRig struct {
	*rig
	waits *memWaits
}

func newDeployRig(providers map[string]deploy.Provider, open func(deploy.Location) deploy.Artifact) *deployRig {
	r := newRig()
	clock := func() time.Time { return r.now }
	d := &deployRig{rig: r, waits: &memWaits{now: clock, items: map[string]dynamo.Waiting{}}}
	if open == nil {
		open = func(loc deploy.Location) deploy.Artifact { return s3artifact.New(nil, loc) }
	}
	r.h = New(r.tokens, r.sfn, r.sched, r.bus, testConfig, WithClock(clock),
		WithDeploys(Deploys{Providers: providers, Artifact: open, Waits: d.waits, Tasks: r.sfn}))
	return d
}

// deployInput is the Wait state's payload for a deploy action of provider.
func deployInput(provider string, rollback bool, config map[string]any, inputs ...engine.Artifact) Input {
	t := engine.Task{Run: "api-7", Pipeline: "api", Stage: "Deploy", Action: "Service", Attempt: 1, Provider: provider,
		Config: config, Inputs: inputs, Rollback: rollback, Timeout: 30 * time.Minute}
	return Input{Token: testToken, Run: "api-7", Task: &statemachine.Item{ID: t.ID(), Kind: statemachine.KindWait, TimeoutSeconds: 1800, Task: t}}
}

// sampleEvent reads events/<path> with the detail's field set to value.
func sampleEvent(t *testing.T, path, field, value string) Input {
	t.Helper()
	raw, err := os.ReadFile("../../events/" + path)
	require.NoError(t, err)
	var in Input
	require.NoError(t, json.Unmarshal(raw, &in))
	var detail map[string]any
	require.NoError(t, json.Unmarshal(in.Detail, &detail))
	detail[field] = value
	in.Detail, _ = json.Marshal(detail)
	return in
}

// An ECS rolling deploy on moto, its image definitions read from an artifact in S3: the
// service gets a new revision, the token is kept under the deployment's id with the action's
// deadline, and the "ECS Deployment State Change" event of that deployment answers the task
// with success and forgets the wait; the same event again does nothing.
func TestAnECSDeployWaitsForItsDeploymentsEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	moto := awstest.StartMoto(t)
	ecsClient := newECSService(t, moto, "wait-ecs", "api")
	s3c := s3.NewFromConfig(moto.Config(), func(o *s3.Options) { o.UsePathStyle = true })
	_, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("wait-ecs-artifacts")})
	require.NoError(t, err)
	_, err = s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("wait-ecs-artifacts"), Key: aws.String("runs/api-7/bin.zip"),
		Body: bytes.NewReader(deploytest.Zip(t, map[string]string{"imagedefinitions.json": `[{"name":"app","imageUri":"r/app:abc123"}]`}))})
	require.NoError(t, err)
	r := newDeployRig(map[string]deploy.Provider{"ecs": deployecs.New(ecsClient, ecsClient)},
		func(loc deploy.Location) deploy.Artifact { return s3artifact.New(s3c, loc) })

	out, err := r.h.Handle(lambdaCtx(), deployInput("ecs", false, map[string]any{"cluster": "wait-ecs", "service": "api", "image_definitions": "bin::imagedefinitions.json"},
		engine.Artifact{Name: "bin", Location: "s3://wait-ecs-artifacts/runs/api-7/bin.zip"}))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(out.Key, "ecs:ecs-svc/"), out.Key)
	deployment := strings.TrimPrefix(out.Key, "ecs:")
	kept, err := r.waits.Waiting(ctx, out.Key)
	require.NoError(t, err)
	assert.Equal(t, testToken, kept.Token)
	assert.Equal(t, "Deploy.Service.1", kept.Task)
	require.Len(t, r.sched.created, 1, "the action's timeout is scheduled")
	var expire Input
	require.NoError(t, json.Unmarshal([]byte(aws.ToString(r.sched.created[0].Target.Input)), &expire))
	assert.Equal(t, out.Key, expire.Expire.Key)
	assert.Contains(t, expire.Expire.What, deployment)
	assert.Equal(t, "at(2026-12-02T09:30:01)", aws.ToString(r.sched.created[0].ScheduleExpression), "the action's 30 minutes")
	assert.Empty(t, r.sfn.successes, "nothing answered yet")

	in := sampleEvent(t, "ecs/deployment-completed.json", "deploymentId", deployment)
	_, err = r.h.Handle(ctx, in)
	require.NoError(t, err)
	require.Len(t, r.sfn.successes, 1)
	assert.Equal(t, testToken, aws.ToString(r.sfn.successes[0].TaskToken))
	assert.JSONEq(t, `{"message":"ECS deployment `+deployment+` completed"}`, aws.ToString(r.sfn.successes[0].Output))
	_, err = r.waits.Waiting(ctx, out.Key)
	assert.Error(t, err, "the wait is forgotten")
	_, ok := r.tokens.get("api-7", "Deploy.Service.1")
	assert.False(t, ok, "the token is forgotten")

	_, err = r.h.Handle(ctx, in)
	require.NoError(t, err)
	assert.Len(t, r.sfn.successes, 1, "a duplicate event does nothing")
}

// A circuit-breaker failure fails the action with ECS's reason and says it rolled back.
func TestAFailedECSDeploymentFailsTheActionWithECSsReason(t *testing.T) {
	t.Parallel()
	r := newDeployRig(map[string]deploy.Provider{"ecs": deployecs.New(nil, nil)}, nil)
	require.NoError(t, r.waits.PutWaiting(context.Background(), "ecs:ecs-svc/123", dynamo.Waiting{Run: "api-7", Task: "Deploy.Service.1", Token: testToken}))
	in := sampleEvent(t, "ecs/deployment-failed.json", "deploymentId", "ecs-svc/123")
	_, err := r.h.Handle(context.Background(), in)
	require.NoError(t, err)
	require.Len(t, r.sfn.failures, 1)
	assert.Equal(t, statemachine.ErrActionFailed, aws.ToString(r.sfn.failures[0].Error))
	assert.Contains(t, aws.ToString(r.sfn.failures[0].Cause), "ECS deployment ecs-svc/123 failed")
	assert.Contains(t, aws.ToString(r.sfn.failures[0].Cause), "roll")
}

// Events that finish nothing of ours change nothing: an intermediate state, another
// deployment's final event, a service nobody watches.
func TestLateUnknownAndIntermediateEventsDoNothing(t *testing.T) {
	t.Parallel()
	r := newDeployRig(map[string]deploy.Provider{"ecs": deployecs.New(nil, nil), "codedeploy": codedeploy.New(nil, nil),
		"cloudformation": cloudformation.New(nil)}, nil)
	require.NoError(t, r.waits.PutWaiting(context.Background(), "ecs:ecs-svc/mine", dynamo.Waiting{Run: "api-7", Task: "Deploy.Service.1", Token: testToken}))
	for _, in := range []Input{
		sampleEvent(t, "ecs/deployment-in-progress.json", "deploymentId", "ecs-svc/mine"),
		sampleEvent(t, "ecs/deployment-completed.json", "deploymentId", "ecs-svc/other"),
		sampleEvent(t, "codedeploy/deployment-success.json", "deploymentId", "d-NOBODY"),
		sampleEvent(t, "cloudformation/update-complete.json", "stack-id", "arn:aws:cloudformation:us-east-1:123456789012:stack/x/1"),
		{Event: Event{DetailType: "Something Else", Source: "aws.other", Detail: json.RawMessage(`{}`)}},
	} {
		_, err := r.h.Handle(context.Background(), in)
		require.NoError(t, err, in.DetailType)
	}
	assert.Empty(t, r.sfn.successes)
	assert.Empty(t, r.sfn.failures)
	_, err := r.waits.Waiting(context.Background(), "ecs:ecs-svc/mine")
	assert.NoError(t, err, "the wait still waits for its own deployment")
}

// An event whose task Step Functions already closed (timed out) only forgets the wait.
func TestAnEventForATaskAlreadyClosedOnlyForgetsTheWait(t *testing.T) {
	t.Parallel()
	r := newDeployRig(map[string]deploy.Provider{"ecs": deployecs.New(nil, nil)}, nil)
	r.sfn.fail = &sfntypes.TaskTimedOut{Message: aws.String("Task Timed Out")}
	require.NoError(t, r.waits.PutWaiting(context.Background(), "ecs:ecs-svc/123", dynamo.Waiting{Run: "api-7", Task: "Deploy.Service.1", Token: testToken}))
	_, err := r.h.Handle(context.Background(), sampleEvent(t, "ecs/deployment-completed.json", "deploymentId", "ecs-svc/123"))
	require.NoError(t, err)
	_, err = r.waits.Waiting(context.Background(), "ecs:ecs-svc/123")
	assert.Error(t, err)
}

// A deploy whose event never comes: the deadline fails the task as timed out, naming what it
// waited for, and forgets the wait; a later event then finds nothing.
func TestADeployWhoseEventNeverComesTimesOutNamingWhatItWaitedFor(t *testing.T) {
	t.Parallel()
	p := &memProvider{name: "ecs", wait: deploy.Wait{Provider: "ecs", Key: "ecs-svc/9", What: "ECS deployment ecs-svc/9 of service api to complete"}}
	r := newDeployRig(map[string]deploy.Provider{"ecs": p}, nil)
	out, err := r.h.Handle(lambdaCtx(), deployInput("ecs", false, nil))
	require.NoError(t, err)
	var expire Input
	require.NoError(t, json.Unmarshal([]byte(aws.ToString(r.sched.created[0].Target.Input)), &expire))

	r.now = r.now.Add(31 * time.Minute)
	got, err := r.h.Handle(context.Background(), expire)
	require.NoError(t, err)
	assert.True(t, got.Expired)
	require.Len(t, r.sfn.failures, 1)
	assert.Equal(t, statemachine.ErrActionTimedOut, aws.ToString(r.sfn.failures[0].Error))
	assert.Equal(t, "the deploy did not finish by its deadline: waited for ECS deployment ecs-svc/9 of service api to complete", aws.ToString(r.sfn.failures[0].Cause))
	_, err = r.waits.Waiting(context.Background(), out.Key)
	assert.Error(t, err)
	_, err = r.h.Handle(context.Background(), Input{Event: Event{DetailType: "ecs done", Detail: json.RawMessage(`{"key":"ecs-svc/9","ok":true}`)}})
	require.NoError(t, err)
	assert.Empty(t, r.sfn.successes, "the late event does nothing")
}

// A deploy finished within Start (an S3 upload, an empty change set) answers its token at
// once and keeps nothing.
func TestADeployFinishedWithinStartAnswersAtOnce(t *testing.T) {
	t.Parallel()
	for _, ok := range []bool{true, false} {
		p := &memProvider{name: "s3", wait: deploy.Wait{Provider: "s3", Done: true, Outcome: deploy.Outcome{Done: true, Succeeded: ok, Message: "12 objects written"}}}
		r := newDeployRig(map[string]deploy.Provider{"s3": p}, nil)
		out, err := r.h.Handle(lambdaCtx(), deployInput("s3", false, nil))
		require.NoError(t, err)
		assert.True(t, out.Finished)
		assert.Empty(t, r.sched.created)
		assert.Empty(t, r.waits.items)
		assert.Empty(t, r.tokens.items)
		assert.Equal(t, map[bool]int{true: 1, false: 0}[ok], len(r.sfn.successes))
		assert.Equal(t, map[bool]int{true: 0, false: 1}[ok], len(r.sfn.failures))
	}
}

// A stack's outputs become the action's exported variables: the success answer carries them
// as pkg/advance reads a Wait's output (variables).
func TestAStacksOutputsBecomeTheActionsVariables(t *testing.T) {
	t.Parallel()
	p := memOutputs{&memProvider{name: "cloudformation", outputs: map[string]string{"Url": "https://api.example.com"}}}
	r := newDeployRig(map[string]deploy.Provider{"cloudformation": p}, nil)
	w, _ := json.Marshal(deploy.Wait{Provider: "cloudformation", Key: "stack/1", Resource: "stack/1"})
	require.NoError(t, r.waits.PutWaiting(context.Background(), "cloudformation:stack/1", dynamo.Waiting{Run: "api-7", Task: "Deploy.Stack.1", Token: testToken, Wait: string(w)}))
	_, err := r.h.Handle(context.Background(), Input{Event: Event{DetailType: "cloudformation done", Detail: json.RawMessage(`{"key":"stack/1","ok":true}`)}})
	require.NoError(t, err)
	require.Len(t, r.sfn.successes, 1)

	var result Result
	require.NoError(t, json.Unmarshal([]byte(aws.ToString(r.sfn.successes[0].Output)), &result))
	assert.Equal(t, map[string]string{"Url": "https://api.example.com"}, result.Variables)
}

// CodeDeploy's FAILURE event does not say whether CodeDeploy rolled back: Poll does.
func TestACodeDeployFailureAsksWhetherCodeDeployRolledBack(t *testing.T) {
	t.Parallel()
	p := &memProvider{name: "codedeploy", polled: deploy.Outcome{Done: true, RolledBack: true, Message: "deployment d-1 failed; CodeDeploy rolled back with d-2"}}
	r := newDeployRig(map[string]deploy.Provider{"codedeploy": p}, nil)
	require.NoError(t, r.waits.PutWaiting(context.Background(), "codedeploy:d-1", dynamo.Waiting{Run: "api-7", Task: "Deploy.Service.1", Token: testToken, Wait: `{"provider":"codedeploy","key":"d-1"}`}))
	_, err := r.h.Handle(context.Background(), Input{Event: Event{DetailType: "codedeploy done", Detail: json.RawMessage(`{"key":"d-1","ok":false}`)}})
	require.NoError(t, err)
	assert.Equal(t, 1, p.polls)
	require.Len(t, r.sfn.failures, 1)
	assert.Equal(t, "deployment d-1 failed; CodeDeploy rolled back with d-2", aws.ToString(r.sfn.failures[0].Cause))
}

// A rollback attempt reaches the provider as one: Previous set, and the inputs are the
// locations the task carries (the previous run's artifacts).
func TestARollbackReachesTheProviderWithThePreviousArtifacts(t *testing.T) {
	t.Parallel()
	p := &memProvider{name: "ecs", wait: deploy.Wait{Provider: "ecs", Key: "ecs-svc/1", What: "x"}}
	r := newDeployRig(map[string]deploy.Provider{"ecs": p}, nil)
	_, err := r.h.Handle(lambdaCtx(), deployInput("ecs", true, map[string]any{"cluster": "c"},
		engine.Artifact{Name: "bin", Location: "s3://artifacts/runs/api-6/bin.zip"}))
	require.NoError(t, err)
	require.Len(t, p.got, 1)
	assert.True(t, p.got[0].Previous)
	assert.Equal(t, deploy.Location{Bucket: "artifacts", Key: "runs/api-6/bin.zip"}, p.got[0].Inputs["bin"].Location())
}

// A provider's refusal fails the action by name, and nothing is kept.
func TestAStartThatFailsFailsTheActionAndKeepsNothing(t *testing.T) {
	t.Parallel()
	p := &memProvider{name: "ecs", err: assert.AnError}
	r := newDeployRig(map[string]deploy.Provider{"ecs": p}, nil)
	_, err := r.h.Handle(lambdaCtx(), deployInput("ecs", false, nil))
	require.Error(t, err)
	assert.Equal(t, statemachine.ErrActionFailed, errorType(err))
	assert.Empty(t, r.waits.items)
	assert.Empty(t, r.tokens.items)
	assert.Empty(t, r.sched.created)
}

// newECSService creates a cluster and a service on moto running one container "app".
func newECSService(t *testing.T, moto *awstest.Moto, cluster, service string) *awsecs.Client {
	t.Helper()
	ctx := context.Background()
	c := awsecs.NewFromConfig(moto.Config())
	_, err := c.CreateCluster(ctx, &awsecs.CreateClusterInput{ClusterName: aws.String(cluster)})
	require.NoError(t, err)
	td, err := c.RegisterTaskDefinition(ctx, &awsecs.RegisterTaskDefinitionInput{Family: aws.String(cluster),
		ContainerDefinitions: []ecstypes.ContainerDefinition{{Name: aws.String("app"), Image: aws.String("r/app:old"), Memory: aws.Int32(128)}}})
	require.NoError(t, err)
	_, err = c.CreateService(ctx, &awsecs.CreateServiceInput{Cluster: aws.String(cluster), ServiceName: aws.String(service),
		TaskDefinition: td.TaskDefinition.TaskDefinitionArn, DesiredCount: aws.Int32(1)})
	require.NoError(t, err)
	return c
}
