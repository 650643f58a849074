package statemachine_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	awscfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	awscd "github.com/aws/aws-sdk-go-v2/service/codedeploy"
	cdtypes "github.com/aws/aws-sdk-go-v2/service/codedeploy/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/awstest"
	"github.com/stepline/stepline/pkg/deploy"
	"github.com/stepline/stepline/pkg/deploy/cloudformation"
	"github.com/stepline/stepline/pkg/deploy/codedeploy"
	deployecs "github.com/stepline/stepline/pkg/deploy/ecs"
	deploys3 "github.com/stepline/stepline/pkg/deploy/s3"
	"github.com/stepline/stepline/pkg/deploy/s3artifact"
	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/statemachine"
	"github.com/stepline/stepline/pkg/statemachine/asltest"
	"github.com/stepline/stepline/pkg/store/dynamo"
	"github.com/stepline/stepline/pkg/waitstep"
)

// deployPipeline builds an image, rolls it out to an ECS service (rolled back to the last
// successful run's image if it fails), waits for an approval and deploys a stack.
const deployPipeline = `version: 1
pipelines:
  - name: api
    stages:
      - name: Build
        actions:
          - {name: Image, provider: codebuild, buildspec: ci/image.yml, inputs: [source], outputs: [bin]}
      - name: Staging
        on_failure: rollback
        actions:
          - {name: Service, provider: ecs, cluster: CLUSTER, service: api, image_definitions: "bin::imagedefinitions.json"}
      - name: Release
        actions:
          - {name: Approve, provider: approval}
          - {name: Stack, provider: cloudformation, run_order: 2, stack: STACK, template: "bin::packaged.yml"}
`

// blueGreenPipeline deploys the build's task definition through CodeDeploy.
const blueGreenPipeline = `version: 1
pipelines:
  - name: api
    stages:
      - name: Build
        actions:
          - {name: Image, provider: codebuild, buildspec: ci/image.yml, inputs: [source], outputs: [bin]}
      - name: Production
        actions:
          - {name: BlueGreen, provider: codedeploy, application: APP, deployment_group: blue-green,
             appspec: "bin::appspec.yaml", task_definition: "bin::taskdef.json", image_details: "bin::imageDetail.json", image_placeholder: IMAGE}
`

// answer is what a task token was answered with.
type answer struct{ output, err, cause string }

// answers is Step Functions' task-token API for the wait function: an answer goes to the
// Wait state that holds the token.
type answers struct {
	mu    sync.Mutex
	waits map[string]chan answer
}

func (a *answers) ch(token string) chan answer {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.waits == nil {
		a.waits = map[string]chan answer{}
	}
	if a.waits[token] == nil {
		a.waits[token] = make(chan answer, 1)
	}
	return a.waits[token]
}

func (a *answers) SendTaskSuccess(_ context.Context, in *sfn.SendTaskSuccessInput, _ ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error) {
	a.ch(*in.TaskToken) <- answer{output: *in.Output}
	return &sfn.SendTaskSuccessOutput{}, nil
}

func (a *answers) SendTaskFailure(_ context.Context, in *sfn.SendTaskFailureInput, _ ...func(*sfn.Options)) (*sfn.SendTaskFailureOutput, error) {
	a.ch(*in.TaskToken) <- answer{err: *in.Error, cause: *in.Cause}
	return &sfn.SendTaskFailureOutput{}, nil
}

// deadlines keeps the schedules the wait function creates, so a test can fire one.
type deadlines struct {
	mu     sync.Mutex
	inputs []string
}

func (d *deadlines) CreateSchedule(_ context.Context, in *scheduler.CreateScheduleInput, _ ...func(*scheduler.Options)) (*scheduler.CreateScheduleOutput, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.inputs = append(d.inputs, *in.Target.Input)
	return &scheduler.CreateScheduleOutput{ScheduleArn: aws.String("arn:aws:scheduler:us-east-1:123456789012:schedule/stepline/" + *in.Name)}, nil
}

