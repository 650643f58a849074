package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/advance"
	"github.com/stepline/stepline/pkg/approval"
	"github.com/stepline/stepline/pkg/awstest"
	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/pipeline"
	"github.com/stepline/stepline/pkg/runops/runopstest"
	"github.com/stepline/stepline/pkg/statemachine/asltest"
	"github.com/stepline/stepline/pkg/store"
	"github.com/stepline/stepline/pkg/store/dynamo"
)

// `stepline dashboard --aws --stack NAME` over a deployed stepline: the stack's outputs, its
// table and its state machine on moto, read and changed with the default credential chain.

// browserSession is a browser's session with the dashboard, over plain HTTP: it keeps the
// session cookie, reads the form token from the pages and posts as the dashboard's own pages
// do (same Origin), or from another site.
type browserSession struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string
}

func newBrowserSession(t *testing.T, base string) *browserSession {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &browserSession{t: t, base: base, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfMeta = regexp.MustCompile(`<meta name="csrf" content="([0-9a-f]{64})">`)

// get fetches path with the given request headers (name, value…) and keeps the page's form
// token.
func (b *browserSession) get(path string, headers ...string) *http.Response {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.base+path, nil)
	require.NoError(b.t, err)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return b.do(req)
}

// post submits form to path from origin (the dashboard's own when ""), with the session's
// form token.
func (b *browserSession) post(path, origin string, form url.Values) *http.Response {
	b.t.Helper()
	if form.Get("csrf") == "" {
		form.Set("csrf", b.csrf)
	}
	req, err := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	require.NoError(b.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if origin == "" {
		origin = b.base
	}
	req.Header.Set("Origin", origin)
	return b.do(req)
}

func (b *browserSession) do(req *http.Request) *http.Response {
	b.t.Helper()
	resp, err := b.c.Do(req)
	require.NoError(b.t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	resp.Body.Close()
	resp.Body = io.NopCloser(strings.NewReader(string(body)))
	if m := csrfMeta.FindSubmatch(body); m != nil {
		b.csrf = string(m[1])
	}
	return resp
}

func bodyOf(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

// page fetches path and answers its status and body.
func (b *browserSession) page(path string) (int, string) {
	b.t.Helper()
	resp := b.get(path)
	return resp.StatusCode, bodyOf(b.t, resp)
}

func TestDashboardOverADeployedStackShowsItsRunsAndLinksTheLogsToTheConsole(t *testing.T) {
	s := newOnStack(t)
	s.run("api-1-aaaa1111", 1, true, false)
	s.run("api-2-bbbb2222", 2, true, true)
	d := startDashboard(t, "--aws", "--stack", s.stack.Name)
	b := newBrowserSession(t, d.url)

	code, body := b.page("/")
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, "AWS: stack "+s.stack.Name, "the header says where the runs are")
	assert.Contains(t, body, "api-2-bbbb2222", "the last run of branch main, from the table")
	assert.Contains(t, body, `data-live="poll"`, "pages poll on AWS")

	code, body = b.page("/pipelines/api")
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, "api-1-aaaa1111")
	assert.Contains(t, body, "api-2-bbbb2222")
	_, body = b.page("/pipelines/api?status=FAILED")
	assert.Contains(t, body, "api-1-aaaa1111")
	assert.NotContains(t, body, "api-2-bbbb2222", "filtered by status")

	code, body = b.page("/runs/api-1-aaaa1111")
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, "Log of Build/Package", "the failed build is the action shown first")
	assert.Contains(t, body, `The log is in CodeBuild: <a href="https://us-east-1.console.aws.amazon.com/codesuite/codebuild/projects/stepline-build/build/stepline-build%3A00000001-0000-4000-8000-000000000001/?region=us-east-1"`,
		"the failed build's log in the CodeBuild console")
	assert.Contains(t, body, `href="https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/arn:aws:states:us-east-1:123456789012:execution:`,
		"the run's execution in the Step Functions console")
	assert.Contains(t, body, `data-op="retry"`)
	code, body = b.page("/runs/api-1-aaaa1111?stage=Source&action=Source")
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, "See the execution in the <a href=\"https://us-east-1.console.aws.amazon.com/states/", "an action that is not a build: the execution's page")
	code, body = b.page("/runs/api-1-aaaa1111/log?stage=Build&action=Package")
	assert.Equal(t, http.StatusNotFound, code)
	assert.Contains(t, body, "logs are on AWS")
	code, _ = b.page("/runs/api-1-aaaa1111/events")
	assert.Equal(t, http.StatusNotFound, code, "no event stream on AWS: pages poll /live")
	code, _ = b.page("/runs/api-9-nope")
	assert.Equal(t, http.StatusNotFound, code)
}

