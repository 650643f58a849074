package cli

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/approval"
	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/store"
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
