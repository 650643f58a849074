package waitstep

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	schedtypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/approval"
	"github.com/stepline/stepline/pkg/statemachine"
)

// errorType is the name aws-lambda-go reports for err: the type's name, without package or
// pointer; the Wait state's Catch matches it.
func errorType(err error) string {
	t := reflect.TypeOf(err)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

func TestAnApprovalKeepsItsTokenSetsItsDeadlineAndIsAnnounced(t *testing.T) {
	t.Parallel()
	r := newRig()
	in := waitInput("approval", 86400, map[string]any{"message": "Ship 4f2c1ab?", "url": "https://example.com/diff"})
	out, err := r.h.Handle(lambdaCtx(), in)
	require.NoError(t, err)

	deadline := time.Date(2026, 12, 3, 9, 0, 1, 0, time.UTC) // now + 24h, rounded up to the second
	assert.Equal(t, Output{Waiting: "Release.Approve.1", Expires: &deadline}, out)

	tok, ok := r.tokens.get("api-7", "Release.Approve.1")
	require.True(t, ok)
	assert.Equal(t, testToken, tok.value)
	assert.Equal(t, deadline.Add(TokenGrace), tok.expires, "the token outlives the deadline, so the expiry still finds it")
	raw, ok := r.tokens.get("api-7", "Release.Approve.1#request")
	require.True(t, ok)
	var req approval.Request
	require.NoError(t, json.Unmarshal([]byte(raw.value), &req))
	assert.Regexp(t, `^[A-Za-z0-9_-]{43}$`, req.Key, "32 random bytes in base64url")
	assert.Equal(t, approval.Request{Pipeline: "api", Run: "api-7", Stage: "Release", Action: "Approve", Attempt: 1,
		Message: "Ship 4f2c1ab?", URL: "https://example.com/diff", Expires: deadline, Key: req.Key, Announced: true}, req)
	assert.Equal(t, deadline.Add(TokenGrace), raw.expires)

	require.Len(t, r.sched.created, 1)
	s := r.sched.created[0]
	assert.Equal(t, ScheduleName("api-7", "Release.Approve.1"), aws.ToString(s.Name))
	assert.Regexp(t, `^approval-[0-9a-f]{32}$`, aws.ToString(s.Name), "Scheduler names: 64 characters of [0-9A-Za-z_.-]")
	assert.Equal(t, "stepline", aws.ToString(s.GroupName))
	assert.Equal(t, "at(2026-12-03T09:00:01)", aws.ToString(s.ScheduleExpression))
	assert.Equal(t, "UTC", aws.ToString(s.ScheduleExpressionTimezone))
	assert.Equal(t, schedtypes.ActionAfterCompletionDelete, s.ActionAfterCompletion)
	assert.Equal(t, schedtypes.FlexibleTimeWindowModeOff, s.FlexibleTimeWindow.Mode)
	assert.Equal(t, testFunction, aws.ToString(s.Target.Arn), "the schedule invokes this very function")
	assert.Equal(t, testRole, aws.ToString(s.Target.RoleArn))
	assert.JSONEq(t, `{"expire":{"run":"api-7","task":"Release.Approve.1"}}`, aws.ToString(s.Target.Input))

	sent := details[approval.RequestedDetail](t, r.bus, approval.DetailRequested)
	require.Len(t, sent, 1)
	d := sent[0]
	assert.Equal(t, "api", d.Pipeline)
	assert.Equal(t, "api-7", d.Run)
	assert.Equal(t, "Release", d.Stage)
	assert.Equal(t, "Approve", d.Action)
	assert.Equal(t, "Ship 4f2c1ab?", d.Message)
	assert.Equal(t, "https://example.com/diff", d.URL)
	assert.Equal(t, "2026-12-03T09:00:01Z", d.Expires)
	for _, link := range []string{d.Review, d.Approve, d.Reject} {
		u, err := url.Parse(link)
		require.NoError(t, err)
		assert.Equal(t, "abc123.execute-api.us-east-1.amazonaws.com", u.Host)
		assert.Equal(t, "/approvals/api-7/Release.Approve.1", u.Path)
		assert.Equal(t, req.Key, u.Query().Get("key"), "the capability is the key kept with the request")
		assert.NotContains(t, link, testToken, "the token itself never leaves the table")
	}
	assert.Equal(t, []string{testMachine}, r.bus.entries[0].Entries[0].Resources)
}

func TestTheApprovalTimeoutFollowsThePipelineFileRules(t *testing.T) {
	t.Parallel()
	week := 7 * 24 * time.Hour
	for _, c := range []struct {
		name    string
		seconds int
		task    time.Duration
		want    time.Duration
	}{
		{"the attempt's timeout is used", 3600, 0, time.Hour},
		{"the task's timeout is used when the item has none", 0, 2 * time.Hour, 2 * time.Hour},
		{"no timeout at all waits 7 days, the default", 0, 0, week},
		{"a longer timeout is capped at 7 days, the maximum", 30 * 86400, 0, week},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := newRig()
			r.now = testNow.Truncate(time.Second)
			in := waitInput("approval", c.seconds, nil)
			in.Task.Task.Timeout = c.task
			out, err := r.h.Handle(lambdaCtx(), in)
			require.NoError(t, err)
			assert.Equal(t, r.now.Add(c.want), *out.Expires)
		})
	}
}

