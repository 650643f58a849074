package cloudformation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/awstest"
	"github.com/stepline/stepline/pkg/deploy"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// files is an input artifact held in memory: file name → content.
type files map[string]string

func (f files) ReadFile(_ context.Context, name string) ([]byte, error) {
	s, ok := f[name]
	if !ok {
		return nil, fmt.Errorf("%s: %w", name, fs.ErrNotExist)
	}
	return []byte(s), nil
}

func (files) Location() deploy.Location { return deploy.Location{} }

// queueTemplate is a tiny stack: one SQS queue named by a parameter, with outputs; extra pads
// its metadata. Resources come last, so secondQueue can be appended.
func queueTemplate(extra string) string {
	return `AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  QueueName: {Type: String}
  Second: {Type: String, Default: unused}
Metadata:
  Padding: "` + extra + `"
Outputs:
  QueueUrl: {Value: !Ref Queue}
  QueueName: {Value: !GetAtt Queue.QueueName}
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Ref QueueName
`
}

func clients(t *testing.T) (*cloudformation.Client, *sqs.Client, *s3.Client) {
	cfg := awstest.StartMoto(t).Config()
	return cloudformation.NewFromConfig(cfg), sqs.NewFromConfig(cfg), s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
}

func request(stack, queue string, extra map[string]any) deploy.Request {
	cfg := map[string]any{"stack": stack, "template": "bin::packaged.yml", "action": "deploy",
		"parameters": map[string]any{"QueueName": queue}, "capabilities": []any{"CAPABILITY_IAM"}}
	for k, v := range extra {
		cfg[k] = v
	}
	return deploy.Request{Run: "api-7", Stage: "Deploy", Action: "Stack", Config: cfg,
		Inputs: map[string]deploy.Artifact{"bin": files{"packaged.yml": queueTemplate("")}}}
}

// secondQueue adds a queue named by the parameter Second to queueTemplate.
const secondQueue = `  Extra:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Ref Second
`

// ofStack keeps the change sets of one stack (moto lists every stack's).
func ofStack(sets []cftypes.ChangeSetSummary, stackID string) []cftypes.ChangeSetSummary {
	var out []cftypes.ChangeSetSummary
	for _, s := range sets {
		if aws.ToString(s.StackId) == stackID {
			out = append(out, s)
		}
	}
	return out
}

