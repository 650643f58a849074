package triggerstep

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/awstest"
	"github.com/stepline/stepline/pkg/iamcheck"
	"github.com/stepline/stepline/pkg/reposecret"
	"github.com/stepline/stepline/pkg/scm"
	"github.com/stepline/stepline/pkg/store"
	"github.com/stepline/stepline/pkg/store/dynamo"
	"github.com/stepline/stepline/pkg/webhook"
)

func TestMain(m *testing.M) { awstest.Main(m) }

const (
	testStateMachine = "arn:aws:states:us-east-1:123456789012:stateMachine:stepline"
	testHook         = "sample-hook-0123456789"
	// testPipelines runs "release" for tags and "main" for the main branch only.
	testPipelines = `version: 1
pipelines:
  - name: release
    triggers:
      - on: push
        tags: {include: ["simple-*"]}
    stages:
      - name: Build
        actions:
          - {name: Build, provider: codebuild, inputs: [source]}
  - name: main
    triggers:
      - on: push
        branches: {include: [main]}
    stages:
      - name: Build
        actions:
          - {name: Build, provider: codebuild, inputs: [source]}
`
)

// fakeSFN answers Step Functions' JSON 1.0 protocol as the service does for StartExecution
// and DescribeExecution, remembering executions by name: a second StartExecution of a name is
// idempotent with the same input and ExecutionAlreadyExists with another, or with any once
// closed is set (startOnce). hideExisting makes DescribeExecution miss them, as when two
// deliveries race.
type fakeSFN struct {
	mu           sync.Mutex
	starts       []sfn.StartExecutionInput
	executions   map[string]string // name → input
	hideExisting bool
	failStart    bool
	closed       bool
}