func (d *deadlines) DeleteSchedule(context.Context, *scheduler.DeleteScheduleInput, ...func(*scheduler.Options)) (*scheduler.DeleteScheduleOutput, error) {
	return &scheduler.DeleteScheduleOutput{}, nil
}

func (d *deadlines) last() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.inputs[len(d.inputs)-1]
}

type noBus struct{}

func (noBus) PutEvents(context.Context, *eventbridge.PutEventsInput, ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	return &eventbridge.PutEventsOutput{}, nil
}

// deployWorld runs the real wait function's handler behind the Wait state, with its deploy
// providers on moto (ECS, CodeDeploy, CloudFormation, S3, the table), and plays EventBridge:
// after a deploy starts, it delivers the finishing event the test chose to the same handler.
type deployWorld struct {
	*world
	ctx       context.Context
	s3        *s3.Client
	ecs       *awsecs.Client
	cfn       *awscfn.Client
	wait      *waitstep.Handler
	answers   *answers
	deadlines *deadlines
	cluster   string
	// ecsEvent says which event ends the ECS deployment of a run (its rollback attempt
	// separately): "completed", "failed", or "" for none.
	ecsEvent func(run string, rollback bool) string
}

func newDeployWorld(t *testing.T, file, name string) *deployWorld {
	t.Helper()
	moto := awstest.StartMoto(t)
	cfg := moto.Config()
	ctx := context.Background()
	file = strings.NewReplacer("CLUSTER", name, "STACK", name+"-stack", "APP", name+"-app").Replace(file)
	d := &deployWorld{world: newWorld(t, file), ctx: ctx, answers: &answers{}, deadlines: &deadlines{}, cluster: name,
		s3:  s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }),
		ecs: awsecs.NewFromConfig(cfg), cfn: awscfn.NewFromConfig(cfg)}
	if _, err := d.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("artifacts")}); err != nil && !strings.Contains(err.Error(), "BucketAlready") {
		require.NoError(t, err)
	}
	table := name + "-table"
	_, err := dynamodb.NewFromConfig(cfg).CreateTable(ctx, dynamo.Schema(table))
	require.NoError(t, err)
	_, err = d.ecs.CreateCluster(ctx, &awsecs.CreateClusterInput{ClusterName: aws.String(name)})
	require.NoError(t, err)
	td, err := d.ecs.RegisterTaskDefinition(ctx, &awsecs.RegisterTaskDefinitionInput{Family: aws.String(name),
		ContainerDefinitions: []ecstypes.ContainerDefinition{{Name: aws.String("app"), Image: aws.String("r/api:first"), Memory: aws.Int32(128)}}})
	require.NoError(t, err)
	_, err = d.ecs.CreateService(ctx, &awsecs.CreateServiceInput{Cluster: aws.String(name), ServiceName: aws.String("api"),
		TaskDefinition: td.TaskDefinition.TaskDefinitionArn, DesiredCount: aws.Int32(1)})
	require.NoError(t, err)
	cd := awscd.NewFromConfig(cfg)
	_, err = cd.CreateApplication(ctx, &awscd.CreateApplicationInput{ApplicationName: aws.String(name + "-app"), ComputePlatform: cdtypes.ComputePlatformEcs})
	require.NoError(t, err)
	_, err = cd.CreateDeploymentGroup(ctx, &awscd.CreateDeploymentGroupInput{ApplicationName: aws.String(name + "-app"), DeploymentGroupName: aws.String("blue-green"),
		ServiceRoleArn: aws.String("arn:aws:iam::123456789012:role/codedeploy-ecs"), DeploymentConfigName: aws.String("CodeDeployDefault.ECSAllAtOnce"),
		DeploymentStyle: &cdtypes.DeploymentStyle{DeploymentType: cdtypes.DeploymentTypeBlueGreen, DeploymentOption: cdtypes.DeploymentOptionWithTrafficControl},
		EcsServices:     []cdtypes.ECSService{{ClusterName: aws.String(name), ServiceName: aws.String("api")}}})
	require.NoError(t, err)

	db := dynamo.New(dynamodb.NewFromConfig(cfg), table)
	d.wait = waitstep.New(db, d.answers, d.deadlines, noBus{}, waitstep.Config{APIURL: "https://abc123.execute-api.us-east-1.amazonaws.com", Bus: "stepline",
		ScheduleGroup: "stepline", SchedulerRoleARN: "arn:aws:iam::123456789012:role/stepline-scheduler",
		StateMachineARN: "arn:aws:states:us-east-1:123456789012:stateMachine:stepline-pipeline"},
		waitstep.WithDeploys(waitstep.Deploys{
			Providers: map[string]deploy.Provider{
				deployecs.Name: deployecs.New(d.ecs, d.ecs), codedeploy.Name: codedeploy.New(cd, d.ecs),
				cloudformation.Name: cloudformation.New(d.cfn, cloudformation.WithChangeSetWait(time.Minute, 100*time.Millisecond)), deploys3.Name: deploys3.New(d.s3),
			},
			Artifact: func(loc deploy.Location) deploy.Artifact { return s3artifact.New(d.s3, loc) },
			Waits:    db, Tasks: d.answers,
		}))
	d.ecsEvent = func(string, bool) string { return "completed" }
	return d
}

