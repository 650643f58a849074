package approval

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/store"
)

// memTokens is an in-memory token store with the expiry rule of store/dynamo: a token past
// its expiry is not found. fail, when set, fails every call naming op.
type memTokens struct {
	mu      sync.Mutex
	now     func() time.Time
	items   map[[2]string]memToken
	fail    func(op string) error
	deleted []string
}

type memToken struct {
	value   string
	expires time.Time
}

func newMemTokens(now func() time.Time) *memTokens {
	return &memTokens{now: now, items: map[[2]string]memToken{}}
}

func (m *memTokens) PutToken(_ context.Context, run, task, token string, expires time.Time) error {
	if m.fail != nil {
		if err := m.fail("PutToken"); err != nil {
			return err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.items[[2]string{run, task}] = memToken{token, expires}
	return nil
}

func (m *memTokens) Token(_ context.Context, run, task string) (string, error) {
	if m.fail != nil {
		if err := m.fail("Token"); err != nil {
			return "", err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	it, ok := m.items[[2]string{run, task}]
	if !ok || (!it.expires.IsZero() && !m.now().Before(it.expires)) {
		return "", fmt.Errorf("token of %s %s: %w", run, task, store.ErrNotFound)
	}
	return it.value, nil
}

func (m *memTokens) DeleteToken(_ context.Context, run, task string) error {
	if m.fail != nil {
		if err := m.fail("DeleteToken"); err != nil {
			return err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.items, [2]string{run, task})
	m.deleted = append(m.deleted, run+" "+task)
	return nil
}

func (m *memTokens) has(run, task string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.items[[2]string{run, task}]
	return ok
}

// memSFN records the answers sent to task tokens; fail, when set, decides each call's error.
type memSFN struct {
	mu        sync.Mutex
	successes []sfn.SendTaskSuccessInput
	failures  []sfn.SendTaskFailureInput
	fail      func(token string) error
}

func (f *memSFN) SendTaskSuccess(_ context.Context, in *sfn.SendTaskSuccessInput, _ ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.successes = append(f.successes, *in)
	if f.fail != nil {
		if err := f.fail(aws.ToString(in.TaskToken)); err != nil {
			return nil, err
		}
	}
	return &sfn.SendTaskSuccessOutput{}, nil
}

func (f *memSFN) SendTaskFailure(_ context.Context, in *sfn.SendTaskFailureInput, _ ...func(*sfn.Options)) (*sfn.SendTaskFailureOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures = append(f.failures, *in)
	if f.fail != nil {
		if err := f.fail(aws.ToString(in.TaskToken)); err != nil {
			return nil, err
		}
	}
	return &sfn.SendTaskFailureOutput{}, nil
}

func (f *memSFN) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.successes) + len(f.failures)
}

// memBus records the events put on it.
type memBus struct {
	mu      sync.Mutex
	entries []eventbridge.PutEventsInput
	fail    error
}

func (b *memBus) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fail != nil {
		return nil, b.fail
	}
	b.entries = append(b.entries, *in)
	return &eventbridge.PutEventsOutput{}, nil
}

// decided returns the details of the "Approval Decided" events put so far.
func (b *memBus) decided(t *testing.T) []DecidedDetail {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []DecidedDetail
	for _, in := range b.entries {
		for _, e := range in.Entries {
			require.Equal(t, Source, aws.ToString(e.Source))
			if aws.ToString(e.DetailType) != DetailDecided {
				continue
			}
			var d DecidedDetail
			require.NoError(t, json.Unmarshal([]byte(aws.ToString(e.Detail)), &d))
			out = append(out, d)
		}
	}
	return out
}

// Fixture values.
const (
	testRun   = "api-7"
	testTask  = "Release.Approve.1"
	testToken = "AQCEAAAAKgAAAAMAAAAAAAAAAfixture-token-of-the-wait-state"
	// testKey stands for the 32 random bytes the wait function drew for the approval.
	testKey = "q3Xv0Rk2cJ8mZpL1sWf9aT4yHn6uEb7dGi5oKjMxVQw"
)

var testNow = time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)

// rig is a handler over fakes, with one open approval kept as the wait function keeps it.
type rig struct {
	h      *Handler
	tokens *memTokens
	sfn    *memSFN
	bus    *memBus
	now    time.Time
	req    Request
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{sfn: &memSFN{}, bus: &memBus{}, now: testNow}
	clock := func() time.Time { return r.now }
	r.tokens = newMemTokens(clock)
	r.req = Request{Pipeline: "api", Run: testRun, Stage: "Release", Action: "Approve", Attempt: 1,
		Message: "Ship 4f2c1ab to production?", URL: "https://github.com/octo/api/compare/v1.4.0...4f2c1ab",
		Expires: testNow.Add(24 * time.Hour), Key: testKey, Announced: true}
	r.keep(t, r.req, testToken)
	r.h = New(r.tokens, r.sfn, r.bus, "stepline", WithClock(clock))
	return r
}

// keep stores req and its token as the wait function does.
func (r *rig) keep(t *testing.T, req Request, token string) {
	t.Helper()
	raw, err := json.Marshal(req)
	require.NoError(t, err)
	keep := req.Expires.Add(24 * time.Hour)
	require.NoError(t, r.tokens.PutToken(context.Background(), req.Run, RequestKey(req.Task()), string(raw), keep))
	require.NoError(t, r.tokens.PutToken(context.Background(), req.Run, req.Task(), token, keep))
}

func (r *rig) serve(t *testing.T, in events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	t.Helper()
	res, err := r.h.HandleAPIGateway(context.Background(), in)
	require.NoError(t, err, "the handler answers every request with a page")
	return res
}

// get is the API Gateway event of GET /approvals/{run}/{task}?rawQuery.
func get(run, task, rawQuery string) events.APIGatewayV2HTTPRequest {
	in := apiRequest("GET", run, task)
	in.RawQueryString = rawQuery
	return in
}

// post is the API Gateway event of the page's form posted with body.
func post(run, task, body string) events.APIGatewayV2HTTPRequest {
	in := apiRequest("POST", run, task)
	in.Headers["content-type"] = "application/x-www-form-urlencoded"
	in.Body = body
	return in
}

func apiRequest(method, run, task string) events.APIGatewayV2HTTPRequest {
	path := "/approvals/" + run + "/" + task
	return events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: method + " /approvals/{run}/{task}", RawPath: path,
		Headers:        map[string]string{"user-agent": "Mozilla/5.0"},
		PathParameters: map[string]string{"run": run, "task": task},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey: method + " /approvals/{run}/{task}", Stage: "$default",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: path, Protocol: "HTTP/1.1", SourceIP: "192.0.2.10"},
		},
	}
}