func stackOf(t *testing.T, cf *cloudformation.Client, name string) cftypes.Stack {
	t.Helper()
	out, err := cf.DescribeStacks(context.Background(), &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
	require.NoError(t, err)
	require.Len(t, out.Stacks, 1)
	return out.Stacks[0]
}

func queueExists(t *testing.T, sq *sqs.Client, name string) bool {
	t.Helper()
	_, err := sq.GetQueueUrl(context.Background(), &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
	return err == nil
}

func TestDeployCreatesAStackThenUpdatesIt(t *testing.T) {
	cf, sq, _ := clients(t)
	ctx := context.Background()
	p := New(cf)

	role := "arn:aws:iam::123456789012:role/deployer"
	w, err := p.Start(ctx, request("cfn-create-update", "cfn-create-update-a", map[string]any{"role": role}))
	require.NoError(t, err)
	assert.False(t, w.Done, "executing a change set is awaited")
	st := stackOf(t, cf, "cfn-create-update")
	assert.Equal(t, role, aws.ToString(st.RoleARN), "CloudFormation acts with the action's role")
	assert.Equal(t, aws.ToString(st.StackId), w.Resource)
	assert.True(t, strings.HasPrefix(w.Key, w.Resource+"#"), "the wait is keyed by the stack id and the request token the events name: %s", w.Key)
	assert.Equal(t, Name, w.Provider)
	assert.Contains(t, w.What, "cfn-create-update")
	assert.Equal(t, cftypes.StackStatusCreateComplete, st.StackStatus)
	assert.True(t, queueExists(t, sq, "cfn-create-update-a"), "the template's queue was created")
	out, err := p.Poll(ctx, w)
	require.NoError(t, err)
	assert.True(t, out.Done && out.Succeeded, "%+v", out)

	// The update adds a second queue (moto does not replace a renamed one).
	req := request("cfn-create-update", "cfn-create-update-a", map[string]any{"parameters": map[string]any{"QueueName": "cfn-create-update-a", "Second": "cfn-create-update-b"}})
	req.Inputs["bin"] = files{"packaged.yml": queueTemplate("") + secondQueue}
	w2, err := p.Start(ctx, req)
	require.NoError(t, err)
	assert.False(t, w2.Done)
	assert.Equal(t, w.Resource, w2.Resource, "an update waits on the same stack")
	assert.NotEqual(t, w.Key, w2.Key, "with its own request token: the first deploy's events do not finish it")
	assert.Contains(t, w2.What, "update")
	st = stackOf(t, cf, "cfn-create-update")
	assert.Equal(t, cftypes.StackStatusUpdateComplete, st.StackStatus)
	assert.ElementsMatch(t, []cftypes.Parameter{
		{ParameterKey: aws.String("QueueName"), ParameterValue: aws.String("cfn-create-update-a")},
		{ParameterKey: aws.String("Second"), ParameterValue: aws.String("cfn-create-update-b")},
	}, st.Parameters)
	assert.True(t, queueExists(t, sq, "cfn-create-update-b"), "the updated template reached the stack")
	out, err = p.Poll(ctx, w2)
	require.NoError(t, err)
	assert.Equal(t, deploy.Outcome{Done: true, Succeeded: true, Message: "UPDATE_COMPLETE"}, out)

	sets, err := cf.ListChangeSets(ctx, &cloudformation.ListChangeSetsInput{StackName: aws.String(w.Resource)})
	require.NoError(t, err)
	var kinds []string
	for _, s := range ofStack(sets.Summaries, w.Resource) {
		kinds = append(kinds, string(s.ExecutionStatus))
		assert.True(t, strings.HasPrefix(aws.ToString(s.ChangeSetName), "stepline-"), aws.ToString(s.ChangeSetName))
		cs, err := cf.DescribeChangeSet(ctx, &cloudformation.DescribeChangeSetInput{ChangeSetName: s.ChangeSetId})
		require.NoError(t, err)
		assert.Equal(t, "stepline run api-7, Deploy/Stack", aws.ToString(cs.Description))
	}
	assert.Equal(t, []string{"EXECUTE_COMPLETE", "EXECUTE_COMPLETE"}, kinds)
}

func TestAnEmptyChangeSetSucceedsWithNoChanges(t *testing.T) {
	cf, _, _ := clients(t)
	ctx := context.Background()
	p := New(cf)
	first, err := p.Start(ctx, request("cfn-empty", "cfn-empty", nil))
	require.NoError(t, err)

	w, err := p.Start(ctx, request("cfn-empty", "cfn-empty", nil))
	require.NoError(t, err)
	assert.True(t, w.Done)
	assert.Equal(t, deploy.Outcome{Done: true, Succeeded: true, Message: "no changes: stack cfn-empty is up to date"}, w.Outcome)
	assert.Equal(t, first.Resource, w.Resource)
	out, err := p.Poll(ctx, w)
	require.NoError(t, err)
	assert.Equal(t, w.Outcome, out, "Poll of a finished wait asks nothing")
}

// failingChangeSets answers DescribeChangeSet as CloudFormation answers an empty change set
// that it did create: FAILED, with its reason. (moto refuses an empty one at CreateChangeSet.)
type failingChangeSets struct {
	*cloudformation.Client
	reason string
}

func (f failingChangeSets) DescribeChangeSet(ctx context.Context, in *cloudformation.DescribeChangeSetInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DescribeChangeSetOutput, error) {
	out, err := f.Client.DescribeChangeSet(ctx, in, optFns...)
	if err == nil {
		out.Status, out.StatusReason = cftypes.ChangeSetStatusFailed, aws.String(f.reason)
	}
	return out, err
}

func TestAChangeSetThatFailsAsEmptyIsDeletedAndSucceeds(t *testing.T) {
	cf, sq, _ := clients(t)
	ctx := context.Background()
	created, err := New(cf).Start(ctx, request("cfn-failed-empty", "cfn-failed-empty-a", nil))
	require.NoError(t, err)
	first := created.Resource

	p := New(failingChangeSets{cf, "The submitted information didn't contain changes. Submit different information to create a change set."})
	w, err := p.Start(ctx, request("cfn-failed-empty", "cfn-failed-empty-b", nil))
	require.NoError(t, err)
	assert.True(t, w.Done && w.Outcome.Succeeded, "%+v", w)
	assert.Contains(t, w.Outcome.Message, "no changes")
	sets, err := cf.ListChangeSets(ctx, &cloudformation.ListChangeSetsInput{StackName: aws.String("cfn-failed-empty")})
	require.NoError(t, err)
	assert.Len(t, ofStack(sets.Summaries, first), 1, "only the first, executed change set is left: the empty one was deleted")
	assert.False(t, queueExists(t, sq, "cfn-failed-empty-b"), "the empty change set was not executed")
}

func TestAChangeSetThatFailsForAnotherReasonFailsTheDeploy(t *testing.T) {
	cf, sq, _ := clients(t)
	ctx := context.Background()
	p := New(failingChangeSets{cf, "Template format error: Unresolved resource dependencies [Nope] in the Resources block of the template"})
	w, err := p.Start(ctx, request("cfn-failed", "cfn-failed", nil))
	require.NoError(t, err)
	assert.True(t, w.Done)
	assert.False(t, w.Outcome.Succeeded)
	assert.Contains(t, w.Outcome.Message, "Unresolved resource dependencies")
	assert.False(t, queueExists(t, sq, "cfn-failed"), "a failed change set is not executed")
}

func TestAStackLeftInReviewIsCreatedAgain(t *testing.T) {
	cf, sq, _ := clients(t)
	ctx := context.Background()
	// A first change set that was never executed leaves the stack in REVIEW_IN_PROGRESS.
	_, err := cf.CreateChangeSet(ctx, &cloudformation.CreateChangeSetInput{StackName: aws.String("cfn-review"), ChangeSetName: aws.String("abandoned"),
		ChangeSetType: cftypes.ChangeSetTypeCreate, TemplateBody: aws.String(queueTemplate("")),
		Parameters: []cftypes.Parameter{{ParameterKey: aws.String("QueueName"), ParameterValue: aws.String("cfn-review-old")}}})
	require.NoError(t, err)
	require.Equal(t, cftypes.StackStatusReviewInProgress, stackOf(t, cf, "cfn-review").StackStatus)

	w, err := New(cf).Start(ctx, request("cfn-review", "cfn-review", nil))
	require.NoError(t, err)
	assert.False(t, w.Done)
	assert.Contains(t, w.What, "create")
	// moto makes a second stack of the same name where CloudFormation reuses the one in
	// review, so the stack is read by the id the wait names.
	assert.Equal(t, cftypes.StackStatusCreateComplete, stackOf(t, cf, w.Resource).StackStatus)
	assert.True(t, queueExists(t, sq, "cfn-review"))
}

func TestALargeTemplateIsUploadedAndPassedByURL(t *testing.T) {
	cf, sq, s3c := clients(t)
	ctx := context.Background()
	_, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("cfn-templates")})
	require.NoError(t, err)
	big := queueTemplate(strings.Repeat("x", MaxTemplateBody))
	req := request("cfn-large", "cfn-large", nil)
	req.Inputs["bin"] = files{"packaged.yml": big}

	_, err = New(cf).Start(ctx, req)
	require.ErrorIs(t, err, ErrConfig, "without an uploader a large template cannot deploy")
	assert.Contains(t, err.Error(), "more than the 51200")

	p := New(cf, WithUploader(NewS3Templates(s3c, "cfn-templates", "templates/", awstest.Region)))
	w, err := p.Start(ctx, req)
	require.NoError(t, err)
	assert.False(t, w.Done)
	assert.True(t, queueExists(t, sq, "cfn-large"), "CloudFormation read the template from its URL")
	objs, err := s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("cfn-templates"), Prefix: aws.String("templates/stepline-")})
	require.NoError(t, err)
	require.Len(t, objs.Contents, 1)
	assert.Equal(t, int64(len(big)), aws.ToInt64(objs.Contents[0].Size))
	tpl, err := cf.GetTemplate(ctx, &cloudformation.GetTemplateInput{StackName: aws.String("cfn-large")})
	require.NoError(t, err)
	assert.Contains(t, aws.ToString(tpl.TemplateBody), strings.Repeat("x", 100))
}