// handlers binds the real Wait function and a build that writes its output artifact to S3
// (an image tagged with the run, and the stack's and CodeDeploy's files) as CodeBuild would.
func (d *deployWorld) handlers() map[string]asltest.HandlerFunc {
	hs := d.world.handlers()
	build := func(in json.RawMessage) (any, error) {
		var req struct {
			Env []struct{ Name, Value string } `json:"EnvironmentVariablesOverride"`
		}
		require.NoError(d.t, json.Unmarshal(in, &req))
		run := ""
		for _, e := range req.Env {
			if e.Name == "STEPLINE_RUN" {
				run = e.Value
			}
		}
		require.NotEmpty(d.t, run)
		d.put(run, map[string]string{
			"imagedefinitions.json": `[{"name":"app","imageUri":"r/api:` + run + `"}]`,
			"imageDetail.json":      `{"ImageURI":"r/api:` + run + `"}`,
			"packaged.yml":          "Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n    Properties: {QueueName: " + d.cluster + "-queue}\n",
			"appspec.yaml":          read(d.t, "../deploy/codedeploy/testdata/appspec.yaml"),
			"taskdef.json":          read(d.t, "../deploy/codedeploy/testdata/taskdef.json"),
		})
		return map[string]any{"Build": map[string]any{"Id": "stepline-build:" + run, "BuildStatus": "SUCCEEDED"}}, nil
	}
	hs["CodeBuild"], hs["MapCodeBuild"] = build, build
	hs["Wait"], hs["MapWait"] = d.waitState, d.waitState
	return hs
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

// put writes the build's output artifact bin where advance.OutputLocation says it is.
func (d *deployWorld) put(run string, files map[string]string) { d.putArtifact(run, "bin", files) }

// putArtifact writes the output artifact name of run's build.
func (d *deployWorld) putArtifact(run, name string, files map[string]string) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		w, err := zw.Create(name)
		require.NoError(d.t, err)
		_, err = w.Write([]byte(body))
		require.NoError(d.t, err)
	}
	require.NoError(d.t, zw.Close())
	_, err := d.s3.PutObject(d.ctx, &s3.PutObjectInput{Bucket: aws.String("artifacts"), Key: aws.String("runs/" + run + "/" + name + ".zip"), Body: bytes.NewReader(buf.Bytes())})
	require.NoError(d.t, err)
}

