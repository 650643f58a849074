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
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/smithy-go/middleware"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/iamcheck"
	"github.com/stepline/stepline/pkg/trigger"
)

// schedulerServer answers EventBridge Scheduler's REST-JSON protocol as the service does for
// CreateSchedule (POST /schedules/{Name}), UpdateSchedule (PUT) and DeleteSchedule (DELETE
// ?groupName=), keeping schedules by group and name: {"ScheduleArn": …} on success, 404
// ResourceNotFoundException and 409 ConflictException with the x-amzn-ErrorType header and a
// {"Message": …} body, and 400 ValidationException for an expression it cannot read.
type schedulerServer struct {
	mu        sync.Mutex
	schedules map[string]map[string]any
	reqs      []recorded
	srv       *httptest.Server
}

type recorded struct {
	Method, Path string
	Query        url.Values
	Body         map[string]any
}

var scheduleExprRE = regexp.MustCompile(`^(cron\(\S+( \S+){5}\)|rate\(\d+ (minute|minutes|hour|hours|day|days)\))$`)

func newSchedulerServer(t *testing.T) *schedulerServer {
	s := &schedulerServer{schedules: map[string]map[string]any{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *schedulerServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	s.reqs = append(s.reqs, recorded{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Body: body})
	name := strings.TrimPrefix(r.URL.Path, "/schedules/")
	group, _ := body["GroupName"].(string)
	if r.Method == http.MethodDelete {
		group = r.URL.Query().Get("groupName")
	}
	k := group + "/" + name
	fail := func(status int, typ, msg string) {
		w.Header().Set("x-amzn-ErrorType", typ+":http://internal.amazon.com/coral/com.amazonaws.chronos.controlplane/")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"Message":%q}`, msg)
	}
	ok := func() {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"ScheduleArn":"arn:aws:scheduler:us-east-1:123456789012:schedule/%s"}`, k)
	}
	_, exists := s.schedules[k]
	expr, _ := body["ScheduleExpression"].(string)
	switch {
	case r.Method != http.MethodDelete && !scheduleExprRE.MatchString(expr):
		fail(http.StatusBadRequest, "ValidationException", "Invalid Schedule Expression "+expr+".")
	case r.Method == http.MethodPost && exists:
		fail(http.StatusConflict, "ConflictException", "Schedule "+name+" already exists.")
	case r.Method == http.MethodPost:
		s.schedules[k] = body
		ok()
	case r.Method == http.MethodPut && !exists, r.Method == http.MethodDelete && !exists:
		fail(http.StatusNotFound, "ResourceNotFoundException", "Schedule "+name+" does not exist.")
	case r.Method == http.MethodPut:
		s.schedules[k] = body
		ok()
	case r.Method == http.MethodDelete:
		delete(s.schedules, k)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{}`)
	default:
		fail(http.StatusBadRequest, "ValidationException", "unexpected "+r.Method)
	}
}

func (s *schedulerServer) requests() []recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]recorded(nil), s.reqs...)
}

// client is a real Scheduler client pointed at the server, as the trigger function's (its
// calls are recorded for the IAM check, iamcheck) with the memory rig's group and role.
func (s *schedulerServer) client(t *testing.T) *scheduler.Client {
	t.Helper()
	rec := iamcheck.NewRecorder(t, "trigger", map[string]string{"env:STEPLINE_SCHEDULE_GROUP": memGroup, "env:STEPLINE_SCHEDULER_ROLE_ARN": memRoleARN})
	return scheduler.New(scheduler.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", ""), HTTPClient: s.srv.Client(),
		APIOptions: []func(*middleware.Stack) error{rec.Add}})
}

// TestSchedulesAreSyncedWithScheduler'sRequestShapes drives the real SDK client against the
// local server: the request of each operation, and the errors the sync relies on.
func TestSchedulesAreSyncedThroughTheRealSchedulerClient(t *testing.T) {
	t.Parallel()
	srv := newSchedulerServer(t)
	var logs bytes.Buffer
	h := &Handler{scheduler: srv.client(t), scheduleGroup: memGroup, schedulerRole: memRoleARN, log: slog.New(slog.NewJSONHandler(&logs, nil))}
	ctx := context.Background()
	req := h.scheduleRequest("github", "acme/app", trigger.Schedule{Pipeline: "nightly", Trigger: 2, Expression: "cron(0 3 * * ? *)", Branch: "main"})
	name := ScheduleName("github", "acme/app", "nightly", 2)

	require.NoError(t, h.putSchedule(ctx, h.log, memQueueARN, req), "a new schedule")
	require.NoError(t, h.putSchedule(ctx, h.log, memQueueARN, req), "the same schedule again")
	require.NoError(t, h.deleteSchedule(ctx, h.log, name))
	require.NoError(t, h.deleteSchedule(ctx, h.log, name), "a schedule already gone")
	bad := req
	bad.expression = "cron(every night)"
	require.NoError(t, h.putSchedule(ctx, h.log, memQueueARN, bad), "a refused expression is logged, not retried")
	assert.Contains(t, logs.String(), "Invalid Schedule Expression")

	reqs := srv.requests()
	var ops []string
	for _, r := range reqs {
		ops = append(ops, r.Method+" "+r.Path)
	}
	path := "/schedules/" + name
	assert.Equal(t, []string{"PUT " + path, "POST " + path, "PUT " + path, "DELETE " + path, "DELETE " + path, "PUT " + path}, ops,
		"the refused expression stops at the first request, which the service validates before looking the schedule up")

	create := reqs[1].Body
	assert.Equal(t, memGroup, create["GroupName"])
	assert.Equal(t, "cron(0 3 * * ? *)", create["ScheduleExpression"])
	assert.Equal(t, "ENABLED", create["State"])
	assert.Equal(t, map[string]any{"Mode": "OFF"}, create["FlexibleTimeWindow"])
	assert.NotEmpty(t, create["ClientToken"], "the SDK makes creation idempotent")
	assert.Equal(t, "stepline: github acme/app, pipeline nightly, schedule trigger #3 on main", create["Description"])
	target := create["Target"].(map[string]any)
	assert.Equal(t, memQueueARN, target["Arn"], "the schedule sends to the trigger queue")
	assert.NotContains(t, target, "SqsParameters", "a standard queue takes no message group")
	assert.Equal(t, memRoleARN, target["RoleArn"])
	assert.JSONEq(t, `{"stepline-schedule":{"provider":"github","repository":"acme/app","pipeline":"nightly","trigger":2,"branch":"main","time":"<aws.scheduler.scheduled-time>"}}`,
		target["Input"].(string))
	assert.Equal(t, memGroup, reqs[3].Query.Get("groupName"))
}

func TestScheduleNamesAreStableUniqueAndWithinSchedulersLimits(t *testing.T) {
	t.Parallel()
	valid := regexp.MustCompile(`^[0-9A-Za-z._-]{1,64}$`)
	long := strings.Repeat("very-long-name/", 10)
	tests := []struct {
		name                     string
		provider, repo, pipeline string
		index                    int
	}{
		{"a short name stays readable", "github", "acme/app", "nightly", 0},
		{"a long repository is cut", "bitbucket-server", long + "x", "nightly", 3},
		{"odd characters become dashes", "github", "Ünïcode/Repo.Name", "build & test", 12},
	}
	seen := map[string]bool{}
	for _, tc := range tests {
		n := ScheduleName(tc.provider, tc.repo, tc.pipeline, tc.index)
		assert.Regexp(t, valid, n, tc.name)
		assert.Equal(t, n, ScheduleName(tc.provider, tc.repo, tc.pipeline, tc.index), "%s: deterministic", tc.name)
		assert.False(t, seen[n], "%s: unique", tc.name)
		seen[n] = true
	}
	assert.True(t, strings.HasPrefix(ScheduleName("github", "acme/app", "nightly", 0), "acme-app.nightly.0-"))
	assert.NotEqual(t, ScheduleName("github", long+"a", "p", 0), ScheduleName("github", long+"b", "p", 0), "names cut alike differ by their digest")
	assert.NotEqual(t, ScheduleName("github", "acme/app", "p", 0), ScheduleName("bitbucket", "acme/app", "p", 0))
	assert.NotEqual(t, ScheduleName("github", "acme/app", "p", 0), ScheduleName("github", "acme/app", "p", 1))
}

func TestScheduleSyncNeedsTheTriggerQueue(t *testing.T) {
	t.Parallel()
	r := newMemRig(t)
	WithScheduler(r.sched, memGroup, memRoleARN, "")(r.h)
	r.repo.set(commitA, registeredFile)
	require.NoError(t, r.h.Handle(r.ctx, pushTo(t, "main", commitA, t0)), "acknowledged, logged")
	assert.Contains(t, r.logs.String(), "no trigger queue is configured")
	assert.Empty(t, r.sched.names(), "no schedule without a target")
	assert.Len(t, r.sfn.started(), 1, "the push's own pipelines still run")
}