func TestDeleteRemovesTheStack(t *testing.T) {
	cf, sq, _ := clients(t)
	ctx := context.Background()
	p := New(cf)
	created, err := p.Start(ctx, request("cfn-delete", "cfn-delete", nil))
	require.NoError(t, err)

	w, err := p.Start(ctx, deploy.Request{Run: "api-8", Stage: "Teardown", Action: "Stack", Config: map[string]any{"stack": "cfn-delete", "action": "delete"}})
	require.NoError(t, err)
	assert.False(t, w.Done)
	assert.Equal(t, created.Resource, w.Resource)
	assert.NotEqual(t, created.Key, w.Key, "the deletion's own request token")
	assert.Contains(t, w.What, "deleted")
	assert.Equal(t, cftypes.StackStatusDeleteComplete, stackOf(t, cf, created.Resource).StackStatus)
	assert.False(t, queueExists(t, sq, "cfn-delete"), "the stack's queue is gone")
	out, err := p.Poll(ctx, w)
	require.NoError(t, err)
	assert.True(t, out.Done && out.Succeeded, "%+v", out)
}

func TestDeletingAStackThatDoesNotExistSucceedsAtOnce(t *testing.T) {
	cf, _, _ := clients(t)
	w, err := New(cf).Start(context.Background(), deploy.Request{Config: map[string]any{"stack": "cfn-never-was", "action": "delete"}})
	require.NoError(t, err)
	assert.True(t, w.Done)
	assert.True(t, w.Outcome.Succeeded)
	assert.Contains(t, w.Outcome.Message, "does not exist")
}

