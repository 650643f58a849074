package waitstep

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	schedulertypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/approval"
	"github.com/stepline/stepline/pkg/awstest"
	"github.com/stepline/stepline/pkg/iamcheck"
	"github.com/stepline/stepline/pkg/statemachine"
	"github.com/stepline/stepline/pkg/store/dynamo"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// call is one request a recording server received.
type call struct {
	Method, Path, Target, ContentType string
	Body                              map[string]any
}

// recorder serves canned answers and records the requests, for the AWS APIs moto does not
// serve faithfully. answer returns the status, headers and body of the real service's reply.
type recorder struct {
	mu     sync.Mutex
	calls  []call
	answer func(c call) (int, map[string]string, string)
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	raw, _ := io.ReadAll(req.Body)
	c := call{Method: req.Method, Path: req.URL.EscapedPath(), Target: req.Header.Get("X-Amz-Target"), ContentType: req.Header.Get("Content-Type")}
	_ = json.Unmarshal(raw, &c.Body)
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
	status, headers, body := r.answer(c)
	for k, v := range headers {
		w.Header().Set(k, v)
	}
	w.WriteHeader(status)
	fmt.Fprint(w, body)
}

func (r *recorder) recorded() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]call(nil), r.calls...)
}

func serve(t *testing.T, r *recorder) string {
	t.Helper()
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv.URL
}

// Step Functions' JSON 1.0 answers, as the service sends them: an empty object on success,
// and for a token whose task is over, a 400 whose __type carries the service's namespace.
var (
	sfnJSON      = map[string]string{"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "5c0b5b5a-8e7e-4bd5-9b3a-6f2c2b7a0d11"}
	sfnTimedOut  = `{"__type":"com.amazonaws.swf.service.v2.model#TaskTimedOut","message":"Task Timed Out: 'Provided task does not exist anymore'"}`
	sfnSucceeded = `{}`
)

// stepFunctions is a recorder answering SendTaskSuccess and SendTaskFailure; closed tokens are
// answered TaskTimedOut, as Step Functions answers a token already used.
func stepFunctions(closed func(token string) bool) *recorder {
	return &recorder{answer: func(c call) (int, map[string]string, string) {
		switch c.Target {
		case "AWSStepFunctions.SendTaskSuccess", "AWSStepFunctions.SendTaskFailure":
			if tok, _ := c.Body["taskToken"].(string); closed != nil && closed(tok) {
				return http.StatusBadRequest, sfnJSON, sfnTimedOut
			}
			return http.StatusOK, sfnJSON, sfnSucceeded
		}
		return http.StatusBadRequest, sfnJSON, `{"__type":"com.amazon.coral.service#UnknownOperationException","message":"unexpected"}`
	}}
}

// Scheduler's REST-JSON answers to CreateSchedule: the new schedule's ARN, or a 409 whose
// error type travels in the x-amzn-ErrorType header.
func eventScheduler() *recorder {
	seen := map[string]bool{}
	var mu sync.Mutex
	return &recorder{answer: func(c call) (int, map[string]string, string) {
		mu.Lock()
		defer mu.Unlock()
		name := strings.TrimPrefix(c.Path, "/schedules/")
		if c.Method != http.MethodPost || !strings.HasPrefix(c.Path, "/schedules/") {
			return http.StatusNotFound, map[string]string{"x-amzn-ErrorType": "ResourceNotFoundException"}, `{"Message":"not found"}`
		}
		if seen[name] {
			return http.StatusConflict, map[string]string{"Content-Type": "application/json", "x-amzn-ErrorType": "ConflictException:http://internal.amazon.com/coral/com.amazonaws.chronos/"},
				`{"Message":"Schedule ` + name + ` already exists."}`
		}
		seen[name] = true
		return http.StatusOK, map[string]string{"Content-Type": "application/json", "x-amzn-RequestId": "8a2f8a3e-1111-4d7e-9c55-0e5b8d9f1a22"},
			`{"ScheduleArn":"arn:aws:scheduler:us-east-1:123456789012:schedule/stepline/` + name + `"}`
	}}
}

// aws is a handler wired to real SDK clients: DynamoDB and EventBridge on moto, Scheduler
// and Step Functions on recorders (or Scheduler on moto with onMoto).
type awsRig struct {
	h      *Handler
	store  *dynamo.Store
	sfn    *recorder
	sched  *recorder
	events *busTap
	table  string
	bus    string
	moto   *awstest.Moto
}

// busTap passes PutEvents to the real client and keeps what went through and its answer.
type busTap struct {
	eb      *eventbridge.Client
	mu      sync.Mutex
	details []string
}

func (b *busTap) PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, optFns ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	out, err := b.eb.PutEvents(ctx, in, optFns...)
	if err == nil && out.FailedEntryCount == 0 {
		b.mu.Lock()
		for _, e := range in.Entries {
			b.details = append(b.details, aws.ToString(e.DetailType)+" "+aws.ToString(e.Detail))
		}
		b.mu.Unlock()
	}
	return out, err
}

