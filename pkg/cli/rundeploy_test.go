package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/stepline/stepline/pkg/pipeline"
)

// ecsService creates cluster and service on moto, running a task definition whose one
// container is named container, and returns the client and the first revision's ARN. moto
// reports a deployment with desired tasks as IN_PROGRESS for ever, one without as COMPLETED.
func ecsService(t *testing.T, cfg aws.Config, cluster, service, container string, desired int32) (*awsecs.Client, string) {
	t.Helper()
	ctx := context.Background()
	c := awsecs.NewFromConfig(cfg)
	_, err := c.CreateCluster(ctx, &awsecs.CreateClusterInput{ClusterName: aws.String(cluster)})
	require.NoError(t, err)
	td, err := c.RegisterTaskDefinition(ctx, &awsecs.RegisterTaskDefinitionInput{Family: aws.String("cli-" + cluster),
		ContainerDefinitions: []ecstypes.ContainerDefinition{{Name: aws.String(container), Image: aws.String("old"), Memory: aws.Int32(128)}}})
	require.NoError(t, err)
	arn := aws.ToString(td.TaskDefinition.TaskDefinitionArn)
	_, err = c.CreateService(ctx, &awsecs.CreateServiceInput{Cluster: aws.String(cluster), ServiceName: aws.String(service),
		TaskDefinition: aws.String(arn), DesiredCount: aws.Int32(desired)})
	require.NoError(t, err)
	return c, arn
}

