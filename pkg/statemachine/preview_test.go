package statemachine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awscfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/advance"
	"github.com/stepline/stepline/pkg/awstest"
	"github.com/stepline/stepline/pkg/buildspec"
	"github.com/stepline/stepline/pkg/changes"
	"github.com/stepline/stepline/pkg/deploy"
	"github.com/stepline/stepline/pkg/deploy/cloudformation"
	"github.com/stepline/stepline/pkg/deploy/s3artifact"
	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/notify"
	"github.com/stepline/stepline/pkg/notify/commitstatus"
	"github.com/stepline/stepline/pkg/reposecret"
	"github.com/stepline/stepline/pkg/scm"
	"github.com/stepline/stepline/pkg/scm/scmtest"
	"github.com/stepline/stepline/pkg/statemachine/asltest"
	"github.com/stepline/stepline/pkg/store"
	"github.com/stepline/stepline/pkg/store/dynamo"
	"github.com/stepline/stepline/pkg/triggerstep"
	"github.com/stepline/stepline/pkg/waitstep"
	"github.com/stepline/stepline/pkg/webhook"
)

// The pull-request preview pattern of examples/pr-preview, end to end: real GitHub
// pull_request deliveries (@octokit/webhooks-examples) go through the webhook handler and its
// EventBridge publisher to the trigger function, which reads the example's .stepline.yml and
// starts executions; each execution runs the real pipeline.asl.json in
// aws-local-stepfunctions with the real advance and wait handlers, the wait function's
// CloudFormation provider deploying the example's preview.yml on moto (after its shared.yml).

const (
	previewHook   = "hook-preview0123456789"
	previewSecret = "preview-webhook-secret"
	stateMachine  = "arn:aws:states:us-east-1:123456789012:stateMachine:stepline-pipeline"
)

// previewWorld is the stack around one repository: webhook, trigger, state machine, the
// deploys on moto.
type previewWorld struct {
	*deployWorld
	file    []byte
	webhook *webhook.Handler
	trigger *triggerstep.Handler
	bus     *capturedEvents
	started *startedExecutions
	// deploys lists the deploy actions the wait function was asked to start, as
	// "Stage/Action stack".
	mu      sync.Mutex
	deploys []string
}

