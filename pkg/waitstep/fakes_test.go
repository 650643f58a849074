package waitstep

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	schedtypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/approval"
	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/statemachine"
	"github.com/stepline/stepline/pkg/store"
	"github.com/stepline/stepline/pkg/store/dynamo"
)

// memTokens is an in-memory token store with store/dynamo's expiry rule. fail, when set,
// decides each call's error by operation.
type memTokens struct {
	mu    sync.Mutex
	now   func() time.Time
	items map[[2]string]memToken
	fail  func(op, task string) error
}

type memToken struct {
	value   string
	expires time.Time
}

func (m *memTokens) check(op, task string) error {
	if m.fail == nil {
		return nil
	}
	return m.fail(op, task)
}

func (m *memTokens) PutToken(_ context.Context, run, task, token string, expires time.Time) error {
	if err := m.check("PutToken", task); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.items[[2]string{run, task}] = memToken{token, expires}
	return nil
}

func (m *memTokens) Token(_ context.Context, run, task string) (string, error) {
	if err := m.check("Token", task); err != nil {
		return "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	it, ok := m.items[[2]string{run, task}]
	if !ok || !m.now().Before(it.expires) {
		return "", fmt.Errorf("token of %s %s: %w", run, task, store.ErrNotFound)
	}
	return it.value, nil
}

func (m *memTokens) DeleteToken(_ context.Context, run, task string) error {
	if err := m.check("DeleteToken", task); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.items, [2]string{run, task})
	return nil
}

func (m *memTokens) get(run, task string) (memToken, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	it, ok := m.items[[2]string{run, task}]
	return it, ok
}

// memSFN records task failures; fail decides each call's error.
type memSFN struct {
	mu        sync.Mutex
	failures  []sfn.SendTaskFailureInput
	successes []sfn.SendTaskSuccessInput
	fail      error
}

func (f *memSFN) SendTaskFailure(_ context.Context, in *sfn.SendTaskFailureInput, _ ...func(*sfn.Options)) (*sfn.SendTaskFailureOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures = append(f.failures, *in)
	if f.fail != nil {
		return nil, f.fail
	}
	return &sfn.SendTaskFailureOutput{}, nil
}

// memScheduler keeps schedules by group and name, refusing a second one of a name as
// Scheduler does (ConflictException).
type memScheduler struct {
	mu      sync.Mutex
	created []scheduler.CreateScheduleInput
	deleted []string
	live    map[string]bool
	fail    error
}

func (s *memScheduler) CreateSchedule(_ context.Context, in *scheduler.CreateScheduleInput, _ ...func(*scheduler.Options)) (*scheduler.CreateScheduleOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	id := aws.ToString(in.GroupName) + "/" + aws.ToString(in.Name)
	if s.live[id] {
		return nil, conflict(aws.ToString(in.Name))
	}
	if s.live == nil {
		s.live = map[string]bool{}
	}
	s.live[id] = true
	s.created = append(s.created, *in)
	return &scheduler.CreateScheduleOutput{ScheduleArn: aws.String("arn:aws:scheduler:us-east-1:123456789012:schedule/" + id)}, nil
}

func (s *memScheduler) DeleteSchedule(_ context.Context, in *scheduler.DeleteScheduleInput, _ ...func(*scheduler.Options)) (*scheduler.DeleteScheduleOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := aws.ToString(in.GroupName) + "/" + aws.ToString(in.Name)
	delete(s.live, id)
	s.deleted = append(s.deleted, id)
	return &scheduler.DeleteScheduleOutput{}, nil
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

// details decodes the details of the events of detailType put so far into out's element type.
func details[T any](t *testing.T, b *memBus, detailType string) []T {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []T
	for _, in := range b.entries {
		for _, e := range in.Entries {
			if aws.ToString(e.DetailType) != detailType {
				continue
			}
			require.Equal(t, approval.Source, aws.ToString(e.Source))
			require.Equal(t, "stepline", aws.ToString(e.EventBusName))
			var d T
			require.NoError(t, json.Unmarshal([]byte(aws.ToString(e.Detail)), &d))
			out = append(out, d)
		}
	}
	return out
}

// Fixture values.
const (
	testToken    = "AQCEAAAAKgAAAAMAAAAAAAAAAfixture-token-of-the-wait-state"
	testFunction = "arn:aws:lambda:us-east-1:123456789012:function:stepline-wait"
	testRole     = "arn:aws:iam::123456789012:role/stepline-scheduler"
	testMachine  = "arn:aws:states:us-east-1:123456789012:stateMachine:stepline-pipeline"
	testAPI      = "https://abc123.execute-api.us-east-1.amazonaws.com"
)

var testNow = time.Date(2026, 12, 2, 9, 0, 0, 250e6, time.UTC)

var testConfig = Config{APIURL: testAPI, Bus: "stepline", ScheduleGroup: "stepline", SchedulerRoleARN: testRole, StateMachineARN: testMachine}

type rig struct {
	h      *Handler
	tokens *memTokens
	sfn    *memSFN
	sched  *memScheduler
	bus    *memBus
	now    time.Time
}

func newRig() *rig {
	r := &rig{sfn: &memSFN{}, sched: &memScheduler{}, bus: &memBus{}, now: testNow}
	clock := func() time.Time { return r.now }
	r.tokens = &memTokens{now: clock, items: map[[2]string]memToken{}}
	r.h = New(r.tokens, r.sfn, r.sched, r.bus, testConfig, WithClock(clock))
	return r
}

// lambdaCtx is the context aws-lambda-go gives a handler invoked as testFunction.
func lambdaCtx() context.Context {
	return lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-1", InvokedFunctionArn: testFunction})
}

// waitInput is the Wait state's payload for an action of provider with timeout seconds.
func waitInput(provider string, timeoutSeconds int, config map[string]any) Input {
	t := engine.Task{Run: "api-7", Pipeline: "api", Stage: "Release", Action: "Approve", Attempt: 1, Provider: provider, Config: config}
	return Input{Token: testToken, Run: "api-7", Task: &statemachine.Item{ID: t.ID(), Kind: statemachine.KindWait, TimeoutSeconds: timeoutSeconds, Task: t}}
}

// conflict is Scheduler's answer to a second schedule of a name.
func conflict(name string) error {
	return &schedtypes.ConflictException{Message: aws.String("Schedule " + name + " already exists.")}
}

// memWaits keeps deploy waits by key with store/dynamo's expiry rule.
type memWaits struct {
	mu    sync.Mutex
	now   func() time.Time
	items map[string]dynamo.Waiting
}

func (m *memWaits) PutWaiting(_ context.Context, key string, w dynamo.Waiting) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.items[key] = w
	return nil
}

func (m *memWaits) Waiting(_ context.Context, key string) (dynamo.Waiting, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w, ok := m.items[key]
	if !ok || (!w.Expires.IsZero() && !m.now().Before(w.Expires)) {
		return dynamo.Waiting{}, fmt.Errorf("wait %s: %w", key, store.ErrNotFound)
	}
	return w, nil
}

func (m *memWaits) DeleteWaiting(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.items, key)
	return nil
}

// SendTaskSuccess records a task success; a token in closed answers TaskTimedOut.
func (f *memSFN) SendTaskSuccess(_ context.Context, in *sfn.SendTaskSuccessInput, _ ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.successes = append(f.successes, *in)
	if f.fail != nil {
		return nil, f.fail
	}
	return &sfn.SendTaskSuccessOutput{}, nil
}