func TestDeployProvidersFailAtOnceWhereTheDeploymentServesNone(t *testing.T) {
	t.Parallel()
	for _, provider := range []string{"ecs", "codedeploy", "cloudformation", "s3"} {
		t.Run(provider, func(t *testing.T) {
			t.Parallel()
			r := newRig()
			_, err := r.h.Handle(lambdaCtx(), waitInput(provider, 600, map[string]any{"cluster": "main"}))
			require.Error(t, err)
			assert.Equal(t, statemachine.ErrActionFailed, errorType(err), "the Wait state catches it by name")
			assert.Contains(t, err.Error(), "provider "+provider+" is not available on AWS in this deployment")
			assert.Contains(t, err.Error(), "Release/Approve")
			assert.Empty(t, r.tokens.items, "nothing is kept for a wait nobody would answer")
			assert.Empty(t, r.sched.created)
			assert.Empty(t, r.bus.entries)
		})
	}
}

func TestABadRequestFailsTheActionByName(t *testing.T) {
	t.Parallel()
	noToken := waitInput("approval", 60, nil)
	noToken.Token = ""
	noTask := waitInput("approval", 60, nil)
	noTask.Task = nil
	noAttempt := waitInput("approval", 60, nil)
	noAttempt.Task.Task.Attempt = 0
	for name, c := range map[string]struct {
		ctx context.Context
		in  Input
	}{
		"no token":            {lambdaCtx(), noToken},
		"no task":             {lambdaCtx(), noTask},
		"no attempt":          {lambdaCtx(), noAttempt},
		"an unknown provider": {lambdaCtx(), waitInput("lambda", 60, nil)},
		"no Lambda context":   {context.Background(), waitInput("approval", 60, nil)},
	} {
		r := newRig()
		_, err := r.h.Handle(c.ctx, c.in)
		require.Error(t, err, name)
		assert.Equal(t, statemachine.ErrActionFailed, errorType(err), name)
		assert.Empty(t, r.sched.created, name)
	}
}

func TestTheErrorNamesArePinnedToTheStateMachine(t *testing.T) {
	t.Parallel()
	assert.Equal(t, []string{statemachine.ErrActionFailed}, ErrorNames)
	assert.Equal(t, statemachine.ErrActionFailed, errorType(&ActionFailed{}))
}

// keptRequest returns the request the handler keeps for Release.Approve.1 of api-7.
func keptRequest(t *testing.T, r *rig) approval.Request {
	t.Helper()
	raw, ok := r.tokens.get("api-7", approval.RequestKey("Release.Approve.1"))
	require.True(t, ok, "the request is kept")
	var req approval.Request
	require.NoError(t, json.Unmarshal([]byte(raw.value), &req))
	return req
}