func newPreviewWorld(t *testing.T, shared string) *previewWorld {
	t.Helper()
	moto := awstest.StartMoto(t)
	cfg := moto.Config()
	ctx := context.Background()
	cfn := awscfn.NewFromConfig(cfg)

	// The shared part is deployed once by hand; its outputs are what the file's x-shared
	// values are to be replaced with.
	_, err := cfn.CreateStack(ctx, &awscfn.CreateStackInput{StackName: aws.String(shared),
		TemplateBody: aws.String(read(t, "../../examples/pr-preview/shared.yml")), Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityIam}})
	require.NoError(t, err)
	out, err := cfn.DescribeStacks(ctx, &awscfn.DescribeStacksInput{StackName: aws.String(shared)})
	require.NoError(t, err)
	outputs := map[string]string{}
	for _, o := range out.Stacks[0].Outputs {
		outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	require.NotEmpty(t, outputs["Listener"], "shared.yml: %s", out.Stacks[0].StackStatus)
	file := regexp.MustCompile(`(?m)^  (Cluster|Listener|Vpc|Subnets|SecurityGroup|TaskExecutionRole): .*$`).
		ReplaceAllStringFunc(read(t, "../../examples/pr-preview/.stepline.yml"), func(line string) string {
			key := strings.TrimSpace(strings.SplitN(line, ":", 2)[0])
			return "  " + key + ": " + outputs[key]
		})
	file = strings.ReplaceAll(file, "arn:aws:iam::123456789012:role/previews-PreviewDeployRole", outputs["PreviewDeployRole"])

	db := store.NewMemory()
	w := &world{t: t, db: db, events: &events{}, sfn: &tokens{}}
	w.adv = advance.New(db, w.events, w.sfn, advance.Config{Bucket: "artifacts", Project: "stepline-build", UntrustedProject: "stepline-untrusted",
		Image: "aws/codebuild/amazonlinux-aarch64-standard:3.0", ComputeType: "BUILD_GENERAL1_SMALL"},
		advance.WithClock(time.Now))
	d := &deployWorld{world: w, ctx: ctx, answers: &answers{}, deadlines: &deadlines{}, cfn: cfn,
		s3: s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })}
	if _, err := d.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("artifacts")}); err != nil && !strings.Contains(err.Error(), "BucketAlready") {
		require.NoError(t, err)
	}
	_, err = dynamodb.NewFromConfig(cfg).CreateTable(ctx, dynamo.Schema(shared+"-table"))
	require.NoError(t, err)
	waits := dynamo.New(dynamodb.NewFromConfig(cfg), shared+"-table")
	d.wait = waitstep.New(waits, d.answers, d.deadlines, noBus{}, waitstep.Config{APIURL: "https://abc123.execute-api.us-east-1.amazonaws.com",
		Bus: "stepline", ScheduleGroup: "stepline", SchedulerRoleARN: "arn:aws:iam::123456789012:role/stepline-scheduler", StateMachineARN: stateMachine},
		waitstep.WithDeploys(waitstep.Deploys{
			Providers: map[string]deploy.Provider{cloudformation.Name: cloudformation.New(cfn, cloudformation.WithChangeSetWait(time.Minute, 100*time.Millisecond))},
			Artifact:  func(loc deploy.Location) deploy.Artifact { return s3artifact.New(d.s3, loc) },
			Waits:     waits, Tasks: d.answers,
		}))

	p := &previewWorld{deployWorld: d, file: []byte(file), bus: &capturedEvents{}, started: &startedExecutions{}}
	secrets := repoSecrets{previewHook: {Provider: scm.GitHub, Repository: "Codertocat/Hello-World", WebhookSecrets: []string{previewSecret}, Token: "t"}}
	p.webhook = webhook.New(secrets, webhook.NewEventBridge(p.bus, "stepline", nil, ""))
	p.trigger, err = triggerstep.New(db, secrets, nil, p.started, stateMachine,
		triggerstep.WithClients(func(reposecret.Secret) (triggerstep.FileReader, scm.FileLister, error) { return p, p, nil }))
	require.NoError(t, err)
	return p
}

// ReadFile serves the repository's pipeline file at every commit.
func (p *previewWorld) ReadFile(_ context.Context, _, _, path string) ([]byte, error) {
	if path != triggerstep.PipelineFile {
		return nil, fmt.Errorf("%s: %w", path, scm.ErrNotFound)
	}
	return p.file, nil
}

// ChangedFiles says the pull request changed the service's code.
func (p *previewWorld) ChangedFiles(context.Context, string, string, string) ([]string, bool, error) {
	return []string{"main.go"}, true, nil
}

// deliver posts a pull_request delivery to the webhook as GitHub would (signed), hands what
// it put on the bus to the trigger function, and returns the runs it started.
func (p *previewWorld) deliver(delivery string, body []byte) []string {
	p.t.Helper()
	h, _ := scm.HeadersOf(scm.GitHub)
	hd := http.Header{}
	hd.Set(h.Event, "pull_request")
	hd.Set(h.Delivery, delivery)
	hd.Set(h.Signature, scm.Sign([]byte(previewSecret), body))
	resp := p.webhook.Handle(p.ctx, webhook.Request{Method: http.MethodPost, Provider: scm.GitHub, Hook: previewHook, Header: hd, Body: body, Received: time.Now()})
	require.Equal(p.t, http.StatusAccepted, resp.Status, resp.Body.Message)
	before := len(p.started.inputs())
	for i, e := range p.bus.take() {
		require.NoError(p.t, p.trigger.Handle(p.ctx, lambdaevents.CloudWatchEvent{ID: fmt.Sprintf("%s-%d", delivery, i),
			Source: aws.ToString(e.Source), DetailType: aws.ToString(e.DetailType), Detail: json.RawMessage(aws.ToString(e.Detail))}))
	}
	var runs []string
	for _, in := range p.started.inputs()[before:] {
		var input struct{ Run string }
		require.NoError(p.t, json.Unmarshal([]byte(in), &input))
		runs = append(runs, input.Run)
	}
	return runs
}

