package advance_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/smithy-go/middleware"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/advance"
	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/iamcheck"
	"github.com/stepline/stepline/pkg/pipeline"
	"github.com/stepline/stepline/pkg/statemachine"
	"github.com/stepline/stepline/pkg/store"
)

const rollbackPipeline = `version: 1
pipelines:
  - name: api
    execution_mode: queued
    stages:
      - name: Build
        actions:
          - {name: Package, provider: codebuild, buildspec: ci/package.yml, inputs: [source], outputs: [bin]}
      - name: Deploy
        on_failure: rollback
        actions:
          - {name: Ship, provider: codebuild, buildspec: ci/ship.yml, inputs: [bin]}
`

// sfnCall is one request the Step Functions stand-in received.
type sfnCall struct {
	Target string
	Body   map[string]string
}

// stepFunctions is an httptest server speaking Step Functions' JSON 1.0 protocol for the
// task-token calls, answering as the service does ({} and 200), recording every request.
type stepFunctions struct {
	mu    sync.Mutex
	calls []sfnCall
}

func (s *stepFunctions) client(t *testing.T) *sfn.Client {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]string
		if err := json.Unmarshal(raw, &body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.calls = append(s.calls, sfnCall{Target: r.Header.Get("X-Amz-Target"), Body: body})
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("x-amzn-RequestId", "5f8f6a0e-1111-4c4c-9f9f-000000000000")
		_, _ = w.Write([]byte("{}"))
	}))
	t.Cleanup(srv.Close)
	// The advance function's client: its calls are recorded for the IAM check (iamcheck).
	rec := iamcheck.NewRecorder(t, "advance", nil)
	return sfn.New(sfn.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: aws.AnonymousCredentials{}, RetryMaxAttempts: 1, APIOptions: []func(*middleware.Stack) error{rec.Add}})
}

type published struct {
	mu     sync.Mutex
	events []engine.Event
}

func (p *published) Publish(_ context.Context, _ store.Record, evs []engine.Event) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, evs...)
	return nil
}

type fixture struct {
	t   *testing.T
	def engine.Definition
	db  *store.Memory
	pub *published
	sfn *stepFunctions
	h   *advance.Handler
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f, err := pipeline.Parse(".stepline.yml", []byte(rollbackPipeline))
	require.NoError(t, err)
	p, err := f.Pipeline("")
	require.NoError(t, err)
	x := &fixture{t: t, def: p.Definition(), db: store.NewMemory(), pub: &published{}, sfn: &stepFunctions{}}
	x.h = advance.New(x.db, x.pub, x.sfn.client(t), advance.Config{Bucket: "artifacts", Project: "stepline-build", UntrustedProject: "stepline-untrusted"},
		advance.WithClock(func() time.Time { return time.Unix(1_795_000_000, 0) }))
	return x
}

// create stores a run of main of octo/api as the trigger step does.
func (x *fixture) create(id string, seq int64) {
	x.createOn(id, seq, "octo/api", "main", nil)
}

// createOn stores a run of repo's branch; source seeds its source namespace (a fork's flag).
func (x *fixture) createOn(id string, seq int64, repo, branch string, source map[string]string) {
	st := engine.New(x.def, engine.RunInfo{ID: id, Seq: seq, Variables: map[string]map[string]string{"source": source}})
	require.NoError(x.t, x.db.PutRun(context.Background(), store.Record{Definition: x.def, State: st, Repo: repo,
		Provider: "github", Branch: branch, Commit: strings.Repeat("c", 40)}))
}

// succeeded stores a finished successful run of main of octo/api with artifacts.
func (x *fixture) succeeded(id string, seq int64, artifacts map[string]string) {
	x.succeededOn(id, seq, "octo/api", "main", artifacts)
}

