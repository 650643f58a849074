package triggerstep

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	schedtypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/reposecret"
	"github.com/stepline/stepline/pkg/scm"
	"github.com/stepline/stepline/pkg/store"
	"github.com/stepline/stepline/pkg/store/dynamo"
)

// In-memory fakes of the handler's narrow interfaces, each keeping what a real backend keeps
// and answering the errors it answers; fail fields inject failures by operation.

type memRegistry struct {
	mu      sync.Mutex
	entries map[string]dynamo.Registration // provider + " " + repo
	index   map[string]map[string]bool     // image → provider + " " + repo
	buckets map[string]map[string]bool     // bucket → provider + " " + repo
	fail    func(op string) error
}

func newMemRegistry() *memRegistry {
	return &memRegistry{entries: map[string]dynamo.Registration{}, index: map[string]map[string]bool{}, buckets: map[string]map[string]bool{}}
}

func (m *memRegistry) failing(op string) error {
	if m.fail != nil {
		return m.fail(op)
	}
	return nil
}

func (m *memRegistry) Registration(_ context.Context, provider, repo string) (dynamo.Registration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.failing("Registration"); err != nil {
		return dynamo.Registration{}, err
	}
	r, ok := m.entries[provider+" "+repo]
	if !ok {
		return dynamo.Registration{}, fmt.Errorf("registration of %s %s: %w", provider, repo, store.ErrNotFound)
	}
	return r, nil
}

func (m *memRegistry) PutRegistration(_ context.Context, r dynamo.Registration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.failing("PutRegistration"); err != nil {
		return err
	}
	if prev, ok := m.entries[r.Provider+" "+r.Repo]; ok && prev.Pushed.After(r.Pushed) {
		return fmt.Errorf("put registration: %w", dynamo.ErrSuperseded)
	}
	if r.Problem != "" {
		r.File = nil
	}
	m.entries[r.Provider+" "+r.Repo] = r
	return nil
}

func (m *memRegistry) PutImageIndex(_ context.Context, image, provider, repo string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.failing("PutImageIndex"); err != nil {
		return err
	}
	if m.index[image] == nil {
		m.index[image] = map[string]bool{}
	}
	m.index[image][provider+" "+repo] = true
	return nil
}

func (m *memRegistry) DeleteImageIndex(_ context.Context, image, provider, repo string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.failing("DeleteImageIndex"); err != nil {
		return err
	}
	delete(m.index[image], provider+" "+repo)
	return nil
}

// ImageRegistrations filters as dynamo.Store does: entries that list the image and have a file.
func (m *memRegistry) ImageRegistrations(_ context.Context, image string) ([]dynamo.Registration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.failing("ImageRegistrations"); err != nil {
		return nil, err
	}
	var out []dynamo.Registration
	for _, k := range slices.Sorted(maps.Keys(m.index[image])) {
		if r, ok := m.entries[k]; ok && r.Problem == "" && slices.Contains(r.Images, image) {
			out = append(out, r)
		}
	}
	return out, nil
}

func (m *memRegistry) PutBucketIndex(_ context.Context, bucket, provider, repo string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.failing("PutBucketIndex"); err != nil {
		return err
	}
	if m.buckets[bucket] == nil {
		m.buckets[bucket] = map[string]bool{}
	}
	m.buckets[bucket][provider+" "+repo] = true
	return nil
}

func (m *memRegistry) DeleteBucketIndex(_ context.Context, bucket, provider, repo string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.failing("DeleteBucketIndex"); err != nil {
		return err
	}
	delete(m.buckets[bucket], provider+" "+repo)
	return nil
}

// BucketRegistrations filters as dynamo.Store does: entries that list the bucket and have a file.
func (m *memRegistry) BucketRegistrations(_ context.Context, bucket string) ([]dynamo.Registration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.failing("BucketRegistrations"); err != nil {
		return nil, err
	}
	var out []dynamo.Registration
	for _, k := range slices.Sorted(maps.Keys(m.buckets[bucket])) {
		if r, ok := m.entries[k]; ok && r.Problem == "" && slices.Contains(r.Buckets, bucket) {
			out = append(out, r)
		}
	}
	return out, nil
}

func (m *memRegistry) bucketIndexed(bucket string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(maps.Keys(m.buckets[bucket]))
}

func (m *memRegistry) indexed(image string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(maps.Keys(m.index[image]))
}

func (m *memRegistry) entry(t *testing.T, provider, repo string) dynamo.Registration {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.entries[provider+" "+repo]
	require.True(t, ok, "no registry entry for %s %s", provider, repo)
	return r
}

// memScheduler keeps schedules by group and name, as Scheduler does: Update of a missing
// schedule is ResourceNotFoundException, Create of an existing one ConflictException.
type memScheduler struct {
	mu        sync.Mutex
	schedules map[string]schedtypes.Target // group/name → target
	exprs     map[string]string
	fail      func(op, name string) error
	calls     []string
}