// execute runs a started run's execution through the real state machine and returns its
// record once it has ended.
func (p *previewWorld) execute(run string) store.Record {
	p.t.Helper()
	hs := p.handlers()
	// The build is privileged (Docker): it goes to CodeBuildEnvironment.
	for _, name := range []string{"CodeBuild", "MapCodeBuild", "CodeBuildEnvironment", "MapCodeBuildEnvironment"} {
		hs[name] = p.build
	}
	wait := hs["Wait"]
	hs["Wait"], hs["MapWait"] = func(in json.RawMessage) (any, error) {
		var req struct {
			Payload waitstep.Input `json:"Payload"`
		}
		require.NoError(p.t, json.Unmarshal(in, &req))
		t := req.Payload.Task.Task
		p.mu.Lock()
		p.deploys = append(p.deploys, fmt.Sprintf("%s/%s %v", t.Stage, t.Action, t.Config["stack"]))
		p.mu.Unlock()
		return wait(in)
	}, nil
	hs["MapWait"] = hs["Wait"]
	asltest.Interpret(p.t, map[string]any{"run": run}, hs)
	rec, err := p.db.GetRun(p.ctx, run)
	require.NoError(p.t, err)
	require.True(p.t, rec.State.Done(), "the execution ended its run")
	return rec
}

// build is CodeBuild running examples/pr-preview/buildspec.yml: it pushes an image tagged
// with the pull request and the run, exports its URI, and uploads the files its artifacts
// section names.
func (p *previewWorld) build(in json.RawMessage) (any, error) {
	var req struct {
		Env []struct{ Name, Value string } `json:"EnvironmentVariablesOverride"`
	}
	require.NoError(p.t, json.Unmarshal(in, &req))
	env := map[string]string{}
	for _, e := range req.Env {
		env[e.Name] = e.Value
	}
	spec, _, err := buildspec.Parse("buildspec.yml", []byte(read(p.t, "../../examples/pr-preview/buildspec.yml")))
	require.NoError(p.t, err)
	require.NotEmpty(p.t, env["PR_NUMBER"], "the build is told its pull request")
	image := env["REPOSITORY_URI"] + ":pr-" + env["PR_NUMBER"] + "-" + env["STEPLINE_RUN"]
	files := map[string]string{}
	for _, f := range spec.Artifacts.Primary.Files {
		files[f] = read(p.t, "../../examples/pr-preview/"+f)
	}
	p.putArtifact(env["STEPLINE_RUN"], "preview", files)
	require.Equal(p.t, []string{"IMAGE_URI"}, spec.Env.ExportedVariables)
	return map[string]any{"Build": map[string]any{"Id": "stepline-build:" + env["STEPLINE_RUN"], "BuildStatus": "SUCCEEDED",
		"ExportedEnvironmentVariables": []map[string]string{{"Name": "IMAGE_URI", "Value": image}}}}, nil
}

// status is the commit status the run's last pipeline change sets, as the notify function
// posts it.
func (p *previewWorld) status(rec store.Record) commitstatus.Status {
	p.t.Helper()
	p.events.mu.Lock()
	var last engine.Event
	for _, e := range p.events.all {
		if e.Type == engine.PipelineEvent && e.Run == rec.State.Run {
			last = e
		}
	}
	p.events.mu.Unlock()
	typ, d := changes.Envelope(rec, last)
	s, ok := notify.StatusFor(notify.Change{DetailType: typ, Time: last.Time, State: d}, notify.RunOf(rec), "https://ci.example.com/runs/"+rec.State.Run)
	require.True(p.t, ok, "%s sets a status", last.State)
	return s
}