// tokenDigest is the key the links used to carry: base64url of the first 24 bytes of the
// token's SHA-256, which anyone reading the execution history could compute.
func tokenDigest(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:24])
}

func TestTheKeyIsDrawnAtRandomNotDerivedFromTheToken(t *testing.T) {
	t.Parallel()
	keys := map[string]bool{}
	for range 3 {
		r := newRig()
		_, err := r.h.Handle(lambdaCtx(), waitInput("approval", 3600, nil))
		require.NoError(t, err)
		key := keptRequest(t, r).Key
		assert.NotEqual(t, tokenDigest(testToken), key, "the token is in the execution history")
		sent := details[approval.RequestedDetail](t, r.bus, approval.DetailRequested)
		require.Len(t, sent, 1)
		u, err := url.Parse(sent[0].Approve)
		require.NoError(t, err)
		assert.Equal(t, key, u.Query().Get("key"))
		keys[key] = true
	}
	assert.Len(t, keys, 3, "the same token gives a new key each time")
}

func TestARetriedInvocationKeepsTheKeyAndDeadlineAndOnlyStoresTheNewToken(t *testing.T) {
	t.Parallel()
	r := newRig()
	first, err := r.h.Handle(lambdaCtx(), waitInput("approval", 3600, nil))
	require.NoError(t, err)
	kept := keptRequest(t, r)

	r.now = testNow.Add(90 * time.Second) // the Wait state retries after a Lambda service error
	again := waitInput("approval", 3600, nil)
	again.Token = "a-new-token-of-the-retried-task"
	out, err := r.h.Handle(lambdaCtx(), again)
	require.NoError(t, err, "ConflictException: the deadline is set already")
	assert.Equal(t, "Release.Approve.1", out.Waiting)
	assert.Equal(t, *first.Expires, *out.Expires, "the deadline announced stands")
	assert.Equal(t, kept, keptRequest(t, r), "the key of the links already sent stands")
	tok, _ := r.tokens.get("api-7", "Release.Approve.1")
	assert.Equal(t, "a-new-token-of-the-retried-task", tok.value, "the latest token is the one Step Functions waits on")
	assert.Equal(t, first.Expires.Add(TokenGrace), tok.expires)
	assert.Len(t, r.sched.created, 1)
	assert.Len(t, details[approval.RequestedDetail](t, r.bus, approval.DetailRequested), 1, "the links went out once")
}

func TestARetryAfterAnInvocationThatStoppedBeforeAnnouncingAnnouncesTheSameLinks(t *testing.T) {
	t.Parallel()
	r := newRig()
	// The first invocation kept the request, the token and the schedule, then stopped (a
	// timeout, a crash) before the announcement.
	deadline := time.Date(2026, 12, 2, 10, 0, 1, 0, time.UTC)
	key := approval.NewKey()
	req := approval.Request{Pipeline: "api", Run: "api-7", Stage: "Release", Action: "Approve", Attempt: 1, Expires: deadline, Key: key}
	raw, err := json.Marshal(req)
	require.NoError(t, err)
	require.NoError(t, r.tokens.PutToken(context.Background(), "api-7", approval.RequestKey("Release.Approve.1"), string(raw), deadline.Add(TokenGrace)))
	_, err = r.h.schedule(lambdaCtx(), ScheduleName("api-7", "Release.Approve.1"), testFunction, Expire{Run: "api-7", Task: "Release.Approve.1"}, deadline)
	require.NoError(t, err)

	r.now = testNow.Add(2 * time.Minute)
	again := waitInput("approval", 3600, nil)
	again.Token = "a-new-token-of-the-retried-task"
	out, err := r.h.Handle(lambdaCtx(), again)
	require.NoError(t, err)
	assert.Equal(t, deadline, *out.Expires)
	sent := details[approval.RequestedDetail](t, r.bus, approval.DetailRequested)
	require.Len(t, sent, 1, "nothing says the links went out: they are announced")
	assert.Equal(t, "2026-12-02T10:00:01Z", sent[0].Expires)
	u, err := url.Parse(sent[0].Review)
	require.NoError(t, err)
	assert.Equal(t, key, u.Query().Get("key"))
	assert.True(t, keptRequest(t, r).Announced, "a further retry will not announce again")
	assert.Len(t, r.sched.created, 1)
}