// waitState is the Wait state (lambda:invoke.waitForTaskToken): the wait function gets the
// Payload and returns; the state's result is what the token is answered with later. The
// approval is approved at once; a deploy's finishing event is delivered as the test chose, or
// its deadline's schedule fires.
func (d *deployWorld) waitState(in json.RawMessage) (any, error) {
	var req struct {
		Payload waitstep.Input `json:"Payload"`
	}
	require.NoError(d.t, json.Unmarshal(in, &req))
	fn := lambdacontext.NewContext(d.ctx, &lambdacontext.LambdaContext{AwsRequestID: "req", InvokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:stepline-wait"})
	out, err := d.wait.Handle(fn, req.Payload)
	var failed *waitstep.ActionFailed
	if errors.As(err, &failed) {
		return nil, asltest.NamedError{Name: statemachine.ErrActionFailed, Msg: failed.Msg}
	}
	require.NoError(d.t, err)
	t := req.Payload.Task.Task
	token := req.Payload.Token
	key := strings.SplitN(out.Key, ":", 2)
	switch {
	case t.Provider == engine.ProviderApproval:
		_, err = d.answers.SendTaskSuccess(d.ctx, &sfn.SendTaskSuccessInput{TaskToken: &token, Output: aws.String("{}")})
		require.NoError(d.t, err)
	case t.Provider == "ecs":
		switch d.ecsEvent(t.Run, t.Rollback) {
		case "completed":
			d.deliver("ecs/deployment-completed.json", map[string]string{"deploymentId": key[1]})
		case "failed":
			d.deliver("ecs/deployment-failed.json", map[string]string{"deploymentId": key[1]})
		default:
			// No event: the deadline's schedule fires, as Scheduler would at the timeout.
			var expire waitstep.Input
			require.NoError(d.t, json.Unmarshal([]byte(d.deadlines.last()), &expire))
			_, err := d.wait.Handle(d.ctx, expire)
			require.NoError(d.t, err)
		}
	case t.Provider == "codedeploy":
		d.deliver("codedeploy/deployment-success.json", map[string]string{"deploymentId": key[1], "application": d.cluster + "-app", "deploymentGroup": "blue-green"})
	case t.Provider == "cloudformation":
		stack, tok, _ := strings.Cut(key[1], "#")
		d.deliver(d.stackEvent(stack), map[string]string{"stack-id": stack, "client-request-token": tok})
	}
	select {
	case a := <-d.answers.ch(token):
		if a.err != "" {
			return nil, asltest.NamedError{Name: a.err, Msg: a.cause}
		}
		return json.RawMessage(a.output), nil
	case <-time.After(20 * time.Second):
		return nil, asltest.NamedError{Name: "States.Timeout", Msg: "nobody answered the wait's token"}
	}
}

// stackEvent is the sample "CloudFormation Stack Status Change" event of the status the stack
// (moto finishes at once) has reached: its creation, update or deletion.
func (d *deployWorld) stackEvent(id string) string {
	out, err := d.cfn.DescribeStacks(d.ctx, &awscfn.DescribeStacksInput{StackName: aws.String(id)})
	require.NoError(d.t, err)
	sample := map[string]string{"CREATE_COMPLETE": "create-complete.json", "UPDATE_COMPLETE": "update-complete.json",
		"DELETE_COMPLETE": "delete-complete.json"}[string(out.Stacks[0].StackStatus)]
	require.NotEmpty(d.t, sample, "stack %s is %s", id, out.Stacks[0].StackStatus)
	return "cloudformation/" + sample
}

// deliver sends a sample event, its detail fields set, to the wait function as the stack's
// rule on the default bus does.
func (d *deployWorld) deliver(sample string, fields map[string]string) {
	raw := read(d.t, "../../events/"+sample)
	var in waitstep.Input
	require.NoError(d.t, json.Unmarshal([]byte(raw), &in))
	var detail map[string]any
	require.NoError(d.t, json.Unmarshal(in.Detail, &detail))
	for k, v := range fields {
		detail[k] = v
	}
	in.Detail, _ = json.Marshal(detail)
	_, err := d.wait.Handle(d.ctx, in)
	require.NoError(d.t, err)
}

// image is the image the ECS service runs now.
func (d *deployWorld) image() string {
	svc, err := d.ecs.DescribeServices(d.ctx, &awsecs.DescribeServicesInput{Cluster: aws.String(d.cluster), Services: []string{"api"}})
	require.NoError(d.t, err)
	td, err := d.ecs.DescribeTaskDefinition(d.ctx, &awsecs.DescribeTaskDefinitionInput{TaskDefinition: svc.Services[0].TaskDefinition})
	require.NoError(d.t, err)
	return aws.ToString(td.TaskDefinition.ContainerDefinitions[0].Image)
}

func TestABuildIsRolledOutToECSApprovedAndItsStackDeployed(t *testing.T) {
	d := newDeployWorld(t, deployPipeline, "acc-happy")
	ex := asltest.Interpret(t, d.start("acc-happy-1", 1), d.handlers())
	require.Empty(t, ex.Error, ex.Cause)

	rec, err := d.db.GetRun(d.ctx, "acc-happy-1")
	require.NoError(t, err)
	assert.Equal(t, engine.Succeeded, rec.State.Status, rec.State.Message)
	assert.Equal(t, "r/api:acc-happy-1", d.image(), "the service runs the run's image")
	st, err := d.cfn.DescribeStacks(d.ctx, &awscfn.DescribeStacksInput{StackName: aws.String("acc-happy-stack")})
	require.NoError(t, err)
	assert.Equal(t, "CREATE_COMPLETE", string(st.Stacks[0].StackStatus))
	assert.Equal(t, "pipeline:SUCCEEDED", last(d.events.all))
}

func TestAFailedECSDeploymentRollsBackToThePreviousRunsImage(t *testing.T) {
	d := newDeployWorld(t, deployPipeline, "acc-rollback")
	ex := asltest.Interpret(t, d.start("acc-rollback-1", 1), d.handlers())
	require.Empty(t, ex.Error, ex.Cause)
	require.Equal(t, "r/api:acc-rollback-1", d.image())

	// The second run's deployment fails (the circuit breaker); its rollback completes.
	d.ecsEvent = func(run string, rollback bool) string {
		if run == "acc-rollback-2" && !rollback {
			return "failed"
		}
		return "completed"
	}
	ex = asltest.Interpret(t, d.start("acc-rollback-2", 2), d.handlers())
	assert.Equal(t, "PipelineFailed", ex.Error, ex.Cause)
	assert.Equal(t, "r/api:acc-rollback-1", d.image(), "the service runs the previous run's image again")
	rec, err := d.db.GetRun(d.ctx, "acc-rollback-2")
	require.NoError(t, err)
	assert.Equal(t, engine.Failed, rec.State.Status)
	staging := rec.State.Stages[2] // Source, Build, Staging
	assert.True(t, staging.RollingBack)
	assert.Contains(t, staging.Message, "ECS deployment circuit breaker")
	assert.Contains(t, staging.Message, "rolling back to the artifacts of run acc-rollback-1", "the run says what it rolled back to")
}

func TestACodeDeployBlueGreenDeploymentSucceeds(t *testing.T) {
	d := newDeployWorld(t, blueGreenPipeline, "acc-bluegreen")
	ex := asltest.Interpret(t, d.start("acc-bluegreen-1", 1), d.handlers())
	require.Empty(t, ex.Error, ex.Cause)
	rec, err := d.db.GetRun(d.ctx, "acc-bluegreen-1")
	require.NoError(t, err)
	assert.Equal(t, engine.Succeeded, rec.State.Status, rec.State.Message)
}

func TestADeployWhoseEventNeverArrivesTimesOutNamingWhatItWaitedFor(t *testing.T) {
	d := newDeployWorld(t, deployPipeline, "acc-timeout")
	d.ecsEvent = func(string, bool) string { return "" }
	ex := asltest.Interpret(t, d.start("acc-timeout-1", 1), d.handlers())
	assert.Equal(t, "PipelineFailed", ex.Error, ex.Cause)
	rec, err := d.db.GetRun(d.ctx, "acc-timeout-1")
	require.NoError(t, err)
	assert.Equal(t, engine.Failed, rec.State.Status)
	msg := rec.State.Stages[2].Actions[0].Message
	assert.Contains(t, msg, statemachine.ErrActionTimedOut)
	assert.Contains(t, msg, "waited for ECS deployment ecs-svc/")
	assert.Contains(t, msg, "of service api (cluster acc-timeout")
}