func (x *fixture) succeededOn(id string, seq int64, repo, branch string, artifacts map[string]string) {
	st := engine.New(x.def, engine.RunInfo{ID: id, Seq: seq})
	st.Status, st.Artifacts = engine.Succeeded, artifacts
	require.NoError(x.t, x.db.PutRun(context.Background(), store.Record{Definition: x.def, State: st, Repo: repo,
		Provider: "github", Branch: branch}))
}

func (x *fixture) advance(in advance.Input) statemachine.State {
	x.t.Helper()
	out, err := x.h.Handle(context.Background(), in)
	require.NoError(x.t, err)
	return out
}

// item is the one task a state routes to.
func item(t *testing.T, s statemachine.State) statemachine.Item {
	t.Helper()
	if s.Task != nil {
		return *s.Task
	}
	require.Len(t, s.Tasks, 1, "one task: %+v", s)
	return s.Tasks[0]
}

func answered(prev statemachine.State, it statemachine.Item, output string, e *statemachine.TaskError) advance.Input {
	s := statemachine.State{Run: prev.Run, Step: prev.Step, Task: &it, Error: e}
	if output != "" {
		s.Output = json.RawMessage(output)
	}
	return advance.Input{State: s}
}

const buildOK = `{"build":{"Id":"stepline-build:1","BuildStatus":"SUCCEEDED"}}`

// toDeploy drives run through source and build, up to the Ship action.
func (x *fixture) toDeploy(run string) (statemachine.State, statemachine.Item) {
	s := x.advance(advance.Input{State: statemachine.State{Run: run}})
	src := item(x.t, s)
	require.Equal(x.t, statemachine.KindSource, src.Kind)
	s = x.advance(answered(s, src, `{"artifact":{"bucket":"artifacts","key":"runs/`+run+`/source.zip"}}`, nil))
	build := item(x.t, s)
	require.Equal(x.t, "Package", build.Task.Action)
	s = x.advance(answered(s, build, buildOK, nil))
	ship := item(x.t, s)
	require.Equal(x.t, "Ship", ship.Task.Action)
	return s, ship
}

func TestARollbackUsesTheNewestSuccessEvenOneThatFinishedAfterTheRunStarted(t *testing.T) {
	t.Parallel()
	x := newFixture(t)
	x.create("api-2", 2)
	s, ship := x.toDeploy("api-2")
	assert.Equal(t, "artifacts/runs/api-2/bin.zip", ship.CodeBuild.SourceLocation, "CodeBuild's bucket/key form")

	// api-1 finished after api-2 started: the trigger step saw no success then.
	x.succeeded("api-1", 1, map[string]string{"bin": "s3://artifacts/runs/api-1/bin.zip", "source": "s3://artifacts/runs/api-1/source.zip"})
	s = x.advance(answered(s, ship, "", &statemachine.TaskError{Error: "States.TaskFailed", Cause: `{"BuildStatus":"FAILED","Id":"stepline-build:2"}`}))

	again := item(t, s)
	assert.Equal(t, "Ship", again.Task.Action, "the rollback redeploys")
	assert.Equal(t, "artifacts/runs/api-1/bin.zip", again.CodeBuild.SourceLocation, "from the artifacts of the newest success")
	rec, err := x.db.GetRun(context.Background(), "api-2")
	require.NoError(t, err)
	assert.Contains(t, rec.State.Stages[2].Message, "rolling back to the artifacts of run api-1", "the run says what it rolled back to")
}