func newMemScheduler() *memScheduler {
	return &memScheduler{schedules: map[string]schedtypes.Target{}, exprs: map[string]string{}}
}

func (m *memScheduler) failing(op, name string) error {
	m.calls = append(m.calls, op+" "+name)
	if m.fail != nil {
		return m.fail(op, name)
	}
	return nil
}

func (m *memScheduler) CreateSchedule(_ context.Context, in *scheduler.CreateScheduleInput, _ ...func(*scheduler.Options)) (*scheduler.CreateScheduleOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := aws.ToString(in.GroupName) + "/" + aws.ToString(in.Name)
	if err := m.failing("Create", aws.ToString(in.Name)); err != nil {
		return nil, err
	}
	if _, ok := m.schedules[k]; ok {
		return nil, &schedtypes.ConflictException{Message: aws.String("Schedule " + aws.ToString(in.Name) + " already exists.")}
	}
	m.schedules[k], m.exprs[k] = *in.Target, aws.ToString(in.ScheduleExpression)
	return &scheduler.CreateScheduleOutput{ScheduleArn: aws.String("arn:aws:scheduler:us-east-1:123456789012:schedule/" + k)}, nil
}

func (m *memScheduler) UpdateSchedule(_ context.Context, in *scheduler.UpdateScheduleInput, _ ...func(*scheduler.Options)) (*scheduler.UpdateScheduleOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := aws.ToString(in.GroupName) + "/" + aws.ToString(in.Name)
	if err := m.failing("Update", aws.ToString(in.Name)); err != nil {
		return nil, err
	}
	if _, ok := m.schedules[k]; !ok {
		return nil, &schedtypes.ResourceNotFoundException{Message: aws.String("Schedule " + aws.ToString(in.Name) + " does not exist.")}
	}
	m.schedules[k], m.exprs[k] = *in.Target, aws.ToString(in.ScheduleExpression)
	return &scheduler.UpdateScheduleOutput{ScheduleArn: aws.String("arn:aws:scheduler:us-east-1:123456789012:schedule/" + k)}, nil
}

func (m *memScheduler) DeleteSchedule(_ context.Context, in *scheduler.DeleteScheduleInput, _ ...func(*scheduler.Options)) (*scheduler.DeleteScheduleOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := aws.ToString(in.GroupName) + "/" + aws.ToString(in.Name)
	if err := m.failing("Delete", aws.ToString(in.Name)); err != nil {
		return nil, err
	}
	if _, ok := m.schedules[k]; !ok {
		return nil, &schedtypes.ResourceNotFoundException{Message: aws.String("Schedule " + aws.ToString(in.Name) + " does not exist.")}
	}
	delete(m.schedules, k)
	delete(m.exprs, k)
	return &scheduler.DeleteScheduleOutput{}, nil
}

func (m *memScheduler) names() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(maps.Keys(m.schedules))
}

// memSFN remembers executions by name, as Step Functions does: a second StartExecution of a
// name with the same input is a success naming the same execution, with another input
// ExecutionAlreadyExists
// (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html:
// "executions with the same name and input are considered idempotent"; the fakes' executions
// stay open, the case where that holds).
type memSFN struct {
	mu     sync.Mutex
	starts []sfn.StartExecutionInput
	names  map[string]string // name → input
}

func (m *memSFN) StartExecution(_ context.Context, in *sfn.StartExecutionInput, _ ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.starts = append(m.starts, *in)
	arn, _ := ExecutionARN(aws.ToString(in.StateMachineArn), aws.ToString(in.Name))
	if err := startOnce(m.names, arn, aws.ToString(in.Name), aws.ToString(in.Input), false); err != nil {
		return nil, err
	}
	return &sfn.StartExecutionOutput{ExecutionArn: aws.String(arn), StartDate: aws.Time(time.Now())}, nil
}

// startOnce records the execution name of input in executions, unless it is there: with the
// same input that is Step Functions' idempotent success while the execution is open, with
// another input or once it has closed ExecutionAlreadyExists.
func startOnce(executions map[string]string, arn, name, input string, closed bool) error {
	if old, ok := executions[name]; ok && (old != input || closed) {
		return &sfntypes.ExecutionAlreadyExists{Message: aws.String("Execution Already Exists: '" + arn + "'")}
	}
	executions[name] = input
	return nil
}

func (m *memSFN) DescribeExecution(_ context.Context, in *sfn.DescribeExecutionInput, _ ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	arn := aws.ToString(in.ExecutionArn)
	name := arn[bytes.LastIndexByte([]byte(arn), ':')+1:]
	if _, ok := m.names[name]; !ok {
		return nil, &sfntypes.ExecutionDoesNotExist{Message: aws.String("Execution Does Not Exist: '" + arn + "'")}
	}
	return &sfn.DescribeExecutionOutput{ExecutionArn: in.ExecutionArn, Name: aws.String(name), Status: sfntypes.ExecutionStatusRunning}, nil
}