func TestOutputsAreTheStacksOutputs(t *testing.T) {
	cf, _, _ := clients(t)
	ctx := context.Background()
	// moto fills outputs only for stacks made by CreateStack (not by executed change sets),
	// so the stack is made that way here; Outputs and Poll only read it.
	made, err := cf.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String("cfn-outputs"), TemplateBody: aws.String(queueTemplate("")),
		Parameters: []cftypes.Parameter{{ParameterKey: aws.String("QueueName"), ParameterValue: aws.String("cfn-outputs")}}})
	require.NoError(t, err)
	id := aws.ToString(made.StackId)
	want := map[string]string{"QueueName": "cfn-outputs", "QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/cfn-outputs"}

	p := New(cf)
	outputs, err := p.Outputs(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, want, outputs)
	out, err := p.Poll(ctx, deploy.Wait{Provider: Name, Key: id + "#tok", Resource: id, Started: time.Now()})
	require.NoError(t, err)
	assert.Equal(t, deploy.Outcome{Done: true, Succeeded: true, Message: "CREATE_COMPLETE", Outputs: want}, out)

	_, err = p.Outputs(ctx, "arn:aws:cloudformation:us-east-1:123456789012:stack/cfn-nope/0")
	assert.ErrorIs(t, err, errNoStack)
}

// slowChangeSets answers DescribeChangeSet as CREATE_IN_PROGRESS for its first pending calls.
type slowChangeSets struct {
	*cloudformation.Client
	pending *int
}

func (s slowChangeSets) DescribeChangeSet(ctx context.Context, in *cloudformation.DescribeChangeSetInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DescribeChangeSetOutput, error) {
	out, err := s.Client.DescribeChangeSet(ctx, in, optFns...)
	if err == nil && *s.pending > 0 {
		*s.pending--
		out.Status = cftypes.ChangeSetStatusCreateInProgress
	}
	return out, err
}

// fakeClock advances by each sleep.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }
func (c *fakeClock) sleep(_ context.Context, d time.Duration) error {
	c.t = c.t.Add(d)
	return nil
}

func TestStartWaitsForTheChangeSetWithinItsTimeout(t *testing.T) {
	cf, sq, _ := clients(t)
	ctx := context.Background()
	clock := &fakeClock{t: time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)}

	pending := 3
	p := New(slowChangeSets{cf, &pending}, WithClock(clock.now, clock.sleep), WithChangeSetWait(10*time.Second, 2*time.Second))
	w, err := p.Start(ctx, request("cfn-slow", "cfn-slow", nil))
	require.NoError(t, err)
	assert.False(t, w.Done)
	assert.Equal(t, 0, pending)
	assert.Equal(t, clock.t, w.Started)
	assert.Equal(t, 6*time.Second, clock.t.Sub(time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)), "three waits of 2s")
	assert.True(t, queueExists(t, sq, "cfn-slow"), "executed once created")

	pending = 100
	_, err = p.Start(ctx, request("cfn-slow-2", "cfn-slow-2", nil))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "still CREATE_IN_PROGRESS after 10s")
	assert.False(t, queueExists(t, sq, "cfn-slow-2"), "a change set not created in time is not executed")
}