func (b *busTap) requested(t *testing.T) []approval.RequestedDetail {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []approval.RequestedDetail
	for _, d := range b.details {
		if rest, ok := strings.CutPrefix(d, approval.DetailRequested+" "); ok {
			var r approval.RequestedDetail
			require.NoError(t, json.Unmarshal([]byte(rest), &r))
			out = append(out, r)
		}
	}
	return out
}

func newAWSRig(t *testing.T, schedulerOnMoto bool) *awsRig {
	t.Helper()
	moto := awstest.StartMoto(t)
	ctx := context.Background()
	r := &awsRig{moto: moto, table: strings.ReplaceAll(t.Name(), "/", "-") + "-" + time.Now().Format("150405.000000")}
	ddb := dynamodb.NewFromConfig(moto.Config())
	_, err := ddb.CreateTable(ctx, dynamo.Schema(r.table))
	require.NoError(t, err)
	bus := r.table + "-bus"
	r.bus = bus
	eb := eventbridge.NewFromConfig(moto.Config())
	_, err = eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(bus)})
	require.NoError(t, err)
	r.store = dynamo.New(ddb, r.table)
	r.sfn = stepFunctions(nil)
	cfg := testConfig
	cfg.Bus = bus
	if schedulerOnMoto {
		cfg.ScheduleGroup = r.table + "-group"
		_, err := scheduler.NewFromConfig(moto.Config()).CreateScheduleGroup(ctx, &scheduler.CreateScheduleGroupInput{Name: aws.String(cfg.ScheduleGroup)})
		require.NoError(t, err)
	}
	// The handler's clients are the wait function's: their calls are recorded for the IAM
	// check (iamcheck); r.store is the test's own view of the table.
	fn := iamcheck.NewRecorder(t, "wait", map[string]string{"env:STEPLINE_TABLE": r.table, "env:STEPLINE_EVENT_BUS": bus,
		"env:STEPLINE_SCHEDULE_GROUP": cfg.ScheduleGroup, "env:STEPLINE_SCHEDULER_ROLE_ARN": cfg.SchedulerRoleARN,
		"env:STEPLINE_STATE_MACHINE_ARN": cfg.StateMachineARN}).Config(moto.Config())
	r.events = &busTap{eb: eventbridge.NewFromConfig(fn)}
	sfnClient := sfn.NewFromConfig(fn, func(o *sfn.Options) { o.BaseEndpoint = aws.String(serve(t, r.sfn)) })
	sc := scheduler.NewFromConfig(fn)
	if !schedulerOnMoto {
		r.sched = eventScheduler()
		sc = scheduler.NewFromConfig(fn, func(o *scheduler.Options) { o.BaseEndpoint = aws.String(serve(t, r.sched)) })
	}
	tokens := dynamo.New(dynamodb.NewFromConfig(fn), r.table)
	r.h = New(tokens, sfnClient, sc, r.events, cfg)
	return r
}

func TestTheScheduleRequestHasSchedulersRESTShape(t *testing.T) {
	r := newAWSRig(t, false)
	_, err := r.h.Handle(lambdaCtx(), waitInput("approval", 3600, nil))
	require.NoError(t, err)
	calls := r.sched.recorded()
	require.Len(t, calls, 1)
	c := calls[0]
	assert.Equal(t, http.MethodPost, c.Method)
	assert.Equal(t, "/schedules/"+ScheduleName("api-7", "Release.Approve.1"), c.Path)
	assert.Equal(t, "application/json", c.ContentType)
	assert.Equal(t, "stepline", c.Body["GroupName"])
	assert.Equal(t, "DELETE", c.Body["ActionAfterCompletion"])
	assert.Equal(t, map[string]any{"Mode": "OFF"}, c.Body["FlexibleTimeWindow"])
	assert.Equal(t, "UTC", c.Body["ScheduleExpressionTimezone"])
	assert.Regexp(t, `^at\(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\)$`, c.Body["ScheduleExpression"])
	assert.NotContains(t, c.Body, "Name", "the name travels in the path")
	target, _ := c.Body["Target"].(map[string]any)
	assert.Equal(t, testFunction, target["Arn"])
	assert.Equal(t, testRole, target["RoleArn"])
	assert.JSONEq(t, `{"expire":{"run":"api-7","task":"Release.Approve.1"}}`, target["Input"].(string))

	// Scheduler's 409 for a name taken (a retried invocation) decodes as ConflictException.
	_, err = r.h.Handle(lambdaCtx(), waitInput("approval", 3600, nil))
	require.NoError(t, err)
	assert.Len(t, r.sched.recorded(), 2)
	assert.Len(t, r.events.requested(t), 1, "the retry finds the approval announced already")
}

