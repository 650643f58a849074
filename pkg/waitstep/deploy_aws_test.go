package waitstep

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	awscd "github.com/aws/aws-sdk-go-v2/service/codedeploy"
	cdtypes "github.com/aws/aws-sdk-go-v2/service/codedeploy/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/awstest"
	"github.com/stepline/stepline/pkg/deploy"
	"github.com/stepline/stepline/pkg/deploy/cloudformation"
	"github.com/stepline/stepline/pkg/deploy/codedeploy"
	"github.com/stepline/stepline/pkg/deploy/deploytest"
	deployecs "github.com/stepline/stepline/pkg/deploy/ecs"
	deploys3 "github.com/stepline/stepline/pkg/deploy/s3"
	"github.com/stepline/stepline/pkg/deploy/s3artifact"
	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/iamcheck"
	"github.com/stepline/stepline/pkg/store/dynamo"
)

// The deploy targets the recorded calls name: infra's IAM test deploys both templates with
// these as their parameters (props), so the contract proves the role the stack grants them.
const (
	recCluster = "stepline-rec"
	recApp     = "stepline-rec-app"
	recStack   = "stepline-rec-stack"
	recSite    = "stepline-rec-site"
	recRole    = "arn:aws:iam::123456789012:role/stepline-rec-deploy"
)