func TestAFailedBuildKeepsItsBuildIdForTheLogLink(t *testing.T) {
	t.Parallel()
	for name, cause := range map[string]string{
		"the whole Build, as startBuild.sync fails": `{"Id":"stepline-build:7f1c","BuildStatus":"FAILED","Logs":{"GroupName":"/aws/codebuild/stepline-build"}}`,
		"the Build under Build":                     `{"Build":{"Id":"stepline-build:7f1c","BuildStatus":"FAILED"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			x := newFixture(t)
			x.create("api-5", 5)
			s, ship := x.toDeploy("api-5")
			x.advance(answered(s, ship, "", &statemachine.TaskError{Error: "States.TaskFailed", Cause: cause}))
			rec, err := x.db.GetRun(context.Background(), "api-5")
			require.NoError(t, err)
			a := rec.State.Stages[2].Actions[0]
			assert.Equal(t, engine.Failed, a.Status)
			assert.Equal(t, "build stepline-build:7f1c ended FAILED", a.Message)
			assert.Equal(t, "stepline-build:7f1c", a.External, "the dashboard links the failed build's log")
		})
	}
}

func TestARollbackNeverRedeploysAnotherBranchOrRepository(t *testing.T) {
	t.Parallel()
	x := newFixture(t)
	x.succeeded("api-1", 1, map[string]string{"bin": "s3://artifacts/runs/api-1/bin.zip"})
	x.create("api-4", 4)
	s, ship := x.toDeploy("api-4")
	// Newer successes of a feature branch and of another repository's pipeline "api".
	x.succeededOn("api-2", 2, "octo/api", "feature/login", map[string]string{"bin": "s3://artifacts/runs/api-2/bin.zip"})
	x.succeededOn("api-3", 3, "octo/web", "main", map[string]string{"bin": "s3://artifacts/runs/api-3/bin.zip"})

	s = x.advance(answered(s, ship, "", &statemachine.TaskError{Error: "States.TaskFailed", Cause: `{"BuildStatus":"FAILED"}`}))

	again := item(t, s)
	assert.Equal(t, "Ship", again.Task.Action, "the rollback redeploys")
	assert.Equal(t, "artifacts/runs/api-1/bin.zip", again.CodeBuild.SourceLocation, "main's own last success")
}

func TestRunsOfOtherBranchesForksAndRepositoriesEnterAStageMainHolds(t *testing.T) {
	t.Parallel()
	x := newFixture(t)
	x.create("api-1", 1)
	x.toDeploy("api-1") // holds Deploy of main of octo/api
	for _, tc := range []struct {
		name, run, repo, branch string
		source                  map[string]string
	}{
		{"a feature branch", "api-2", "octo/api", "feature/login", nil},
		{"a fork's main", "api-3", "octo/api", "main", map[string]string{"fork": "true"}},
		{"another repository's pipeline of the same name", "api-4", "octo/web", "main", nil},
	} {
		x.createOn(tc.run, 2, tc.repo, tc.branch, tc.source)
		_, ship := x.toDeploy(tc.run)
		assert.Equal(t, statemachine.KindCodeBuild, ship.Kind, "%s is not parked behind main", tc.name)
	}

	x.create("api-5", 5)
	s := x.advance(advance.Input{State: statemachine.State{Run: "api-5"}})
	s = x.advance(answered(s, item(t, s), `{"artifact":{"bucket":"artifacts","key":"runs/api-5/source.zip"}}`, nil))
	s = x.advance(answered(s, item(t, s), buildOK, nil))
	assert.Equal(t, statemachine.KindPark, item(t, s).Kind, "main's next run still waits for main's lock")
}

func TestWithoutAnySuccessARollbackHasNothingToGoBackTo(t *testing.T) {
	t.Parallel()
	x := newFixture(t)
	x.create("api-1", 1)
	s, ship := x.toDeploy("api-1")
	s = x.advance(answered(s, ship, "", &statemachine.TaskError{Error: "States.TaskFailed", Cause: `{"BuildStatus":"FAILED"}`}))
	assert.Equal(t, statemachine.RouteDone, s.Route)
	rec, err := x.db.GetRun(context.Background(), "api-1")
	require.NoError(t, err)
	assert.Equal(t, engine.Failed, rec.State.Status)
}

func TestAStoreThatCannotReadTheLastSuccessMakesTheCallRetryable(t *testing.T) {
	t.Parallel()
	x := newFixture(t)
	x.create("api-2", 2)
	s, ship := x.toDeploy("api-2")
	x.db.Fail = func(method string) error {
		if method == "LastSucceeded" {
			return errors.New("ProvisionedThroughputExceededException")
		}
		return nil
	}
	_, err := x.h.Handle(context.Background(), answered(s, ship, "", &statemachine.TaskError{Error: "States.TaskFailed"}))
	var unavailable *advance.AdvanceUnavailable
	require.ErrorAs(t, err, &unavailable, "named so the state machine retries it")
	assert.Contains(t, err.Error(), "read the last successful run of api")
}

func TestARetriedCallAnswersAsBeforeAndPublishesNothingTwice(t *testing.T) {
	t.Parallel()
	x := newFixture(t)
	x.create("api-1", 1)
	first := x.advance(advance.Input{State: statemachine.State{Run: "api-1"}})
	events := len(x.pub.events)
	require.NotZero(t, events)
	second := x.advance(advance.Input{State: statemachine.State{Run: "api-1"}})
	assert.Equal(t, first, second)
	assert.Len(t, x.pub.events, events)
}

func TestAReleasedLockAnswersTheParkedRunThroughStepFunctions(t *testing.T) {
	t.Parallel()
	x := newFixture(t)
	x.create("api-1", 1)
	x.create("api-2", 2)
	s1, ship := x.toDeploy("api-1")

	// api-2 builds (Build is free again) and asks for Deploy, which api-1 holds.
	s2 := x.advance(advance.Input{State: statemachine.State{Run: "api-2"}})
	src := item(t, s2)
	s2 = x.advance(answered(s2, src, `{"artifact":{"bucket":"artifacts","key":"runs/api-2/source.zip"}}`, nil))
	build := item(t, s2)
	s2 = x.advance(answered(s2, build, buildOK, nil))
	park := item(t, s2)
	require.Equal(t, statemachine.KindPark, park.Kind, "Deploy is held by api-1")

	// The Park state hands the token over; the lock is still held, so nothing is answered.
	require.NoError(t, func() error {
		_, err := x.h.Handle(context.Background(), advance.Input{State: statemachine.State{Run: "api-2", Task: &park}, Park: true, Token: "token-api-2"})
		return err
	}())
	assert.Empty(t, x.sfn.calls)

	// api-1 finishes Deploy and releases the lock: api-2's token gets its answer.
	x.advance(answered(s1, ship, buildOK, nil))
	require.Len(t, x.sfn.calls, 1)
	call := x.sfn.calls[0]
	assert.Equal(t, "AWSStepFunctions.SendTaskSuccess", call.Target)
	assert.Equal(t, "token-api-2", call.Body["taskToken"])
	assert.JSONEq(t, `{"granted":"Deploy"}`, call.Body["output"])
	_, err := x.db.Token(context.Background(), "api-2", "park")
	assert.ErrorIs(t, err, store.ErrNotFound, "an answered token is forgotten")
}

func TestABuildRequestCarriesEveryInput(t *testing.T) {
	t.Parallel()
	task := engine.Task{Run: "api-3", Pipeline: "api", Stage: "Build", Action: "Test", Attempt: 1, Provider: "codebuild",
		Config: map[string]any{"buildspec": "ci/test.yml"},
		Inputs: []engine.Artifact{{Name: "source", Location: "s3://artifacts/runs/api-3/source.zip"},
			{Name: "fixtures", Location: "s3://artifacts/runs/api-2/fixtures.zip"}},
		Outputs: []string{"report", "coverage"}}
	req, err := advance.CodeBuildRequest(advance.Config{Bucket: "artifacts", Project: "stepline-build"}, task)
	require.NoError(t, err)
	assert.Equal(t, "artifacts/runs/api-3/source.zip", req.SourceLocation, "the first input is the primary source")
	assert.Equal(t, []statemachine.SecondarySource{{Type: "S3", Location: "artifacts/runs/api-2/fixtures.zip", SourceIdentifier: "fixtures"}},
		req.SecondarySources, "the others are secondary sources named after their artifacts")
	assert.Equal(t, "report.zip", req.Artifacts.Name)
	require.Len(t, req.SecondaryArtifacts, 1)
	assert.Equal(t, "coverage", req.SecondaryArtifacts[0]["ArtifactIdentifier"])

	task.Inputs[1].Location = "/tmp/fixtures.zip"
	_, err = advance.CodeBuildRequest(advance.Config{Bucket: "artifacts"}, task)
	assert.ErrorContains(t, err, `input artifact at "/tmp/fixtures.zip" is not in S3`)
}

func TestABuildOverridesTheProjectsEnvironmentOnlyWhenItsActionSetsIt(t *testing.T) {
	t.Parallel()
	cfg := advance.Config{Bucket: "artifacts", Project: "stepline-build",
		Image: "aws/codebuild/amazonlinux-aarch64-standard:3.0", ComputeType: "BUILD_GENERAL1_SMALL"}
	ecr := "123456789012.dkr.ecr.us-east-1.amazonaws.com/builder:2"
	cases := []struct {
		name   string
		config map[string]any
		want   *statemachine.BuildEnvironment
	}{
		{"an action that sets none builds in the project's own environment", map[string]any{}, nil},
		{"privileged alone keeps the stack project's image and compute type",
			map[string]any{"privileged": true},
			&statemachine.BuildEnvironment{Image: cfg.Image, ComputeType: "BUILD_GENERAL1_SMALL", PrivilegedMode: true, ImagePullCredentialsType: "CODEBUILD"}},
		{"a compute type alone keeps the project's image, unprivileged",
			map[string]any{"compute_type": "BUILD_GENERAL1_LARGE"},
			&statemachine.BuildEnvironment{Image: cfg.Image, ComputeType: "BUILD_GENERAL1_LARGE", ImagePullCredentialsType: "CODEBUILD"}},
		{"an ECR image is pulled with the project's service role",
			map[string]any{"image": ecr, "privileged": true},
			&statemachine.BuildEnvironment{Image: ecr, ComputeType: "BUILD_GENERAL1_SMALL", PrivilegedMode: true, ImagePullCredentialsType: "SERVICE_ROLE"}},
		{"a named project gets all three as set",
			map[string]any{"project": "docker", "image": "aws/codebuild/standard:7.0", "compute_type": "BUILD_GENERAL1_MEDIUM", "privileged": false},
			&statemachine.BuildEnvironment{Image: "aws/codebuild/standard:7.0", ComputeType: "BUILD_GENERAL1_MEDIUM", ImagePullCredentialsType: "CODEBUILD"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			task := engine.Task{Run: "api-3", Stage: "Build", Action: "Docker", Provider: "codebuild",
				Config: c.config, Inputs: []engine.Artifact{{Name: "source", Location: "s3://artifacts/runs/api-3/source.zip"}}}
			req, err := advance.CodeBuildRequest(cfg, task)
			require.NoError(t, err)
			assert.Equal(t, c.want, req.BuildEnvironment)
		})
	}
}

func TestABuildInAProjectOfUnknownEnvironmentMustSetItWhole(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		cfg    advance.Config
		config map[string]any
	}{
		{advance.Config{Bucket: "artifacts", Project: "stepline-build", Image: "aws/codebuild/standard:7.0", ComputeType: "BUILD_GENERAL1_SMALL"},
			map[string]any{"project": "docker", "privileged": true}},
		{advance.Config{Bucket: "artifacts", Project: "stepline-build"},
			map[string]any{"image": "aws/codebuild/standard:7.0", "privileged": true}},
	} {
		task := engine.Task{Run: "api-3", Stage: "Build", Action: "Docker", Provider: "codebuild",
			Config: c.config, Inputs: []engine.Artifact{{Name: "source", Location: "s3://artifacts/runs/api-3/source.zip"}}}
		_, err := advance.CodeBuildRequest(c.cfg, task)
		assert.ErrorContains(t, err, "build Build/Docker: project ")
		assert.ErrorContains(t, err, "set image, compute_type and privileged together")
	}
}