func TestTheScheduleIsAcceptedByMotosScheduler(t *testing.T) {
	r := newAWSRig(t, true)
	_, err := r.h.Handle(lambdaCtx(), waitInput("approval", 3600, nil))
	require.NoError(t, err)
	got, err := scheduler.NewFromConfig(r.moto.Config()).GetSchedule(context.Background(), &scheduler.GetScheduleInput{
		Name: aws.String(ScheduleName("api-7", "Release.Approve.1")), GroupName: aws.String(r.table + "-group")})
	require.NoError(t, err)
	assert.Equal(t, testFunction, aws.ToString(got.Target.Arn))
	assert.Equal(t, "DELETE", string(got.ActionAfterCompletion))
	assert.True(t, strings.HasPrefix(aws.ToString(got.ScheduleExpression), "at("))
}

func TestTheExpiryFailsTheTaskThroughStepFunctionsJSONProtocol(t *testing.T) {
	r := newAWSRig(t, false)
	_, err := r.h.Handle(lambdaCtx(), waitInput("approval", 3600, nil))
	require.NoError(t, err)
	tok, err := r.store.Token(context.Background(), "api-7", "Release.Approve.1")
	require.NoError(t, err, "the token is in DynamoDB")
	assert.Equal(t, testToken, tok)

	out, err := r.h.Handle(lambdaCtx(), Input{Expire: &Expire{Run: "api-7", Task: "Release.Approve.1"}})
	require.NoError(t, err)
	assert.True(t, out.Expired)
	calls := r.sfn.recorded()
	require.Len(t, calls, 1)
	assert.Equal(t, "AWSStepFunctions.SendTaskFailure", calls[0].Target)
	assert.Equal(t, "application/x-amz-json-1.0", calls[0].ContentType)
	assert.Equal(t, testToken, calls[0].Body["taskToken"])
	assert.Equal(t, statemachine.ErrActionTimedOut, calls[0].Body["error"])
	assert.Contains(t, calls[0].Body["cause"], "not answered by its deadline")
	_, err = r.store.Token(context.Background(), "api-7", "Release.Approve.1")
	require.Error(t, err, "the token is deleted from DynamoDB")
}

func TestAnExpiryOfATaskStepFunctionsClosedDecodesTaskTimedOut(t *testing.T) {
	r := newAWSRig(t, false)
	r.sfn.answer = stepFunctions(func(string) bool { return true }).answer
	_, err := r.h.Handle(lambdaCtx(), waitInput("approval", 3600, nil))
	require.NoError(t, err)
	out, err := r.h.Handle(lambdaCtx(), Input{Expire: &Expire{Run: "api-7", Task: "Release.Approve.1"}})
	require.NoError(t, err, "TaskTimedOut means the task is over: nothing to retry")
	assert.False(t, out.Expired)
	_, err = r.store.Token(context.Background(), "api-7", "Release.Approve.1")
	require.Error(t, err)
}

func TestAnApprovalNobodyCanHearOfTakesItsDeadlineOutOfScheduler(t *testing.T) {
	r := newAWSRig(t, true)
	ctx := context.Background()
	// Announcing fails: the bus is gone.
	_, err := eventbridge.NewFromConfig(r.moto.Config()).DeleteEventBus(ctx, &eventbridge.DeleteEventBusInput{Name: aws.String(r.bus)})
	require.NoError(t, err)
	_, err = r.h.Handle(lambdaCtx(), waitInput("approval", 3600, nil))
	var failed *ActionFailed
	require.ErrorAs(t, err, &failed)
	assert.Contains(t, failed.Msg, "announce it")

	_, err = scheduler.NewFromConfig(r.moto.Config()).GetSchedule(ctx, &scheduler.GetScheduleInput{
		Name: aws.String(ScheduleName("api-7", "Release.Approve.1")), GroupName: aws.String(r.table + "-group")})
	var gone *schedulertypes.ResourceNotFoundException
	require.ErrorAs(t, err, &gone, "the deadline's schedule was deleted with the approval")
}