func (f *fakeSFN) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	fail := func(status int, typ, msg string) {
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"__type":"com.amazonaws.swf.service.v2.model#%s","message":%q}`, typ, msg)
	}
	switch r.Header.Get("X-Amz-Target") {
	case "AWSStepFunctions.StartExecution":
		var in struct{ StateMachineArn, Name, Input string }
		_ = json.Unmarshal(body, &in)
		f.starts = append(f.starts, sfn.StartExecutionInput{StateMachineArn: aws.String(in.StateMachineArn), Name: aws.String(in.Name), Input: aws.String(in.Input)})
		if f.failStart {
			fail(http.StatusInternalServerError, "InternalServerError", "internal error")
			return
		}
		arn, _ := ExecutionARN(in.StateMachineArn, in.Name)
		if err := startOnce(f.executions, arn, in.Name, in.Input, f.closed); err != nil {
			fail(http.StatusBadRequest, "ExecutionAlreadyExists", "Execution Already Exists: '"+arn+"'")
			return
		}
		fmt.Fprintf(w, `{"executionArn":%q,"startDate":%d.123}`, arn, time.Now().Unix())
	case "AWSStepFunctions.DescribeExecution":
		var in struct{ ExecutionArn string }
		_ = json.Unmarshal(body, &in)
		name := in.ExecutionArn[strings.LastIndex(in.ExecutionArn, ":")+1:]
		input, ok := f.executions[name]
		if !ok || f.hideExisting {
			fail(http.StatusBadRequest, "ExecutionDoesNotExist", "Execution Does Not Exist: '"+in.ExecutionArn+"'")
			return
		}
		fmt.Fprintf(w, `{"executionArn":%q,"stateMachineArn":%q,"name":%q,"status":"RUNNING","startDate":%d.123,"input":%q,"inputDetails":{"included":true},"redriveCount":0,"redriveStatus":"NOT_REDRIVABLE"}`,
			in.ExecutionArn, testStateMachine, name, time.Now().Unix(), input)
	default:
		fail(http.StatusBadRequest, "UnknownOperationException", "unexpected "+r.Header.Get("X-Amz-Target"))
	}
}

func (f *fakeSFN) started() []sfn.StartExecutionInput {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sfn.StartExecutionInput(nil), f.starts...)
}

// rig is a handler wired to moto (DynamoDB, S3, Secrets Manager), a fake Step Functions and a
// GitHub contents API serving files.
type rig struct {
	h      *Handler
	db     *dynamo.Store
	s3     *s3.Client
	bucket string
	sfn    *fakeSFN
	files  map[string]string
	logs   *bytes.Buffer
}

func newRig(t *testing.T) *rig {
	t.Helper()
	moto := awstest.StartMoto(t)
	ctx := context.Background()
	name := strings.ReplaceAll(strings.ToLower("trigger-"+t.Name()+"-"+time.Now().Format("150405.000000")), "/", "-")
	name = strings.ReplaceAll(name, ".", "-")
	if len(name) > 58 { // and 61 for the bucket, "-b" added
		name = name[len(name)-58:]
		name = "t" + strings.TrimLeft(name, "-_")
	}
	ddb := dynamodb.NewFromConfig(moto.Config())
	_, err := ddb.CreateTable(ctx, dynamo.Schema(name))
	require.NoError(t, err)
	s3c := s3.NewFromConfig(moto.Config(), func(o *s3.Options) { o.UsePathStyle = true })
	_, err = s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name + "-b")})
	require.NoError(t, err)

	r := &rig{db: dynamo.New(ddb, name), s3: s3c, bucket: name + "-b", sfn: &fakeSFN{executions: map[string]string{}},
		files: map[string]string{}, logs: &bytes.Buffer{}}
	var mu sync.Mutex
	gh := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		files := map[string]string{}
		for k, v := range r.files {
			files[k] = v
		}
		mu.Unlock()
		githubContents(t, files)(w, req)
	}))
	t.Cleanup(gh.Close)
	sf := httptest.NewServer(r.sfn)
	t.Cleanup(sf.Close)

	sm := secretsmanager.NewFromConfig(moto.Config())
	prefix := name + "/"
	secret, _ := json.Marshal(reposecret.Secret{Provider: "github", Repository: "Codertocat/Hello-World",
		WebhookSecrets: []string{"stepline-sample-secret"}, Token: testToken, APIURL: gh.URL})
	_, err = sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(prefix + testHook), SecretString: aws.String(string(secret))})
	require.NoError(t, err)

	// The handler's clients are the trigger function's: their calls are recorded for the
	// IAM check (iamcheck); r.db and r.s3 are the test's own.
	fn := iamcheck.NewRecorder(t, "trigger", map[string]string{"env:STEPLINE_TABLE": name, "env:STEPLINE_BUCKET": name + "-b",
		"env:STEPLINE_SECRET_PREFIX": prefix, "env:STEPLINE_STATE_MACHINE_ARN": testStateMachine,
		"PipelineStateMachine.Name": testStateMachine[strings.LastIndex(testStateMachine, ":")+1:]}).Config(moto.Config())
	sfc := sfn.NewFromConfig(fn, func(o *sfn.Options) { o.BaseEndpoint = aws.String(sf.URL) })
	r.h, err = New(dynamo.New(dynamodb.NewFromConfig(fn), name),
		reposecret.NewStore(secretsmanager.NewFromConfig(fn), reposecret.WithPrefix(prefix)),
		s3.NewFromConfig(fn, func(o *s3.Options) { o.UsePathStyle = true }), sfc, testStateMachine,
		WithLogger(slog.New(slog.NewJSONHandler(r.logs, nil))), WithClients(Providers{HTTPClient: gh.Client()}.For),
		WithClock(func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }))
	require.NoError(t, err)
	return r
}

// sampleEvent is the webhook's event for the tag push of events/webhook/github-push.json.
func sampleEvent() scm.Event {
	return scm.Event{Provider: "github", Kind: "tag", Delivery: "72d3162e-cc78-11e3-81ab-9d1c1e8795d2",
		Repository: scm.Repository{FullName: "Codertocat/Hello-World", CloneURL: "https://github.com/Codertocat/Hello-World.git", DefaultBranch: "master"},
		Ref:        "refs/tags/simple-tag", Tag: "simple-tag", Before: scm.ZeroSHA, After: testCommit, Created: true,
		Commits: []scm.Commit{{ID: testCommit, Message: "Adding a .gitignore file", Author: "Codertocat"}}, Sender: "Codertocat"}
}

func cloudEvent(t *testing.T, d Detail) events.CloudWatchEvent {
	t.Helper()
	raw, err := json.Marshal(d)
	require.NoError(t, err)
	return events.CloudWatchEvent{Version: "0", ID: "7bf73129-1428-4cd3-a780-95db273d1602", Source: webhook.EventSource,
		DetailType: webhook.DetailTypeSource, AccountID: "123456789012", Region: "us-east-1", Time: time.Now().UTC(), Detail: raw}
}

func detail(ev scm.Event) Detail {
	return Detail{Key: "github-0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c", Provider: ev.Provider, Kind: ev.Kind,
		Repository: ev.Repository.FullName, Ref: ev.Ref, Event: &ev, Hook: testHook}
}

func (r *rig) runs(t *testing.T) []store.Record {
	t.Helper()
	recs, err := r.db.ListRuns(context.Background(), store.Filter{})
	require.NoError(t, err)
	return recs
}

func TestAMatchingPipelineGetsARunAndOneExecutionEvenWhenTheEventComesTwice(t *testing.T) {
	r := newRig(t)
	r.files["/repos/Codertocat/Hello-World/contents/.stepline.yml@"+testCommit] = testPipelines
	ctx := context.Background()
	e := cloudEvent(t, detail(sampleEvent()))

	require.NoError(t, r.h.Handle(ctx, e))
	starts := r.sfn.started()
	require.Len(t, starts, 1, "only release matches a tag")
	assert.Equal(t, "github-0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c-release", aws.ToString(starts[0].Name))
	assert.Equal(t, testStateMachine, aws.ToString(starts[0].StateMachineArn))
	id := runID("github", "Codertocat/Hello-World", "release", 1)
	assert.JSONEq(t, `{"run":"`+id+`"}`, aws.ToString(starts[0].Input))

	rec, err := r.db.GetRun(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, "Codertocat/Hello-World", rec.Repo)
	assert.Equal(t, "webhook github tag", rec.Trigger)
	assert.Equal(t, testCommit, rec.Commit)
	assert.Equal(t, "github", rec.Provider)
	assert.Equal(t, testHook, rec.Hook)
	assert.Equal(t, "release", rec.Definition.Pipeline)
	assert.Equal(t, int64(1), rec.State.Seq)
	assert.Equal(t, "simple-tag", rec.State.Vars["source"]["tag"], "the run starts with the event's variables")

	// The queue's retry or the provider's redelivery: the execution exists, nothing is added.
	require.NoError(t, r.h.Handle(ctx, e))
	assert.Len(t, r.sfn.started(), 1)
	assert.Len(t, r.runs(t), 1)
	assert.Contains(t, r.logs.String(), "already started")
}

func TestARaceLostToAnotherDeliveryIsStillASuccess(t *testing.T) {
	r := newRig(t)
	r.files["/repos/Codertocat/Hello-World/contents/.stepline.yml@"+testCommit] = testPipelines
	ctx := context.Background()
	e := cloudEvent(t, detail(sampleEvent()))
	require.NoError(t, r.h.Handle(ctx, e))
	r.sfn.hideExisting = true
	// The other delivery's execution is still open: Step Functions answers the same name and
	// input with a success.
	require.NoError(t, r.h.Handle(ctx, e), "an idempotent start is a success")
	assert.Len(t, r.sfn.executions, 1)
	// It has finished already: the answer is ExecutionAlreadyExists, whatever the input.
	r.sfn.closed = true
	require.NoError(t, r.h.Handle(ctx, e), "ExecutionAlreadyExists counts as started")
	assert.Len(t, r.sfn.started(), 3)
	assert.Contains(t, r.logs.String(), "started concurrently")
}

func TestAnEventStoredInS3IsReadFromThere(t *testing.T) {
	r := newRig(t)
	r.files["/repos/Codertocat/Hello-World/contents/.stepline.yml@"+testCommit] = testPipelines
	ctx := context.Background()
	ev := sampleEvent()
	body, _ := json.Marshal(ev)
	_, err := r.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(r.bucket), Key: aws.String("webhooks/big.json"), Body: bytes.NewReader(body)})
	require.NoError(t, err)
	d := detail(ev)
	d.Event, d.EventS3 = nil, &webhook.S3Object{Bucket: r.bucket, Key: "webhooks/big.json"}
	require.NoError(t, r.h.Handle(ctx, cloudEvent(t, d)))
	assert.Len(t, r.sfn.started(), 1)

	// An object that expired cannot come back: acknowledged, nothing runs.
	d.Key, d.EventS3.Key = "github-other", "webhooks/gone.json"
	require.NoError(t, r.h.Handle(ctx, cloudEvent(t, d)))
	assert.Len(t, r.sfn.started(), 1)
}

func TestEventsThatCannotStartAnythingAreAcknowledged(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	tests := []struct {
		name  string
		file  string
		event func() events.CloudWatchEvent
		log   string
	}{
		{"a commit without a pipeline file runs nothing", "", func() events.CloudWatchEvent { return cloudEvent(t, detail(sampleEvent())) }, "no pipeline file"},
		{"an invalid pipeline file runs nothing", "version: 1\npipelines: [{name: x}]\n", func() events.CloudWatchEvent { return cloudEvent(t, detail(sampleEvent())) }, "not a valid pipeline file"},
		{"an event without a hook cannot find its token", testPipelines, func() events.CloudWatchEvent {
			d := detail(sampleEvent())
			d.Hook = ""
			return cloudEvent(t, d)
		}, "names no hook"},
		{"an unknown hook runs nothing", testPipelines, func() events.CloudWatchEvent {
			d := detail(sampleEvent())
			d.Hook = "unknown-hook-0123456789"
			return cloudEvent(t, d)
		}, "no repository is registered"},
		{"a detail that is not JSON is dropped", testPipelines, func() events.CloudWatchEvent {
			e := cloudEvent(t, detail(sampleEvent()))
			e.Detail = json.RawMessage(`"nope"`)
			return e
		}, "not a source event"},
		{"another detail-type is dropped", testPipelines, func() events.CloudWatchEvent {
			e := cloudEvent(t, detail(sampleEvent()))
			e.DetailType = "Object Created"
			return e
		}, "not a stepline source event"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			delete(r.files, "/repos/Codertocat/Hello-World/contents/.stepline.yml@"+testCommit)
			if tc.file != "" {
				r.files["/repos/Codertocat/Hello-World/contents/.stepline.yml@"+testCommit] = tc.file
			}
			r.logs.Reset()
			require.NoError(t, r.h.Handle(ctx, tc.event()))
			assert.Empty(t, r.sfn.started())
			assert.Empty(t, r.runs(t))
			assert.Contains(t, r.logs.String(), tc.log)
			assert.NotContains(t, r.logs.String(), testToken)
		})
	}
}

func TestAStepFunctionsFailureIsReturnedForTheQueueToRetry(t *testing.T) {
	r := newRig(t)
	r.files["/repos/Codertocat/Hello-World/contents/.stepline.yml@"+testCommit] = testPipelines
	r.sfn.failStart = true
	err := r.h.Handle(context.Background(), cloudEvent(t, detail(sampleEvent())))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "start execution")

	// The queue's retry starts the same run: one record, under the same number, no orphan.
	before := r.runs(t)
	r.sfn.mu.Lock()
	r.sfn.failStart = false
	r.sfn.mu.Unlock()
	require.NoError(t, r.h.Handle(context.Background(), cloudEvent(t, detail(sampleEvent()))))
	after := r.runs(t)
	assert.Equal(t, len(before), len(after), "the retry wrote no second record")
	r.sfn.mu.Lock()
	var inputs []string
	for _, in := range r.sfn.executions {
		inputs = append(inputs, in)
	}
	r.sfn.mu.Unlock()
	require.NotEmpty(t, after)
	for _, rec := range after {
		assert.Contains(t, inputs, `{"run":"`+rec.ID()+`"}`, "every record is driven by an execution")
	}
}

func TestALateCopyOfTheEventNeverResetsTheRunItsExecutionDrives(t *testing.T) {
	r := newRig(t)
	r.files["/repos/Codertocat/Hello-World/contents/.stepline.yml@"+testCommit] = testPipelines
	ctx := context.Background()
	require.NoError(t, r.h.Handle(ctx, cloudEvent(t, detail(sampleEvent()))))
	recs := r.runs(t)
	require.NotEmpty(t, recs)

	// The execution advances its run; a copy of the message then misses the execution in
	// DescribeExecution (as when the two race) and goes on to start it.
	rec := recs[0]
	rec.Step = &store.Step{Input: "advanced", Output: []byte(`{}`)}
	require.NoError(t, r.db.PutRun(ctx, rec))
	r.sfn.mu.Lock()
	r.sfn.hideExisting = true
	r.sfn.mu.Unlock()
	require.NoError(t, r.h.Handle(ctx, cloudEvent(t, detail(sampleEvent()))))

	got, err := r.db.GetRun(ctx, rec.ID())
	require.NoError(t, err)
	require.NotNil(t, got.Step, "the record the execution wrote is still there")
	assert.Equal(t, "advanced", got.Step.Input)
	assert.Len(t, r.runs(t), len(recs), "and no other record was made")
}