func TestADeadlineIsNeverLessThanAMinuteAhead(t *testing.T) {
	t.Parallel()
	r := newRig()
	out, err := r.h.Handle(lambdaCtx(), waitInput("approval", 5, nil))
	require.NoError(t, err)
	want := time.Date(2026, 12, 2, 9, 1, 1, 0, time.UTC) // now + 60 s, rounded up
	assert.Equal(t, want, *out.Expires)
	assert.Equal(t, "at(2026-12-02T09:01:01)", aws.ToString(r.sched.created[0].ScheduleExpression))

	// A retry that comes after its deadline has passed (and its schedule has fired and
	// deleted itself) sets the schedule a minute ahead, never in the past.
	r.now = testNow.Add(10 * time.Minute)
	r.sched.live = nil
	again := waitInput("approval", 5, nil)
	again.Token = "a-new-token-of-the-retried-task"
	out, err = r.h.Handle(lambdaCtx(), again)
	require.NoError(t, err)
	assert.Equal(t, want, *out.Expires, "the deadline announced stands")
	require.Len(t, r.sched.created, 2)
	assert.Equal(t, "at(2026-12-02T09:11:01)", aws.ToString(r.sched.created[1].ScheduleExpression))
}

func TestAnApprovalThatCannotBeSetUpFailsAndLeavesNothingBehind(t *testing.T) {
	t.Parallel()
	t.Run("the announcement fails: the schedule and the token are removed", func(t *testing.T) {
		t.Parallel()
		r := newRig()
		r.bus.fail = errors.New("AccessDeniedException")
		_, err := r.h.Handle(lambdaCtx(), waitInput("approval", 3600, nil))
		require.Error(t, err)
		assert.Equal(t, statemachine.ErrActionFailed, errorType(err))
		assert.Contains(t, err.Error(), "announce it")
		assert.Equal(t, []string{"stepline/" + ScheduleName("api-7", "Release.Approve.1")}, r.sched.deleted)
		_, kept := r.tokens.get("api-7", "Release.Approve.1")
		assert.False(t, kept)
		_, kept = r.tokens.get("api-7", approval.RequestKey("Release.Approve.1"))
		assert.False(t, kept, "the key of links nobody received is dropped")
	})
	t.Run("the schedule cannot be created", func(t *testing.T) {
		t.Parallel()
		r := newRig()
		r.sched.fail = errors.New("ValidationException: the role cannot be assumed")
		_, err := r.h.Handle(lambdaCtx(), waitInput("approval", 3600, nil))
		require.Error(t, err)
		assert.Equal(t, statemachine.ErrActionFailed, errorType(err))
		assert.Contains(t, err.Error(), "set its deadline")
		assert.Empty(t, r.bus.entries, "an approval without a deadline is not announced")
	})
	t.Run("the token cannot be kept", func(t *testing.T) {
		t.Parallel()
		r := newRig()
		r.tokens.fail = func(op, task string) error {
			if op == "PutToken" && task == "Release.Approve.1" {
				return errors.New("ProvisionedThroughputExceededException")
			}
			return nil
		}
		_, err := r.h.Handle(lambdaCtx(), waitInput("approval", 3600, nil))
		require.Error(t, err)
		assert.Equal(t, statemachine.ErrActionFailed, errorType(err))
		assert.Contains(t, err.Error(), "keep the task token")
		assert.Empty(t, r.sched.created)
	})
}