// stack returns the preview stack of a pull request (by name, or by id once deleted).
func (p *previewWorld) stack(nameOrID string) (status, image string) {
	p.t.Helper()
	out, err := p.cfn.DescribeStacks(p.ctx, &awscfn.DescribeStacksInput{StackName: aws.String(nameOrID)})
	if err != nil {
		return "", ""
	}
	st := out.Stacks[0]
	for _, prm := range st.Parameters {
		if aws.ToString(prm.ParameterKey) == "Image" {
			image = aws.ToString(prm.ParameterValue)
		}
	}
	return string(st.StackStatus), image
}

func (p *previewWorld) stackID(name string) string {
	p.t.Helper()
	out, err := p.cfn.DescribeStacks(p.ctx, &awscfn.DescribeStacksInput{StackName: aws.String(name)})
	require.NoError(p.t, err)
	return aws.ToString(out.Stacks[0].StackId)
}

// pullRequest returns the first example delivery of action, changed by edit.
func pullRequest(t *testing.T, action string, edit func(map[string]any)) []byte {
	t.Helper()
	for _, body := range scmtest.OctokitExamples(t, "pull_request") {
		var m map[string]any
		require.NoError(t, json.Unmarshal(body, &m))
		if m["action"] != action {
			continue
		}
		if edit == nil {
			return body
		}
		edit(m)
		b, err := json.Marshal(m)
		require.NoError(t, err)
		return b
	}
	t.Fatalf("no pull_request example with action %s", action)
	return nil
}

func TestAPullRequestGetsAPreviewStackThatItsUpdatesRedeployAndItsClosingDeletes(t *testing.T) {
	p := newPreviewWorld(t, "previews-own")

	// Opened: pull request #2 of Codertocat/Hello-World, from its own branch "changes".
	runs := p.deliver("d-opened", pullRequest(t, "opened", nil))
	require.Len(t, runs, 1, "only the preview pipeline listens to an opened pull request")
	rec := p.execute(runs[0])
	require.Equal(t, engine.Succeeded, rec.State.Status, rec.State.Message)
	assert.Equal(t, "pr-2", rec.State.Vars["env"]["name"])
	status, image := p.stack("preview-pr-2")
	assert.Equal(t, "CREATE_COMPLETE", status)
	assert.Equal(t, "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:pr-2-"+runs[0], image, "the stack runs the pull request's image")
	id := p.stackID("preview-pr-2")

	// Its commit status links to the preview.
	s := p.status(rec)
	assert.Equal(t, commitstatus.Succeeded, s.State)
	assert.Equal(t, "http://pr-2.preview.example.com", s.URL)
	assert.Equal(t, "preview/pr-2", s.Key, "one status per pull request's environment")

	// Updated (synchronize): the same stack is updated to the new run's image.
	runs = p.deliver("d-sync", pullRequest(t, "synchronize", nil))
	require.Len(t, runs, 1)
	rec = p.execute(runs[0])
	require.Equal(t, engine.Succeeded, rec.State.Status, rec.State.Message)
	status, image = p.stack("preview-pr-2")
	assert.Equal(t, "UPDATE_COMPLETE", status)
	assert.Equal(t, "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:pr-2-"+runs[0], image)
	assert.Equal(t, id, p.stackID("preview-pr-2"), "updated in place, not created again")

	// Closed: the teardown pipeline deletes it.
	runs = p.deliver("d-closed", pullRequest(t, "closed", nil))
	require.Len(t, runs, 1, "only the teardown pipeline listens to a closed pull request")
	rec = p.execute(runs[0])
	require.Equal(t, engine.Succeeded, rec.State.Status, rec.State.Message)
	assert.Equal(t, "preview-teardown", rec.State.Pipeline)
	status, _ = p.stack(id)
	assert.Equal(t, "DELETE_COMPLETE", status)
	_, err := p.cfn.DescribeStacks(p.ctx, &awscfn.DescribeStacksInput{StackName: aws.String("preview-pr-2")})
	assert.ErrorContains(t, err, "does not exist", "the name is free again")

	assert.Equal(t, []string{"Preview/Stack preview-pr-2", "Preview/Stack preview-pr-2", "Teardown/Stack preview-pr-2"}, p.deploys)
}