func TestConfigurationsThatCannotDeployAreRefused(t *testing.T) {
	cf, _, _ := clients(t)
	p := New(cf)
	for _, tc := range []struct {
		name   string
		config map[string]any
		inputs map[string]deploy.Artifact
		want   string
	}{
		{"a stack name starting with a digit", map[string]any{"stack": "1api", "template": "bin::t.yml"}, nil, `stack name "1api" is not a CloudFormation stack name`},
		{"a stack name with an underscore", map[string]any{"stack": "api_prod", "template": "bin::t.yml"}, nil, "letters, digits and hyphens"},
		{"a stack name of 129 characters", map[string]any{"stack": "a" + strings.Repeat("b", 128), "template": "bin::t.yml"}, nil, "at most 128"},
		{"an empty stack name (an env variable resolved to nothing)", map[string]any{"stack": "", "template": "bin::t.yml"}, nil, `stack name ""`},
		{"a deploy without a template", map[string]any{"stack": "api"}, nil, "template is required"},
		{"a template that is not artifact::path", map[string]any{"stack": "api", "template": "t.yml"}, nil, `"artifact::path"`},
		{"an unknown capability", map[string]any{"stack": "api", "template": "bin::t.yml", "capabilities": []any{"CAPABILITY_EVERYTHING"}}, nil, "capability CAPABILITY_EVERYTHING"},
		{"a role that is not a role ARN", map[string]any{"stack": "api", "template": "bin::t.yml", "role": "deployer"}, nil, `role "deployer" is not an IAM role ARN`},
		{"a parameter that is not a string", map[string]any{"stack": "api", "template": "bin::t.yml", "parameters": map[string]any{"Count": 3}}, nil, "parameter Count: expected a string"},
		{"a template artifact that is not an input", map[string]any{"stack": "cfn-no-input", "template": "bin::t.yml"}, map[string]deploy.Artifact{}, `no input artifact "bin"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.Start(context.Background(), deploy.Request{Config: tc.config, Inputs: tc.inputs})
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrConfig), "%v", err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestAMissingTemplateFileNamesIt(t *testing.T) {
	cf, _, _ := clients(t)
	req := request("cfn-missing-file", "q", nil)
	req.Inputs["bin"] = files{}
	_, err := New(cf).Start(context.Background(), req)
	require.ErrorIs(t, err, fs.ErrNotExist)
	assert.Contains(t, err.Error(), "bin::packaged.yml")
}

func TestTheWaitTravelsAsJSON(t *testing.T) {
	cf, _, _ := clients(t)
	w, err := New(cf).Start(context.Background(), request("cfn-json", "cfn-json", nil))
	require.NoError(t, err)
	raw, err := json.Marshal(w)
	require.NoError(t, err)
	var back deploy.Wait
	require.NoError(t, json.Unmarshal(raw, &back))
	out, err := New(cf).Poll(context.Background(), back)
	require.NoError(t, err)
	assert.True(t, out.Succeeded)
}

// failedStack answers DescribeStacks and DescribeStackEvents as CloudFormation does for an
// update rolled back because a resource failed (moto never fails a stack). Its events are
// newest first, with one failure from an earlier deploy.
type failedStack struct {
	API
	started time.Time
}

func (f failedStack) DescribeStacks(context.Context, *cloudformation.DescribeStacksInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	return &cloudformation.DescribeStacksOutput{Stacks: []cftypes.Stack{{StackId: aws.String(sampleStack), StackName: aws.String("api-prod"),
		StackStatus: cftypes.StackStatusUpdateRollbackComplete}}}, nil
}

func (f failedStack) DescribeStackEvents(context.Context, *cloudformation.DescribeStackEventsInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStackEventsOutput, error) {
	ev := func(after time.Duration, id string, status cftypes.ResourceStatus, reason string) cftypes.StackEvent {
		return cftypes.StackEvent{Timestamp: aws.Time(f.started.Add(after)), LogicalResourceId: aws.String(id), ResourceType: aws.String("AWS::SQS::Queue"),
			ResourceStatus: status, ResourceStatusReason: aws.String(reason)}
	}
	return &cloudformation.DescribeStackEventsOutput{StackEvents: []cftypes.StackEvent{
		ev(40*time.Second, "api-prod", cftypes.ResourceStatusUpdateComplete, ""),
		ev(30*time.Second, "Other", cftypes.ResourceStatusUpdateFailed, "Resource update cancelled"),
		ev(20*time.Second, "Queue", cftypes.ResourceStatusUpdateFailed, "Queue name already exists"),
		ev(10*time.Second, "api-prod", cftypes.ResourceStatusUpdateInProgress, "User Initiated"),
		ev(-time.Hour, "Old", cftypes.ResourceStatusCreateFailed, "an earlier deploy's failure"),
	}}, nil
}

func TestPollOfAFailedDeployNamesTheFirstResourceThatFailed(t *testing.T) {
	started := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	out, err := New(failedStack{started: started}).Poll(context.Background(), deploy.Wait{Provider: Name, Key: sampleStack, Started: started})
	require.NoError(t, err)
	assert.Equal(t, deploy.Outcome{Done: true, RolledBack: true, Message: "Queue (AWS::SQS::Queue) UPDATE_FAILED: Queue name already exists"}, out)
}