func TestTheDeadlineFailsAWaitingApprovalAsTimedOut(t *testing.T) {
	t.Parallel()
	r := newRig()
	_, err := r.h.Handle(lambdaCtx(), waitInput("approval", 3600, map[string]any{"message": "go?"}))
	require.NoError(t, err)
	var e Input
	require.NoError(t, json.Unmarshal([]byte(aws.ToString(r.sched.created[0].Target.Input)), &e))

	r.now = testNow.Add(time.Hour + time.Second) // Scheduler fires at the deadline
	out, err := r.h.Handle(lambdaCtx(), e)
	require.NoError(t, err)
	assert.True(t, out.Expired)
	require.Len(t, r.sfn.failures, 1)
	f := r.sfn.failures[0]
	assert.Equal(t, testToken, aws.ToString(f.TaskToken))
	assert.Equal(t, statemachine.ErrActionTimedOut, aws.ToString(f.Error), "the Wait state catches it by name")
	assert.Equal(t, "the approval was not answered by its deadline, 2026-12-02T10:00:01Z", aws.ToString(f.Cause))
	_, kept := r.tokens.get("api-7", "Release.Approve.1")
	assert.False(t, kept)
	decided := details[approval.DecidedDetail](t, r.bus, approval.DetailDecided)
	require.Len(t, decided, 1)
	assert.Equal(t, approval.Expired, decided[0].Decision)
	assert.Equal(t, "Approve", decided[0].Action)

	// The schedule may fire twice (Scheduler delivers at least once): nothing more happens.
	out, err = r.h.Handle(lambdaCtx(), e)
	require.NoError(t, err)
	assert.False(t, out.Expired)
	assert.Len(t, r.sfn.failures, 1)
}

func TestADecidedApprovalIgnoresItsDeadline(t *testing.T) {
	t.Parallel()
	r := newRig()
	out, err := r.h.Handle(lambdaCtx(), Input{Expire: &Expire{Run: "api-7", Task: "Release.Approve.1"}})
	require.NoError(t, err)
	assert.False(t, out.Expired)
	assert.Empty(t, r.sfn.failures)
	assert.Empty(t, r.bus.entries)
}

func TestTheDeadlineOfATaskAlreadyClosedOnlyForgetsTheToken(t *testing.T) {
	t.Parallel()
	r := newRig()
	_, err := r.h.Handle(lambdaCtx(), waitInput("approval", 60, nil))
	require.NoError(t, err)
	r.sfn.fail = &sfntypes.TaskTimedOut{Message: aws.String("Task Timed Out: 'Provided task does not exist anymore'")}
	out, err := r.h.Handle(lambdaCtx(), Input{Expire: &Expire{Run: "api-7", Task: "Release.Approve.1"}})
	require.NoError(t, err)
	assert.False(t, out.Expired)
	_, kept := r.tokens.get("api-7", "Release.Approve.1")
	assert.False(t, kept)
	assert.Empty(t, details[approval.DecidedDetail](t, r.bus, approval.DetailDecided))
}

func TestAFailedExpiryIsReturnedForSchedulerToRetry(t *testing.T) {
	t.Parallel()
	r := newRig()
	_, err := r.h.Handle(lambdaCtx(), waitInput("approval", 60, nil))
	require.NoError(t, err)
	r.sfn.fail = errors.New("ServiceUnavailable")
	_, err = r.h.Handle(lambdaCtx(), Input{Expire: &Expire{Run: "api-7", Task: "Release.Approve.1"}})
	require.Error(t, err)
	_, kept := r.tokens.get("api-7", "Release.Approve.1")
	assert.True(t, kept, "the retry needs the token")

	r = newRig()
	r.tokens.fail = func(op, _ string) error { return errors.New("dynamodb down") }
	_, err = r.h.Handle(lambdaCtx(), Input{Expire: &Expire{Run: "api-7", Task: "Release.Approve.1"}})
	require.Error(t, err)
	_, err = r.h.Handle(lambdaCtx(), Input{Expire: &Expire{}})
	require.Error(t, err)
}