// TestEveryDeployProviderRunsWithTheWaitFunctionsClients starts a deploy of each provider on
// moto through the handler, with every client built from the recorder's configuration as the
// wait function builds them, and delivers each finishing event: the calls the providers make
// (iamcheck) are what infra's test checks against WaitFunctionRole in both templates.
func TestEveryDeployProviderRunsWithTheWaitFunctionsClients(t *testing.T) {
	ctx := context.Background()
	moto := awstest.StartMoto(t)
	suffix := time.Now().Format("150405.000000")
	table, bucket := "deploys-"+suffix, "stepline-rec-artifacts"
	setup := moto.Config()
	_, err := dynamodb.NewFromConfig(setup).CreateTable(ctx, dynamo.Schema(table))
	require.NoError(t, err)
	s3setup := s3.NewFromConfig(setup, func(o *s3.Options) { o.UsePathStyle = true })
	for _, b := range []string{bucket, recSite} {
		_, err = s3setup.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)})
		require.NoError(t, err)
	}
	put := func(run, name string, files map[string]string) engine.Artifact {
		key := "runs/" + run + "/" + name + ".zip"
		_, err := s3setup.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(deploytest.Zip(t, files))})
		require.NoError(t, err)
		return engine.Artifact{Name: name, Location: "s3://" + bucket + "/" + key}
	}
	ecsSetup := awsecs.NewFromConfig(setup)
	_, err = ecsSetup.CreateCluster(ctx, &awsecs.CreateClusterInput{ClusterName: aws.String(recCluster)})
	require.NoError(t, err)
	td, err := ecsSetup.RegisterTaskDefinition(ctx, &awsecs.RegisterTaskDefinitionInput{Family: aws.String(recCluster),
		ExecutionRoleArn: aws.String(recRole), TaskRoleArn: aws.String(recRole),
		ContainerDefinitions: []ecstypes.ContainerDefinition{{Name: aws.String("app"), Image: aws.String("r/app:old"), Memory: aws.Int32(128)}},
		Tags:                 []ecstypes.Tag{{Key: aws.String("team"), Value: aws.String("api")}}})
	require.NoError(t, err)
	_, err = ecsSetup.CreateService(ctx, &awsecs.CreateServiceInput{Cluster: aws.String(recCluster), ServiceName: aws.String("api"),
		TaskDefinition: td.TaskDefinition.TaskDefinitionArn, DesiredCount: aws.Int32(1)})
	require.NoError(t, err)
	cdSetup := awscd.NewFromConfig(setup)
	_, err = cdSetup.CreateApplication(ctx, &awscd.CreateApplicationInput{ApplicationName: aws.String(recApp), ComputePlatform: cdtypes.ComputePlatformEcs})
	require.NoError(t, err)
	_, err = cdSetup.CreateDeploymentGroup(ctx, &awscd.CreateDeploymentGroupInput{ApplicationName: aws.String(recApp), DeploymentGroupName: aws.String("blue-green"),
		ServiceRoleArn: aws.String("arn:aws:iam::123456789012:role/codedeploy-ecs"), DeploymentConfigName: aws.String("CodeDeployDefault.ECSAllAtOnce"),
		DeploymentStyle: &cdtypes.DeploymentStyle{DeploymentType: cdtypes.DeploymentTypeBlueGreen, DeploymentOption: cdtypes.DeploymentOptionWithTrafficControl},
		EcsServices:     []cdtypes.ECSService{{ClusterName: aws.String(recCluster), ServiceName: aws.String("api")}}})
	require.NoError(t, err)

	fn := iamcheck.NewRecorder(t, "wait", map[string]string{"env:STEPLINE_TABLE": table, "env:STEPLINE_BUCKET": bucket,
		"env:STEPLINE_SCHEDULE_GROUP": testConfig.ScheduleGroup, "env:STEPLINE_SCHEDULER_ROLE_ARN": testConfig.SchedulerRoleARN,
		"user:DeployBuckets": recSite}).Config(moto.Config())
	sfnRec := stepFunctions(nil)
	tasks := sfn.NewFromConfig(fn, func(o *sfn.Options) { o.BaseEndpoint = aws.String(serve(t, sfnRec)) })
	sched := scheduler.NewFromConfig(fn, func(o *scheduler.Options) { o.BaseEndpoint = aws.String(serve(t, eventScheduler())) })
	db := dynamo.New(dynamodb.NewFromConfig(fn), table)
	s3c := s3.NewFromConfig(fn, func(o *s3.Options) { o.UsePathStyle = true })
	ecsc := awsecs.NewFromConfig(fn)
	cfn := cloudformation.New(awscfn.NewFromConfig(fn), cloudformation.WithUploader(cloudformation.NewS3Templates(s3c, bucket, "templates/", "us-east-1")))
	h := New(db, tasks, sched, &memBus{}, testConfig, WithDeploys(Deploys{
		Providers: map[string]deploy.Provider{
			deployecs.Name: deployecs.New(ecsc, ecsc), codedeploy.Name: codedeploy.New(awscd.NewFromConfig(fn), ecsc),
			cloudformation.Name: cfn, deploys3.Name: deploys3.New(s3c),
		},
		Artifact: func(loc deploy.Location) deploy.Artifact { return s3artifact.New(s3c, loc) },
		Waits:    db, Tasks: tasks,
	}))
	start := func(provider string, config map[string]any, inputs ...engine.Artifact) Output {
		t.Helper()
		in := deployInput(provider, false, config, inputs...)
		in.Task.Task.Action = provider
		out, err := h.Handle(lambdaCtx(), in)
		require.NoError(t, err, provider)
		return out
	}
	finish := func(path, field, value string) {
		t.Helper()
		_, err := h.Handle(ctx, sampleEvent(t, path, field, value))
		require.NoError(t, err, path)
	}

	out := start("ecs", map[string]any{"cluster": recCluster, "service": "api", "image_definitions": "bin::imagedefinitions.json"},
		put("api-7", "bin", map[string]string{"imagedefinitions.json": `[{"name":"app","imageUri":"r/app:new"}]`}))
	finish("ecs/deployment-completed.json", "deploymentId", strings.TrimPrefix(out.Key, "ecs:"))

	read := func(name string) string {
		b, err := os.ReadFile("../deploy/codedeploy/testdata/" + name)
		require.NoError(t, err)
		return string(b)
	}
	out = start("codedeploy", map[string]any{"application": recApp, "deployment_group": "blue-green",
		"appspec": "src::appspec.yaml", "task_definition": "src::taskdef.json", "image_details": "img::imageDetail.json", "image_placeholder": "IMAGE"},
		put("api-7", "src", map[string]string{"appspec.yaml": read("appspec.yaml"), "taskdef.json": read("taskdef.json")}),
		put("api-7", "img", map[string]string{"imageDetail.json": read("imageDetail.json")}))
	require.NotEmpty(t, out.Key)

	// A template over CloudFormation's inline limit goes through the artifact bucket.
	big := "AWSTemplateFormatVersion: '2010-09-09'\n# " + strings.Repeat("padding ", 7000) + "\nResources:\n  Queue:\n    Type: AWS::SQS::Queue\n    Properties: {QueueName: stepline-rec-queue}\nOutputs:\n  Url: {Value: !Ref Queue}\n"
	out = start("cloudformation", map[string]any{"stack": recStack, "template": "tpl::packaged.yml", "role": recRole},
		put("api-7", "tpl", map[string]string{"packaged.yml": big}))
	stackID, _, _ := strings.Cut(strings.TrimPrefix(out.Key, "cloudformation:"), "#")
	_, tok, _ := strings.Cut(out.Key, "#")
	ev := sampleEvent(t, "cloudformation/create-complete.json", "stack-id", stackID)
	ev.Detail = []byte(strings.Replace(string(ev.Detail), "3f1c2a9d8e7b6a5f4e3d2c1b", tok, 1))
	_, err = h.Handle(ctx, ev)
	require.NoError(t, err)

	out = start("s3", map[string]any{"bucket": recSite, "key": "v1", "delete_removed": true},
		put("api-7", "site", map[string]string{"index.html": "<h1>hi</h1>"}))
	assert.True(t, out.Finished)

	var answered int
	for _, c := range sfnRec.recorded() {
		if c.Target == "AWSStepFunctions.SendTaskSuccess" {
			answered++
		}
	}
	assert.Equal(t, 3, answered, "the ECS and CloudFormation events and the S3 deploy answered their tasks")
}