func TestDashboardOverADeployedStackPollsAndItsButtonsChangeTheRuns(t *testing.T) {
	s := newOnStack(t)
	ctx := context.Background()
	failed := s.run("api-1-aaaa1111", 1, true, false)
	waiting := s.run("api-2-bbbb2222", 2, true, true)
	d := startDashboard(t, "--aws", "--stack", s.stack.Name)
	b := newBrowserSession(t, d.url)

	// The live fragment: its version as an ETag, 304 while the record stays the same.
	live := b.get("/runs/api-1-aaaa1111/live")
	require.Equal(t, http.StatusOK, live.StatusCode)
	etag := live.Header.Get("ETag")
	require.NotEmpty(t, etag)
	assert.Equal(t, "true", live.Header.Get("X-Run-Final"))
	assert.Contains(t, bodyOf(t, live), "Run #1 of api")
	again := b.get("/runs/api-1-aaaa1111/live", "If-None-Match", etag)
	assert.Equal(t, http.StatusNotModified, again.StatusCode, "nothing changed: nothing sent")
	assert.Empty(t, bodyOf(t, again))

	// Retry from the page: a new execution resumes the run; the live fragment changes.
	code, body := b.page("/runs/api-1-aaaa1111/confirm/retry?stage=Build")
	require.Equal(t, http.StatusOK, code, body)
	resp := b.post("/runs/api-1-aaaa1111/retry", "", url.Values{"stage": {"Build"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, bodyOf(t, resp))
	assert.Equal(t, "/runs/api-1-aaaa1111?done=retry", resp.Header.Get("Location"))
	rec, err := s.db.GetRun(ctx, failed.ID())
	require.NoError(t, err)
	require.NotEqual(t, failed.ExecutionARN, rec.ExecutionARN, "the record names the resuming execution")
	assert.Equal(t, "RUNNING", string(s.execution(rec.ExecutionARN).Status))
	changed := b.get("/runs/api-1-aaaa1111/live", "If-None-Match", etag)
	assert.Equal(t, http.StatusOK, changed.StatusCode, "the record changed: the fragment is sent")
	assert.NotEqual(t, etag, changed.Header.Get("ETag"))

	// A refused operation says why, with 409.
	resp = b.post("/runs/api-1-aaaa1111/retry-all", "", url.Values{"stage": {"Build"}})
	assert.Equal(t, http.StatusConflict, resp.StatusCode)
	assert.Contains(t, bodyOf(t, resp), "another retry or rollback of this run was started")
	resp = b.post("/runs/api-2-bbbb2222/reject", "", url.Values{"stage": {"Release"}, "action": {"Approve"}})
	assert.Equal(t, http.StatusConflict, resp.StatusCode)
	assert.Contains(t, bodyOf(t, resp), "Release/Approve has no task token kept")
	resp = b.post("/start", "", url.Values{"pipeline": {"api"}, "branch": {"main"}})
	assert.Equal(t, http.StatusConflict, resp.StatusCode)
	assert.Contains(t, bodyOf(t, resp), "name the repository to start")
	// Named (--repository, read from the clone --repo), Start starts a run of the clone's commit.
	r := newRepo(t, map[string]string{".stepline.yml": gatedFile})
	require.NoError(t, s.db.PutRegistration(ctx, dynamo.Registration{Provider: "github", Repo: "octo/rel", Branch: "main",
		Hook: "hook-0123456789abcdef", Pushed: engine.Time(1_795_000_000_000)}))
	starter := newBrowserSession(t, startDashboard(t, "--aws", "--stack", s.stack.Name, "--repository", "github:octo/rel", "--repo", r.dir).url)
	code, body = starter.page("/start?pipeline=rel&branch=main")
	require.Equal(t, http.StatusOK, code, body)
	resp = starter.post("/start", "", url.Values{"pipeline": {"rel"}, "branch": {"main"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, bodyOf(t, resp))
	started := regexp.MustCompile(`^/runs/(rel-1-[0-9a-f]+)\?done=start$`).FindStringSubmatch(resp.Header.Get("Location"))
	require.NotNil(t, started, resp.Header.Get("Location"))
	rec, err = s.db.GetRun(ctx, started[1])
	require.NoError(t, err)
	assert.Equal(t, r.git("rev-parse", "HEAD"), rec.Commit)
	assert.Equal(t, "RUNNING", string(s.execution(rec.ExecutionARN).Status))

	// Approve answers the task token the wait function kept.
	task := approval.TaskKey("Release", "Approve", 1)
	require.NoError(t, s.db.PutToken(ctx, waiting.ID(), task, "the-wait-states-token", engine.Time(1_900_000_000_000)))
	_, body = b.page("/runs/api-2-bbbb2222")
	assert.Contains(t, body, `data-op="approve"`)
	resp = b.post("/runs/api-2-bbbb2222/approve", "https://evil.example", url.Values{"stage": {"Release"}, "action": {"Approve"}})
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "another site cannot approve")
	resp = b.post("/runs/api-2-bbbb2222/approve", "", url.Values{"csrf": {strings.Repeat("0", 64)}, "stage": {"Release"}, "action": {"Approve"}})
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "nor a form without the session's token")
	_, err = s.db.Token(ctx, waiting.ID(), task)
	require.NoError(t, err, "the refused posts left the token alone")
	resp = b.post("/runs/api-2-bbbb2222/approve", "", url.Values{"stage": {"Release"}, "action": {"Approve"}, "comment": {"ok"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, bodyOf(t, resp))
	_, err = s.db.Token(ctx, waiting.ID(), task)
	assert.ErrorIs(t, err, store.ErrNotFound, "the token was answered")

	// Abandon stops the execution.
	resp = b.post("/runs/api-2-bbbb2222/abandon", "", url.Values{"comment": {"hung"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, bodyOf(t, resp))
	assert.Equal(t, "ABORTED", string(s.execution(waiting.ExecutionARN).Status))
}

// interpreted is the deployed stack's Step Functions as the dashboard reaches it
// (AWS_ENDPOINT_URL_SFN): the real state machine in the interpreter with the real advance
// function over the stack's table on moto (runopstest.Executions).
type interpreted struct {
	*runopstest.Executions
	t     *testing.T
	stack *onStack
	sfn   *sfn.Client
}

func newInterpreted(t *testing.T, s *onStack) *interpreted {
	x := &interpreted{Executions: runopstest.NewExecutions(t, s.db), t: t, stack: s}
	srv := httptest.NewServer(x.Executions)
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ENDPOINT_URL_SFN", srv.URL)
	x.sfn = sfn.New(sfn.Options{Region: awstest.Region, BaseEndpoint: aws.String(srv.URL), Credentials: aws.AnonymousCredentials{}})
	x.Advance = advance.New(s.db, nopEvents{}, x.sfn, advance.Config{Bucket: "artifacts", Project: "stepline-build"})
	return x
}

type nopEvents struct{}

func (nopEvents) Publish(context.Context, store.Record, []engine.Event) error { return nil }

// kept waits until the wait function has kept the token of run's approval.
func (x *interpreted) kept(run string) {
	x.t.Helper()
	require.Eventually(x.t, func() bool {
		_, err := x.stack.db.Token(context.Background(), run, approval.TaskKey("Release", "Approve", 1))
		return err == nil
	}, 60*time.Second, 50*time.Millisecond, "run %s never waited for its approval", run)
}

// run records a run of runopstest.ReleasePipeline as the trigger does and starts its execution; it answers
// the execution's ARN.
func (x *interpreted) run(id string) string {
	x.t.Helper()
	f, err := pipeline.Parse(".stepline.yml", []byte(runopstest.ReleasePipeline))
	require.NoError(x.t, err)
	p, err := f.Pipeline("")
	require.NoError(x.t, err)
	def := p.Definition()
	arn := runopstest.ExecutionARN(x.stack.stack.StateMachine, id)
	ctx := context.Background()
	require.NoError(x.t, x.stack.db.PutRun(ctx, store.Record{Definition: def, State: engine.New(def, engine.RunInfo{ID: id, Seq: 1}),
		Repo: "octo/api", Provider: "github", Branch: "main", Trigger: "push", Commit: strings.Repeat("c", 40), ExecutionARN: arn}))
	_, err = x.sfn.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(x.stack.stack.StateMachine), Name: aws.String(id),
		Input: aws.String(`{"run":"` + id + `"}`)})
	require.NoError(x.t, err)
	return arn
}

// builds is CodeBuild counting the builds of each buildspec: fail says whether attempt n of
// spec fails. A build's id is "stepline-build:<spec's name>-<n>".
func builds(fail func(spec string, n int) bool) func(spec string) (any, error) {
	var mu sync.Mutex
	attempts := map[string]int{}
	return func(spec string) (any, error) {
		mu.Lock()
		attempts[spec]++
		n := attempts[spec]
		mu.Unlock()
		id := fmt.Sprintf("stepline-build:%s-%d", strings.TrimSuffix(strings.TrimPrefix(spec, "ci/"), ".yml"), n)
		if fail(spec, n) {
			// A failed startBuild.sync: States.TaskFailed, its cause the whole Build.
			return nil, asltest.NamedError{Name: "States.TaskFailed", Msg: `{"Id":"` + id + `","BuildStatus":"FAILED"}`}
		}
		return map[string]any{"Build": map[string]any{"Id": id, "BuildStatus": "SUCCEEDED"}}, nil
	}
}

func TestDashboardOverADeployedStackRetriesAndApprovesAndTheExecutionGoesOn(t *testing.T) {
	s := newOnStack(t)
	x := newInterpreted(t, s)
	ctx := context.Background()
	x.Build = builds(func(spec string, n int) bool { return spec == "ci/package.yml" && n == 1 })
	const id = "api-1-aaaa1111"
	first := x.run(id)
	require.Equal(t, "PipelineFailed", x.Ended(first).Error)

	d := startDashboard(t, "--aws", "--stack", s.stack.Name)
	b := newBrowserSession(t, d.url)
	code, body := b.page("/runs/" + id)
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, "✗</span> Failed")
	assert.Contains(t, body, `/codesuite/codebuild/projects/stepline-build/build/stepline-build%3Apackage-1/?region=us-east-1`,
		"the failed build's log, linked from what the state machine brought back")

	resp := b.post("/runs/"+id+"/retry", "", url.Values{"stage": {"Build"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, bodyOf(t, resp))
	rec, err := s.db.GetRun(ctx, id)
	require.NoError(t, err)
	resumed := rec.ExecutionARN
	require.NotEqual(t, first, resumed)
	x.kept(id)

	live := b.get("/runs/" + id + "/live")
	require.Equal(t, http.StatusOK, live.StatusCode)
	etag := live.Header.Get("ETag")
	assert.Equal(t, "false", live.Header.Get("X-Run-Final"))
	live = b.get("/runs/"+id+"/live", "If-None-Match", etag)
	assert.Equal(t, http.StatusNotModified, live.StatusCode, "the run waits: nothing new")
	_, body = b.page("/runs/" + id)
	assert.Contains(t, body, `data-op="approve"`, "the approval waits")
	resp = b.post("/runs/"+id+"/approve", "", url.Values{"stage": {"Release"}, "action": {"Approve"}, "comment": {"ship it"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, bodyOf(t, resp))

	ex := x.Ended(resumed)
	require.Empty(t, ex.Error, ex.Cause)
	assert.Equal(t, []string{"Advance", "Route", "CodeBuild", "Advance", "Route", "Succeeded"}, ex.Entered[len(ex.Entered)-6:], "Ship built after the approval")
	live = b.get("/runs/"+id+"/live", "If-None-Match", etag)
	require.Equal(t, http.StatusOK, live.StatusCode, "the polling page gets the run's end")
	assert.Equal(t, "true", live.Header.Get("X-Run-Final"), "and stops polling")
	body = bodyOf(t, live)
	assert.Contains(t, body, "✓</span> Succeeded")
	assert.Regexp(t, `approved by arn:aws:[a-z]+::\d{12}:\S+: ship it`, body, "who approved, from STS")

	resp = b.post("/runs/"+id+"/approve", "", url.Values{"stage": {"Release"}, "action": {"Approve"}})
	assert.Equal(t, http.StatusConflict, resp.StatusCode)
	assert.Contains(t, bodyOf(t, resp), "the run has ended (SUCCEEDED)")
}

func TestDashboardOverADeployedStackFollowsTheRunInTheBrowserByPolling(t *testing.T) {
	s := newOnStack(t)
	x := newInterpreted(t, s)
	shipping, ship := make(chan struct{}), make(chan struct{})
	release := sync.OnceFunc(func() { close(ship) })
	t.Cleanup(release) // a test that fails early must not leave the interpreter waiting
	build := builds(func(string, int) bool { return false })
	x.Build = func(spec string) (any, error) {
		if spec == "ci/ship.yml" {
			close(shipping)
			<-ship
		}
		return build(spec)
	}
	const id = "api-1-aaaa1111"
	arn := x.run(id)
	x.kept(id)
	d := startDashboard(t, "--aws", "--stack", s.stack.Name)
	ctx := browser(t, 1280, 900)

	within(t, ctx, 30*time.Second, chromedp.Navigate(d.url+"/runs/"+id+"?stage=Release&action=Approve"), visible(`a[data-op="approve"]`))
	assert.Equal(t, "poll", js[string](t, ctx, `document.getElementById("live").dataset.live`))
	// The page asks for changes, and is told there are none (304), before anyone approves.
	const liveStatuses = `performance.getEntriesByType("resource").filter(e => e.name.includes("/live")).map(e => e.responseStatus)`
	within(t, ctx, 30*time.Second, until(liveStatuses+`.includes(304)`))

	within(t, ctx, 30*time.Second,
		chromedp.Click(chromedp.CSS(`a[data-op="approve"]`)),
		visible("#f-comment"),
		chromedp.SendKeys(chromedp.CSS("#f-comment"), "ship it"),
		chromedp.Click(chromedp.CSS("#confirm")),
		visible("#done"),
	)
	<-shipping
	js[bool](t, ctx, `window.notReloaded = true`)
	assert.Contains(t, text(t, ctx, "#live h1 .status"), "In progress", "Ship builds after the approval")
	release()
	// The page follows the run to its end in place.
	within(t, ctx, time.Minute, waitText("#live h1 .status", "Succeeded"))
	require.Empty(t, x.Ended(arn).Error)
	assert.True(t, js[bool](t, ctx, `window.notReloaded === true`), "the page was updated in place, not reloaded")
	assert.Equal(t, "true", js[string](t, ctx, `document.getElementById("live").dataset.final`), "it stops polling")
	assert.Contains(t, text(t, ctx, `.stage[data-stage="Release"]`), "Succeeded")
}