// exampleBuild returns a buildspec that writes exactly what examples/ecs-service's build
// writes (its own post_build printf lines, with IMAGE_URI set as its earlier phases set it),
// since no Docker engine runs here, and the example's Staging action as it compiles.
func exampleBuild(t *testing.T, image string) (buildspec string, staging map[string]any) {
	t.Helper()
	raw, err := os.ReadFile("../../examples/ecs-service/buildspec.yml")
	require.NoError(t, err)
	var spec struct {
		Phases map[string]struct{ Commands []string } `yaml:"phases"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &spec))
	var b strings.Builder
	fmt.Fprintf(&b, "version: 0.2\nphases:\n  build:\n    commands:\n      - 'export IMAGE_URI=%s'\n", image)
	for _, c := range spec.Phases["post_build"].Commands {
		if strings.HasPrefix(c, "printf ") {
			q, _ := yaml.Marshal(c)
			fmt.Fprintf(&b, "      - %s", q)
		}
	}
	b.WriteString("artifacts:\n  files:\n    - imagedefinitions.json\n    - imageDetail.json\n")

	pf, err := os.ReadFile("../../examples/ecs-service/.stepline.yml")
	require.NoError(t, err)
	file, err := pipeline.Parse(".stepline.yml", pf)
	require.NoError(t, err)
	for _, st := range file.Pipelines[0].Definition().Stages {
		if st.Name == "Staging" {
			return b.String(), st.Actions[0].Config
		}
	}
	t.Fatal("examples/ecs-service has no Staging stage")
	return "", nil
}

// The acceptance test of `stepline run --aws-deploy`: examples/ecs-service's build output
// (imagedefinitions.json) is deployed by its Staging action to an ECS service on moto, and
// the service ends on a new task definition revision carrying the built image; the attempt's
// log says what it waited for.
func TestRunAWSDeployMovesAnECSServiceToTheBuiltImage(t *testing.T) {
	m := onMoto(t)
	image := "123456789012.dkr.ecr.us-east-1.amazonaws.com/ecs-service:abc1234"
	buildspec, staging := exampleBuild(t, image)
	cluster, service := staging["cluster"].(string)+"-cli", staging["service"].(string)
	c, first := ecsService(t, m, cluster, service, "ecs-service", 0)

	r := newRepo(t, map[string]string{
		".stepline.yml": fmt.Sprintf(`version: 1
pipelines:
  - name: ecs-service
    stages:
      - name: Build
        actions:
          - {name: Image, provider: codebuild, inputs: [source], outputs: [image]}
      - name: Staging
        actions:
          - {name: Service, provider: ecs, cluster: %s, service: %s, image_definitions: %q, strategy: %s, timeout: 30m}
`, cluster, service, staging["image_definitions"], staging["strategy"]),
		"buildspec.yml": buildspec,
	})
	res := r.stepline("", "run", "--plain", "--follow", "--aws-deploy", "--poll", "100ms")
	require.Equal(t, ExitOK, res.code, "stdout:\n%s\nstderr:\n%s", res.out, res.err)
	assert.Contains(t, res.out, "SUCCEEDED pipeline ecs-service")
	assert.Regexp(t, `Staging/Service \| \[stepline\] waiting for ECS deployment ecs-svc/\S+ of service `+service, res.out)
	assert.Contains(t, res.out, "Staging/Service | [stepline] ECS deployment ecs-svc/")

	svc, err := c.DescribeServices(context.Background(), &awsecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: []string{service}})
	require.NoError(t, err)
	now := aws.ToString(svc.Services[0].TaskDefinition)
	assert.NotEqual(t, first, now)
	assert.True(t, strings.HasSuffix(now, ":2"), "a new revision: %s", now)
	td, err := c.DescribeTaskDefinition(context.Background(), &awsecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(now)})
	require.NoError(t, err)
	assert.Equal(t, image, aws.ToString(td.TaskDefinition.ContainerDefinitions[0].Image))
}

// A deploy that never ends (moto keeps a service with running tasks IN_PROGRESS) prints its
// progress while it waits and fails at the action's timeout with a message naming what it
// waited for.
func TestRunAWSDeployTimesOutNamingWhatItWaitedFor(t *testing.T) {
	m := onMoto(t)
	ecsService(t, m, "cli-timeout", "api", "app", 1)
	r := newRepo(t, map[string]string{".stepline.yml": `version: 1
pipelines:
  - name: svc
    stages:
      - name: Deploy
        actions:
          - {name: Service, provider: ecs, cluster: cli-timeout, service: api, image_definitions: "source::imagedefinitions.json", timeout: 3s}
`, "imagedefinitions.json": `[{"name":"app","imageUri":"r/app:2"}]`})
	res := r.stepline("", "run", "--plain", "--follow", "--aws-deploy", "--poll", "500ms")
	require.Equal(t, ExitFailed, res.code, "stdout:\n%s\nstderr:\n%s", res.out, res.err)
	assert.Regexp(t, `Deploy/Service \| \[stepline\] waiting for ECS deployment ecs-svc/\S+ of service api .* … \(\d+s\)`, res.out)
	assert.Regexp(t, `timed out after 3s waiting for ECS deployment ecs-svc/\S+ of service api \(cluster cli-timeout`, res.out)
}

// Ctrl-C while a deploy is awaited ends the run as canceled at once, saying what it stopped
// waiting for.
func TestRunAWSDeployIsCanceledCleanly(t *testing.T) {
	m := onMoto(t)
	ecsService(t, m, "cli-cancel", "api", "app", 1)
	r := newRepo(t, map[string]string{".stepline.yml": `version: 1
pipelines:
  - name: svc
    stages:
      - name: Deploy
        actions:
          - {name: Service, provider: ecs, cluster: cli-cancel, service: api, image_definitions: "source::imagedefinitions.json", timeout: 10m}
`, "imagedefinitions.json": `[{"name":"app","imageUri":"r/app:2"}]`})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan int)
	go func() {
		done <- Main(ctx, []string{"run", "--plain", "--aws-deploy", "--poll", "200ms", "--state-dir", r.state(), "--repo", r.dir},
			IO{In: strings.NewReader(""), Out: &out, Err: &errOut})
	}()
	log := filepath.Join(r.state(), "runs", "*", "logs", "Deploy.Service.1.log")
	deadline := time.Now().Add(30 * time.Second)
	for {
		matches, _ := filepath.Glob(log)
		if len(matches) == 1 && strings.Contains(readFile(t, matches[0]), "waiting for ECS deployment") {
			break
		}
		require.True(t, time.Now().Before(deadline), "the deploy never started waiting: %s%s", out.String(), errOut.String())
		time.Sleep(50 * time.Millisecond)
	}
	start := time.Now()
	cancel()
	select {
	case code := <-done:
		assert.Equal(t, ExitCanceled, code, out.String()+errOut.String())
		assert.Less(t, time.Since(start), 5*time.Second)
	case <-time.After(10 * time.Second):
		t.Fatal("the run did not stop after the cancel")
	}
	matches, _ := filepath.Glob(log)
	require.Len(t, matches, 1)
	assert.Contains(t, readFile(t, matches[0]), "canceled while waiting for ECS deployment")
}

// A CloudFormation deploy through the same flag: a stack is created from the template in
// the commit; and a stack's outputs become the action's variables, which a later action
// reads, also when the change set was empty ("no changes"). moto fills outputs only for
// stacks made by CreateStack, so the second stack is made that way first, from the same
// template and parameters.
func TestRunAWSDeployDeploysAStackAndExportsItsOutputs(t *testing.T) {
	m := onMoto(t)
	ctx := context.Background()
	cf := awscfn.NewFromConfig(m)
	template := `AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  QueueName: {Type: String}
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Ref QueueName
Outputs:
  QueueUrl: {Value: !Ref Queue}
`
	marks := t.TempDir()
	r := newRepo(t, map[string]string{".stepline.yml": fmt.Sprintf(`version: 1
pipelines:
  - name: create
    stages:
      - name: Deploy
        actions:
          - {name: Stack, provider: cloudformation, stack: cli-new, template: "source::template.yml", parameters: {QueueName: cli-new-queue}}
  - name: outputs
    stages:
      - name: Deploy
        actions:
          - {name: Stack, provider: cloudformation, stack: cli-outputs, template: "source::template.yml", namespace: stack,
             parameters: {QueueName: cli-outputs-queue}}
      - name: Check
        actions:
          - {name: Read, provider: codebuild, inputs: [source], env: {URL: "#{stack.QueueUrl}", OUT: %q}}
`, filepath.Join(marks, "url")),
		"template.yml":  template,
		"buildspec.yml": "version: 0.2\nphases:\n  build:\n    commands:\n      - echo \"$URL\" > \"$OUT\"\n",
	})
	res := r.stepline("", "run", "-p", "create", "--plain", "--aws-deploy", "--poll", "100ms")
	require.Equal(t, ExitOK, res.code, "stdout:\n%s\nstderr:\n%s", res.out, res.err)
	st, err := cf.DescribeStacks(ctx, &awscfn.DescribeStacksInput{StackName: aws.String("cli-new")})
	require.NoError(t, err)
	assert.Equal(t, "CREATE_COMPLETE", string(st.Stacks[0].StackStatus))

	_, err = cf.CreateStack(ctx, &awscfn.CreateStackInput{StackName: aws.String("cli-outputs"), TemplateBody: aws.String(template),
		Parameters: []cftypes.Parameter{{ParameterKey: aws.String("QueueName"), ParameterValue: aws.String("cli-outputs-queue")}}})
	require.NoError(t, err)
	res = r.stepline("", "run", "-p", "outputs", "--plain", "--follow", "--aws-deploy", "--poll", "100ms")
	require.Equal(t, ExitOK, res.code, "stdout:\n%s\nstderr:\n%s", res.out, res.err)
	assert.Contains(t, res.out, "no changes: stack cli-outputs is up to date")
	assert.Equal(t, "https://sqs.us-east-1.amazonaws.com/123456789012/cli-outputs-queue\n", readFile(t, filepath.Join(marks, "url")),
		"the stack's output reached the next action")
}

// An S3 deploy through the same flag unpacks the build's artifact into the bucket prefix with
// content types.
func TestRunAWSDeployUnpacksAnArtifactIntoABucket(t *testing.T) {
	m := onMoto(t)
	s3c := s3.NewFromConfig(m, func(o *s3.Options) { o.UsePathStyle = true })
	_, err := s3c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("cli-site")})
	require.NoError(t, err)
	r := newRepo(t, map[string]string{".stepline.yml": `version: 1
pipelines:
  - name: site
    stages:
      - name: Build
        actions:
          - {name: Pages, provider: codebuild, inputs: [source], outputs: [site]}
      - name: Publish
        actions:
          - {name: Bucket, provider: s3, bucket: cli-site, key: "www/#{source.short_commit_id}", inputs: [site]}
`, "buildspec.yml": "version: 0.2\nphases:\n  build:\n    commands:\n      - mkdir -p out/css && echo '<h1>hi</h1>' > out/index.html && echo 'h1{}' > out/css/site.css\n" +
		"artifacts:\n  base-directory: out\n  files:\n    - '**/*'\n"})
	res := r.stepline("", "run", "--plain", "--aws-deploy", "--poll", "100ms")
	require.Equal(t, ExitOK, res.code, "stdout:\n%s\nstderr:\n%s", res.out, res.err)
	short := r.git("rev-parse", "--short=7", "HEAD")
	for key, ctype := range map[string]string{"index.html": "text/html; charset=utf-8", "css/site.css": "text/css; charset=utf-8"} {
		head, err := s3c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String("cli-site"), Key: aws.String("www/" + short + "/" + key)})
		require.NoError(t, err, key)
		assert.Equal(t, ctype, aws.ToString(head.ContentType), key)
	}
}

// Without the flag, a pipeline that deploys to AWS is refused before anything runs, naming
// its deploy actions and the flag; one only AWS runs is refused naming its action.
func TestRunRefusesAWSDeploysWithoutTheFlag(t *testing.T) {
	t.Parallel()
	r := newRepo(t, map[string]string{".stepline.yml": `version: 1
pipelines:
  - name: svc
    stages:
      - name: Deploy
        actions:
          - {name: Service, provider: ecs, cluster: main, service: api, image_definitions: "source::imagedefinitions.json"}
          - {name: Stack, provider: cloudformation, stack: api, template: "source::t.yml"}
  - name: fn
    stages:
      - name: Notify
        actions:
          - {name: Hook, provider: lambda, function: announce}
`})
	res := r.stepline("", "run", "-p", "svc")
	assert.Equal(t, ExitUsage, res.code)
	assert.Contains(t, res.err, "pipeline svc deploys to AWS in Deploy/Service (ecs), Deploy/Stack (cloudformation): run it with --aws-deploy")
	_, err := os.Stat(filepath.Join(r.state(), "stepline.db"))
	assert.ErrorIs(t, err, os.ErrNotExist, "nothing ran")

	res = r.stepline("", "run", "-p", "fn", "--aws-deploy")
	assert.Equal(t, ExitUsage, res.code)
	assert.Contains(t, res.err, "pipeline fn cannot run with stepline run: Notify/Hook (lambda) run only on AWS")
}

// A template larger than CloudFormation takes inline goes through the --bucket bucket, under
// stepline/templates/, and the stack is made from it.
func TestRunAWSDeployUploadsALargeTemplateToTheBucket(t *testing.T) {
	m := onMoto(t)
	ctx := context.Background()
	s3c := s3.NewFromConfig(m, func(o *s3.Options) { o.UsePathStyle = true })
	_, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("cli-templates")})
	require.NoError(t, err)
	template := `AWSTemplateFormatVersion: "2010-09-09"
Metadata:
  Padding: "` + strings.Repeat("x", 60_000) + `"
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: cli-large-queue
`
	r := newRepo(t, map[string]string{".stepline.yml": `version: 1
pipelines:
  - name: large
    stages:
      - name: Deploy
        actions:
          - {name: Stack, provider: cloudformation, stack: cli-large, template: "source::template.yml"}
`, "template.yml": template})
	res := r.stepline("", "run", "--plain", "--aws-deploy", "--poll", "100ms")
	assert.Equal(t, ExitFailed, res.code, "without --bucket")
	assert.Contains(t, res.out, "no bucket is set up to upload it to")

	res = r.stepline("", "run", "--plain", "--aws-deploy", "--bucket", "cli-templates", "--poll", "100ms")
	require.Equal(t, ExitOK, res.code, "stdout:\n%s\nstderr:\n%s", res.out, res.err)
	list, err := s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("cli-templates"), Prefix: aws.String("stepline/templates/")})
	require.NoError(t, err)
	require.Len(t, list.Contents, 1)
	st, err := awscfn.NewFromConfig(m).DescribeStacks(ctx, &awscfn.DescribeStacksInput{StackName: aws.String("cli-large")})
	require.NoError(t, err)
	assert.Equal(t, "CREATE_COMPLETE", string(st.Stacks[0].StackStatus))
}

// The flag is in `stepline run --help`, with what it does.
func TestRunHelpShowsTheAWSDeployFlag(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	code := Main(context.Background(), []string{"run", "--help"}, IO{In: strings.NewReader(""), Out: &out, Err: &out})
	require.Equal(t, ExitOK, code)
	assert.Contains(t, out.String(), "--aws-deploy ")
	assert.Contains(t, out.String(), "perform ecs, codedeploy, cloudformation and s3 actions against your AWS account")
}