func (m *memSFN) started() []sfn.StartExecutionInput {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.starts)
}

type memSecrets map[string]reposecret.Secret

func (m memSecrets) Get(_ context.Context, hook string) (reposecret.Secret, error) {
	s, ok := m[hook]
	if !ok {
		return reposecret.Secret{}, reposecret.ErrUnknownHook
	}
	return s, nil
}

// memRepo is a repository behind a provider API: files by commit and path, branch heads.
type memRepo struct {
	mu    sync.Mutex
	files map[string]string // commit + ":" + path
	heads map[string]string // branch → commit
	reads []string
}

func (r *memRepo) ReadFile(_ context.Context, repo, commit, path string) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reads = append(r.reads, "file "+commit+":"+path)
	body, ok := r.files[commit+":"+path]
	if !ok {
		return nil, fmt.Errorf("read %s of %s at %.12s: %w", path, repo, commit, &scm.APIError{Provider: "github", StatusCode: 404, Message: "Not Found"})
	}
	return []byte(body), nil
}

func (r *memRepo) Head(_ context.Context, repo, branch string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reads = append(r.reads, "head "+branch)
	sha, ok := r.heads[branch]
	if !ok {
		return "", fmt.Errorf("head of %s in %s: %w", branch, repo, &scm.APIError{Provider: "github", StatusCode: 404, Message: "Branch not found"})
	}
	return sha, nil
}

func (r *memRepo) set(commit, file string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if file == "" {
		delete(r.files, commit+":"+PipelineFile)
		return
	}
	r.files[commit+":"+PipelineFile] = file
}

const (
	memRepoName    = "acme/app"
	memHook        = "acme-hook-0123456789"
	memFunctionARN = "arn:aws:lambda:us-east-1:123456789012:function:stepline-trigger"
	memRoleARN     = "arn:aws:iam::123456789012:role/stepline-scheduler"
	memGroup       = "stepline"
	memQueueARN    = "arn:aws:sqs:us-east-1:123456789012:stepline-trigger"
)

// memRig is a handler on in-memory fakes only.
type memRig struct {
	h       *Handler
	runs    *store.Memory
	reg     *memRegistry
	sched   *memScheduler
	sfn     *memSFN
	repo    *memRepo
	secrets memSecrets
	logs    *bytes.Buffer
	ctx     context.Context
}

func newMemRig(t *testing.T) *memRig {
	t.Helper()
	r := &memRig{runs: store.NewMemory(), reg: newMemRegistry(), sched: newMemScheduler(), sfn: &memSFN{names: map[string]string{}},
		repo: &memRepo{files: map[string]string{}, heads: map[string]string{}}, logs: &bytes.Buffer{}}
	r.secrets = memSecrets{memHook: {Provider: "github", Repository: memRepoName, Token: testToken}}
	var err error
	r.h, err = New(r.runs, r.secrets, nil, r.sfn, testStateMachine,
		WithRegistry(r.reg), WithScheduler(r.sched, memGroup, memRoleARN, memQueueARN),
		WithClients(func(reposecret.Secret) (FileReader, scm.FileLister, error) { return r.repo, nil, nil }),
		WithLogger(slog.New(slog.NewJSONHandler(&lockedWriter{w: r.logs}, nil))),
		WithClock(func() time.Time { return time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC) }))
	require.NoError(t, err)
	r.ctx = lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-1", InvokedFunctionArn: memFunctionARN})
	return r
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// pushTo is a push of commit to branch of acme/app (default branch main), published at at.
func pushTo(t *testing.T, branch, commit string, at time.Time) events.CloudWatchEvent {
	t.Helper()
	ev := scm.Event{Provider: "github", Kind: scm.KindPush, Delivery: "d-" + commit[:6],
		Repository: scm.Repository{FullName: memRepoName, CloneURL: "https://github.com/acme/app.git", DefaultBranch: "main"},
		Ref:        scm.BranchRef(branch), Branch: branch, Before: scm.ZeroSHA[:39] + "1", After: commit,
		Commits: []scm.Commit{{ID: commit, Message: "Change", Author: "octo"}}, FilesComplete: true, ChangedFiles: []string{"x.go"}}
	e := cloudEvent(t, Detail{Key: "github-" + commit[:20], Provider: "github", Kind: ev.Kind, Repository: memRepoName, Ref: ev.Ref, Event: &ev, Hook: memHook})
	e.Time = at
	return e
}

func errOnce(err error) func() error {
	var once sync.Once
	return func() error {
		var out error
		once.Do(func() { out = err })
		return out
	}
}

var errUnavailable = errors.New("service unavailable")

// runID is the id of run n of a repository's pipeline, as the trigger names it.
func runID(provider, repo, pipeline string, n int64) string {
	return store.RunID(store.Scope{Provider: provider, Repository: repo, Pipeline: pipeline}, n)
}