func TestAForksPullRequestDeploysNothing(t *testing.T) {
	p := newPreviewWorld(t, "previews-fork")
	// The same delivery, its head branch in a fork: pull request #5 from forker/Hello-World.
	fork := func(m map[string]any) {
		m["number"] = 5.0
		pr := m["pull_request"].(map[string]any)
		pr["number"] = 5.0
		head := pr["head"].(map[string]any)
		head["repo"].(map[string]any)["full_name"] = "forker/Hello-World"
		head["label"] = "forker:changes"
	}
	for _, action := range []string{"opened", "synchronize", "closed"} {
		runs := p.deliver("d-fork-"+action, pullRequest(t, action, fork))
		require.Len(t, runs, 1, "%s: the file's pipeline for it runs, and is stopped before it deploys", action)
		for _, run := range runs {
			rec := p.execute(run)
			assert.Equal(t, engine.Failed, rec.State.Status, "%s: %s", action, rec.State.Pipeline)
			assert.Nil(t, rec.State.Vars["env"], "a fork gets no environment")
			assert.Contains(t, rec.State.Message+notify.RunOf(rec).Failure.Message, "the run has no environment", action)
			assert.Empty(t, notify.RunOf(rec).URL)
		}
	}
	assert.Empty(t, p.deploys, "no deploy action of a fork's pull request started")
	status, _ := p.stack("preview-pr-5")
	assert.Empty(t, status, "no stack was created")
}

// capturedEvents is EventBridge's PutEvents for the webhook: it keeps the entries.
type capturedEvents struct {
	mu      sync.Mutex
	entries []eventbridgeEntry
}

type eventbridgeEntry = struct{ Source, DetailType, Detail *string }

func (c *capturedEvents) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range in.Entries {
		c.entries = append(c.entries, eventbridgeEntry{e.Source, e.DetailType, e.Detail})
	}
	return &eventbridge.PutEventsOutput{}, nil
}

func (c *capturedEvents) take() []eventbridgeEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.entries
	c.entries = nil
	return out
}

// startedExecutions is Step Functions for the trigger: it keeps the inputs of the executions
// started, which the test then runs.
type startedExecutions struct {
	mu      sync.Mutex
	started []string
}

func (s *startedExecutions) StartExecution(_ context.Context, in *sfn.StartExecutionInput, _ ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.started = append(s.started, aws.ToString(in.Input))
	return &sfn.StartExecutionOutput{ExecutionArn: aws.String(strings.Replace(stateMachine, ":stateMachine:", ":execution:", 1) + ":" + aws.ToString(in.Name))}, nil
}

func (s *startedExecutions) DescribeExecution(context.Context, *sfn.DescribeExecutionInput, ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	return nil, &sfntypes.ExecutionDoesNotExist{Message: aws.String("not started")}
}

func (s *startedExecutions) inputs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.started...)
}

// repoSecrets are the repositories' secrets by hook id.
type repoSecrets map[string]reposecret.Secret

func (r repoSecrets) Get(_ context.Context, hook string) (reposecret.Secret, error) {
	s, ok := r[hook]
	if !ok {
		return reposecret.Secret{}, reposecret.ErrUnknownHook
	}
	return s, nil
}
