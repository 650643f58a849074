package dashboard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/runops"
	"github.com/stepline/stepline/pkg/store"
)

// def is a pipeline like examples/hello: a build stage with two parallel actions and a
// second group, a deploy, an approval.
var def = engine.Definition{Pipeline: "hello", Stages: []engine.Stage{
	{Name: "Build", Actions: []engine.Action{
		{Name: "Vet", Provider: "codebuild"}, {Name: "Test", Provider: "codebuild"},
		{Name: "Build", Provider: "codebuild", RunOrder: 2, Outputs: []string{"app"}, Namespace: "build"}}},
	{Name: "Deploy", Actions: []engine.Action{{Name: "Release", Provider: "local", Inputs: []string{"app"}}}},
	{Name: "Approve", Actions: []engine.Action{{Name: "Promote", Provider: "approval"}}},
}}

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// record builds run seq of def on branch with status, started seq minutes after t0.
func record(seq int64, branch string, status engine.Status, message string) store.Record {
	id := fmt.Sprintf("hello-%d-abc", seq)
	st := engine.New(def, engine.RunInfo{ID: id, Seq: seq, Variables: map[string]map[string]string{
		"source": {"commit_message": message, "author": "Ada <ada@example.invalid>", "repository": "org/hello"},
		"env":    {"name": map[string]string{"main": "prod"}[branch]},
	}})
	start := t0.Add(time.Duration(seq) * time.Minute)
	st.Status, st.Started = status, start.UnixMilli()
	if status.Final() {
		st.Ended = start.Add(90 * time.Second).UnixMilli()
	}
	for i := range st.Stages {
		for j := range st.Stages[i].Actions {
			st.Stages[i].Actions[j] = engine.ActionState{Status: engine.Succeeded, Attempt: 1, Started: st.Started, Ended: st.Started + 1000}
		}
		st.Stages[i].Status, st.Stages[i].Started, st.Stages[i].Ended = engine.Succeeded, st.Started, st.Started+2000
	}
	at := st.Spaces["build"]
	st.Stages[at[0]].Actions[at[1]].Vars = map[string]string{"VERSION": "1.0." + fmt.Sprint(seq)}
	st.Artifacts = map[string]string{"app": "/state/artifacts/" + id + "/app.zip"}
	return store.Record{Definition: def, State: st, Repo: "/repo", Trigger: "push", Branch: branch,
		Commit: "0123456789abcdef0123456789abcdef01234567", Updated: start}
}

// waiting makes rec wait for its approval.
func waiting(rec store.Record) store.Record {
	rec.State.Status, rec.State.Ended, rec.State.Stage = engine.InProgress, 0, 2
	rec.State.Stages[2] = engine.StageState{Status: engine.InProgress, Started: rec.State.Started,
		Actions: []engine.ActionState{{Status: engine.InProgress, Attempt: 1, Started: rec.State.Started}}}
	return rec
}

// failedDeploy makes rec's Deploy stage fail and the run with it.
func failedDeploy(rec store.Record) store.Record {
	rec.State.Status, rec.State.Message = engine.Failed, "stage Deploy failed"
	rec.State.Stages[1].Status = engine.Failed
	rec.State.Stages[1].Actions[0] = engine.ActionState{Status: engine.Failed, Attempt: 2, Started: rec.State.Started, Ended: rec.State.Started + 500, Message: "health check failed"}
	rec.State.Stages[2] = engine.StageState{Actions: []engine.ActionState{{}}}
	return rec
}

// calls records what a fake Operator was asked.
type calls struct {
	mu  sync.Mutex
	got []string
	err error
}

func (c *calls) add(s string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, s)
	return c.err
}

func (c *calls) list() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.got...)
}

func (c *calls) Approve(_ context.Context, run, stage, action, comment string) error {
	return c.add("approve " + run + " " + stage + "/" + action + " " + comment)
}
func (c *calls) Reject(_ context.Context, run, stage, action, comment string) error {
	return c.add("reject " + run + " " + stage + "/" + action + " " + comment)
}
func (c *calls) Retry(_ context.Context, run, stage string, all bool) error {
	return c.add(fmt.Sprintf("retry %s %s all=%v", run, stage, all))
}
func (c *calls) Stop(_ context.Context, run string, abandon bool, reason string) error {
	return c.add(fmt.Sprintf("stop %s abandon=%v %s", run, abandon, reason))
}
func (c *calls) Rollback(_ context.Context, run, stage, to string) error {
	return c.add("rollback " + run + " " + stage + " to " + to)
}
func (c *calls) Start(_ context.Context, pipeline, branch, commit string) (string, error) {
	return "hello-99-new", c.add("start " + pipeline + " " + branch + " " + commit)
}

func newServer(t *testing.T, db *store.Memory, opts ...Option) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(New(runops.NewLocal(db, t.TempDir(), nil), append([]Option{WithClock(func() time.Time { return t0.Add(time.Hour) })}, opts...)...))
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := c.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func put(t *testing.T, db store.Store, recs ...store.Record) {
	t.Helper()
	for _, r := range recs {
		require.NoError(t, db.PutRun(context.Background(), r))
	}
}

func TestPipelinesShowTheLastRunOfEachEnvironmentOrBranch(t *testing.T) {
	t.Parallel()
	db := store.NewMemory()
	put(t, db, record(1, "main", engine.Succeeded, "one"), record(2, "main", engine.Failed, "two"),
		record(3, "feature/x", engine.Succeeded, "three"), record(4, "feature/x", engine.Succeeded, "four"))
	srv := newServer(t, db)
	code, body := get(t, srv.Client(), srv.URL+"/")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "hello-2-abc", "main's environment shows its newest run")
	assert.NotContains(t, body, "hello-1-abc", "an older run of the same environment is not the last")
	assert.Contains(t, body, "hello-4-abc")
	assert.NotContains(t, body, "hello-3-abc")
	assert.Contains(t, body, "✗</span> Failed", "status is a word and an icon, not a colour alone")
}

func TestThePipelinesViewReadsEachScopesNewestRunNeverTheHistory(t *testing.T) {
	t.Parallel()
	db := store.NewMemory()
	put(t, db, record(1, "main", engine.Succeeded, "one"), record(2, "main", engine.Failed, "two"),
		record(3, "feature/x", engine.Succeeded, "three"))
	db.Fail = func(method string) error {
		if method == "ListRuns" {
			return errors.New("the pipelines view listed the history")
		}
		return nil
	}
	srv := newServer(t, db)

	code, body := get(t, srv.Client(), srv.URL+"/")

	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, "hello-2-abc")
	assert.Contains(t, body, "hello-3-abc")
	assert.NotContains(t, body, "hello-1-abc")
}

func TestRunsOfAPipelineFilterByBranchAndStatusAndPage(t *testing.T) {
	t.Parallel()
	db := store.NewMemory()
	for i := int64(1); i <= 60; i++ {
		branch, status := "main", engine.Succeeded
		if i%2 == 0 {
			branch = "dev"
		}
		if i%3 == 0 {
			status = engine.Failed
		}
		put(t, db, record(i, branch, status, "m"))
	}
	srv := newServer(t, db)
	_, body := get(t, srv.Client(), srv.URL+"/pipelines/hello?branch=dev&status=failed")
	assert.Equal(t, 10, strings.Count(body, `<td data-label="Run">`), "every sixth run is a failed run of dev")
	assert.Contains(t, body, "hello-60-abc")
	assert.NotContains(t, body, "hello-58-abc", "a succeeded run of dev is filtered out")
	assert.NotContains(t, body, "hello-57-abc", "a failed run of main is filtered out")

	_, first := get(t, srv.Client(), srv.URL+"/pipelines/hello")
	assert.Equal(t, 25, strings.Count(first, `<td data-label="Run">`))
	assert.Contains(t, first, `href="?token=hello-36-abc"`, "the next page starts after the last run shown")
	_, third := get(t, srv.Client(), srv.URL+"/pipelines/hello?token=hello-11-abc")
	assert.Equal(t, 10, strings.Count(third, `<td data-label="Run">`))
	assert.Contains(t, third, "hello-1-abc")
	assert.NotContains(t, third, "Older →")
	assert.Contains(t, third, `href="?">← Newest`)
}

func TestARunShowsItsGraphVariablesArtifactsAndTimeline(t *testing.T) {
	t.Parallel()
	db := store.NewMemory()
	put(t, db, record(7, "main", engine.Succeeded, "ship it"))
	srv := newServer(t, db)
	code, body := get(t, srv.Client(), srv.URL+"/runs/hello-7-abc?stage=Build&action=Build")
	require.Equal(t, http.StatusOK, code)
	for _, want := range []string{"ship it", "Ada &lt;ada@example.invalid&gt;", "VERSION", "1.0.7",
		"/state/artifacts/hello-7-abc/app.zip", "Run started", "Action Build/Vet succeeded", "Stage Approve succeeded", "Run succeeded",
		`data-stage="Deploy"`, `data-action="Approve/Promote"`} {
		assert.Contains(t, body, want)
	}
	// Vet and Test share run_order 1, Build follows in its own group.
	assert.Regexp(t, `(?s)<ul class="actions">\s*<li[^>]*"Build/Vet".*"Build/Test".*</ul></li><li><ul class="actions">\s*<li[^>]*"Build/Build"`, body)
}

func TestUserTextIsShownAsTextNeverAsHTML(t *testing.T) {
	t.Parallel()
	db := store.NewMemory()
	rec := record(1, "<b>branch</b>", engine.Failed, `<script>alert("x")</script>`)
	rec.Trigger = `<img src=x onerror=alert(1)>`
	rec.State.Message = "<i>why</i>"
	put(t, db, rec)
	srv := newServer(t, db)
	for _, u := range []string{"/", "/pipelines/hello", "/runs/hello-1-abc", "/runs/hello-1-abc/live"} {
		_, body := get(t, srv.Client(), srv.URL+u)
		assert.NotContains(t, body, "<script>alert", u)
		assert.NotContains(t, body, "<img src=x", u)
		assert.NotContains(t, body, "<b>branch", u)
		assert.Contains(t, body, "&lt;", u)
	}
}

func TestAPageIsRefusedUnderAHostNameItWasNotGiven(t *testing.T) {
	t.Parallel()
	srv := newServer(t, store.NewMemory())
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/", nil)
	require.NoError(t, err)
	req.Host = "rebound.example.com"
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)

	named := newServer(t, store.NewMemory(), WithHosts("ci.internal"))
	req.URL, _ = url.Parse(named.URL + "/")
	req.Host = "ci.internal:8080"
	resp, err = named.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

// session opens a page and returns the client holding its cookie and the form token.
func session(t *testing.T, srv *httptest.Server, page string) (*http.Client, string) {
	t.Helper()
	c := srv.Client()
	jar := &cookieJar{}
	c.Jar = jar
	_, body := get(t, c, srv.URL+page)
	i := strings.Index(body, `name="csrf" value="`)
	require.Positive(t, i, "the confirmation page holds a form token")
	tok := body[i+len(`name="csrf" value="`):]
	return c, tok[:strings.IndexByte(tok, '"')]
}

type cookieJar struct {
	mu      sync.Mutex
	cookies []*http.Cookie
}

func (j *cookieJar) SetCookies(_ *url.URL, cs []*http.Cookie) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.cookies = append(j.cookies, cs...)
}

func (j *cookieJar) Cookies(*url.URL) []*http.Cookie {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.cookies
}

func post(t *testing.T, c *http.Client, u, origin string, form url.Values) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location") + string(b)
}

func TestAnOperationNeedsThisOriginAndTheSessionToken(t *testing.T) {
	t.Parallel()
	db := store.NewMemory()
	put(t, db, waiting(record(3, "main", engine.InProgress, "m")))
	op := &calls{}
	srv := newServer(t, db, WithOperator(op))
	c, tok := session(t, srv, "/runs/hello-3-abc/confirm/approve?stage=Approve&action=Promote")
	form := url.Values{"csrf": {tok}, "stage": {"Approve"}, "action": {"Promote"}, "comment": {"looks good"}}

	for name, tc := range map[string]struct {
		origin string
		form   url.Values
	}{
		"another site's origin":   {"https://evil.example", form},
		"no origin nor referer":   {"", form},
		"a missing token":         {srv.URL, url.Values{"stage": {"Approve"}, "action": {"Promote"}}},
		"another session's token": {srv.URL, url.Values{"csrf": {strings.Repeat("0", 64)}, "stage": {"Approve"}, "action": {"Promote"}}},
	} {
		code, body := post(t, c, srv.URL+"/runs/hello-3-abc/approve", tc.origin, tc.form)
		assert.Equal(t, http.StatusForbidden, code, name)
		assert.Contains(t, body, "Refused", name)
	}
	assert.Empty(t, op.list(), "nothing refused reached the operator")

	code, body := post(t, c, srv.URL+"/runs/hello-3-abc/approve", srv.URL, form)
	assert.Equal(t, http.StatusSeeOther, code, body)
	assert.Equal(t, []string{"approve hello-3-abc Approve/Promote looks good"}, op.list())
}

func TestEachButtonPostsItsOperation(t *testing.T) {
	t.Parallel()
	db := store.NewMemory()
	put(t, db, record(1, "main", engine.Succeeded, "m"), failedDeploy(record(2, "main", engine.Failed, "m")), waiting(record(3, "main", engine.InProgress, "m")))
	op := &calls{}
	srv := newServer(t, db, WithOperator(op))
	c, tok := session(t, srv, "/runs/hello-2-abc/confirm/retry?stage=Deploy")
	for _, tc := range []struct{ path, want string }{
		{"/runs/hello-2-abc/retry?stage=Deploy", "retry hello-2-abc Deploy all=false"},
		{"/runs/hello-2-abc/retry-all?stage=Deploy", "retry hello-2-abc Deploy all=true"},
		{"/runs/hello-3-abc/reject?stage=Approve&action=Promote&comment=no", "reject hello-3-abc Approve/Promote no"},
		{"/runs/hello-3-abc/stop?comment=later", "stop hello-3-abc abandon=false later"},
		{"/runs/hello-3-abc/abandon", "stop hello-3-abc abandon=true "},
		{"/runs/hello-2-abc/rollback?stage=Deploy&to=hello-1-abc", "rollback hello-2-abc Deploy to hello-1-abc"},
		{"/start?pipeline=hello&branch=main", "start hello main "},
	} {
		u, _ := url.Parse(tc.path)
		form := u.Query()
		form.Set("csrf", tok)
		code, body := post(t, c, srv.URL+u.Path, srv.URL, form)
		assert.Equal(t, http.StatusSeeOther, code, tc.path+": "+body)
		assert.Contains(t, op.list(), tc.want)
	}
}

func TestTheButtonsFollowTheRunsState(t *testing.T) {
	t.Parallel()
	db := store.NewMemory()
	put(t, db, record(1, "main", engine.Succeeded, "m"), failedDeploy(record(2, "main", engine.Failed, "m")), waiting(record(3, "main", engine.InProgress, "m")))
	srv := newServer(t, db, WithOperator(&calls{}))
	_, failed := get(t, srv.Client(), srv.URL+"/runs/hello-2-abc")
	assert.Contains(t, failed, `href="/runs/hello-2-abc/confirm/retry?stage=Deploy"`)
	assert.NotContains(t, failed, "confirm/approve")
	assert.NotContains(t, failed, "confirm/stop")
	_, wait := get(t, srv.Client(), srv.URL+"/runs/hello-3-abc")
	assert.Contains(t, wait, `href="/runs/hello-3-abc/confirm/approve?action=Promote&amp;stage=Approve"`)
	assert.Contains(t, wait, "confirm/stop")
	assert.NotContains(t, wait, "confirm/retry")
	stopped := failedDeploy(record(4, "main", engine.Canceled, "m"))
	stopped.State.Status, stopped.State.Stages[1].Status = engine.Canceled, engine.Canceled
	put(t, db, stopped)
	_, body := get(t, srv.Client(), srv.URL+"/runs/hello-4-abc")
	assert.Contains(t, body, `href="/runs/hello-4-abc/confirm/retry?stage=Deploy"`, "a stopped run's stage is retried as a failed one's (engine.CheckRetry)")
	_, confirm := get(t, srv.Client(), srv.URL+"/runs/hello-2-abc/confirm/rollback?stage=Deploy")
	assert.Contains(t, confirm, `value="hello-1-abc"`, "an earlier successful run of the environment is a rollback target")

	// An untrusted run never deploys (runops refuses its rollback): no Roll back button, and
	// the page says why.
	untrusted := record(5, "main", engine.Succeeded, "m")
	untrusted.Untrusted = true
	put(t, db, untrusted)
	_, body = get(t, srv.Client(), srv.URL+"/runs/hello-5-abc")
	assert.NotContains(t, body, "confirm/rollback", "an untrusted run offers no rollback")
	assert.Contains(t, body, "never deploys")
	_, trusted := get(t, srv.Client(), srv.URL+"/runs/hello-1-abc")
	assert.Contains(t, trusted, "confirm/rollback", "a trusted run that deployed offers its rollback")
	assert.NotContains(t, trusted, "never deploys")

	readOnly := newServer(t, db, WithoutOperations("the stack has no operations yet"))
	_, body = get(t, readOnly.Client(), readOnly.URL+"/runs/hello-3-abc")
	assert.Contains(t, body, "not available: the stack has no operations yet")
	assert.NotContains(t, body, "confirm/approve")
}

func TestTheLiveFragmentAnswersNotModifiedUntilTheRunChanges(t *testing.T) {
	t.Parallel()
	db := store.NewMemory()
	rec := waiting(record(3, "main", engine.InProgress, "m"))
	put(t, db, rec)
	srv := newServer(t, db)
	resp, err := srv.Client().Get(srv.URL + "/runs/hello-3-abc/live")
	require.NoError(t, err)
	resp.Body.Close()
	etag := resp.Header.Get("ETag")
	require.NotEmpty(t, etag)
	assert.Equal(t, "false", resp.Header.Get("X-Run-Final"))

	again := func() int {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/runs/hello-3-abc/live", nil)
		req.Header.Set("If-None-Match", etag)
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusNotModified, again())
	rec.Updated = rec.Updated.Add(time.Second)
	put(t, db, rec)
	assert.Equal(t, http.StatusOK, again())
}

func TestEventsStreamTheRunAndItsLogUntilTheEnd(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	logFile := filepath.Join(dir, "runs", "hello-5-abc", "logs", "Build.Vet.1.log")
	require.NoError(t, os.MkdirAll(filepath.Dir(logFile), 0o755))
	require.NoError(t, os.WriteFile(logFile, []byte("go vet ./...\n<script>ok</script>\n"), 0o644))
	db := store.NewMemory()
	rec := record(5, "main", engine.Succeeded, "m")
	rec.Logs = map[string]string{"Build/Vet": logFile, "Build/Test": "/etc/passwd"}
	put(t, db, rec)
	srv := newServer(t, db, WithLocalLogs(dir, 10*time.Millisecond))

	_, body := get(t, srv.Client(), srv.URL+"/runs/hello-5-abc/events?stage=Build&action=Vet")
	assert.Contains(t, body, "event: state\n")
	assert.Contains(t, body, `data: "go vet ./...\n\u003cscript\u003eok\u003c/script\u003e\n"`)
	assert.True(t, strings.HasSuffix(body, "event: end\ndata: \"\"\n\n"), body)

	code, text := get(t, srv.Client(), srv.URL+"/runs/hello-5-abc/log?stage=Build&action=Vet")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "go vet ./...\n<script>ok</script>\n", text)
	code, text = get(t, srv.Client(), srv.URL+"/runs/hello-5-abc/log?stage=Build&action=Test")
	assert.Equal(t, http.StatusNotFound, code, "a record naming a file outside the state directory gets nothing")
	assert.NotContains(t, text, "root:")
}

func TestWholeKeepsACutCharacterForTheNextRead(t *testing.T) {
	t.Parallel()
	b := []byte("ok é")
	assert.Equal(t, len(b), whole(b))
	assert.Equal(t, len(b)-2, whole(b[:len(b)-1]), "the first byte of é waits for the second")
	assert.Equal(t, 2, whole([]byte("ok")))
}

func FuzzWhole(f *testing.F) {
	f.Add([]byte("héllo wörld ✓ 𝄞"), 4)
	f.Add([]byte{0xff, 0xc3}, 1)
	f.Fuzz(func(t *testing.T, b []byte, size int) {
		size = utf8.UTFMax + abs(size)%64
		// Reading valid text in chunks of size, each cut by whole, sends valid text only,
		// and the chunks make up the input again.
		var out []byte
		for off := 0; off < len(b); {
			end := min(off+size, len(b))
			n := whole(b[off:end])
			if n < 0 || n > end-off {
				t.Fatalf("whole(%q) = %d", b[off:end], n)
			}
			if n == 0 {
				if utf8.Valid(b) {
					t.Fatalf("whole(%q) keeps everything back from valid text", b[off:end])
				}
				n = end - off
			}
			if utf8.Valid(b) && !utf8.Valid(b[off:off+n]) {
				t.Fatalf("chunk %q of valid text is cut inside a character", b[off:off+n])
			}
			out = append(out, b[off:off+n]...)
			off += n
		}
		if string(out) != string(b) {
			t.Fatalf("chunks %q != %q", out, b)
		}
	})
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func TestARefusedOperationShowsTheReason(t *testing.T) {
	t.Parallel()
	db := store.NewMemory()
	put(t, db, failedDeploy(record(2, "main", engine.Failed, "m")))
	op := &calls{err: &runops.Refused{Op: runops.OpRetry, Run: "hello-2-abc", Reason: "stage Build did not fail"}}
	srv := newServer(t, db, WithOperator(op))
	c, tok := session(t, srv, "/runs/hello-2-abc/confirm/retry?stage=Build")
	code, body := post(t, c, srv.URL+"/runs/hello-2-abc/retry", srv.URL, url.Values{"csrf": {tok}, "stage": {"Build"}})
	assert.Equal(t, http.StatusConflict, code)
	assert.Contains(t, body, "stage Build did not fail")
	assert.NotContains(t, body, "javascript:", "the Content-Security-Policy blocks a javascript: link: Back would do nothing")

	op.err = errors.New("the disk is full")
	code, body = post(t, c, srv.URL+"/runs/hello-2-abc/approve", srv.URL, url.Values{"csrf": {tok}, "stage": {"Approve"}, "action": {"Promote"}})
	assert.Equal(t, http.StatusInternalServerError, code, "a failure that is not a refusal is the server's")
	assert.Contains(t, body, "the disk is full")
}

// TestTheColoursPassWCAGContrast checks the style sheet's colours against the backgrounds
// they are drawn on: 4.5:1 at least, WCAG 2.1 AA for normal text
// (https://www.w3.org/TR/WCAG21/#contrast-minimum).
func TestTheColoursPassWCAGContrast(t *testing.T) {
	t.Parallel()
	css, err := assets.ReadFile("assets/static/style.css")
	require.NoError(t, err)
	vars := map[string]string{}
	for _, m := range regexp.MustCompile(`--([a-z]+): (#[0-9a-f]{6})`).FindAllStringSubmatch(string(css), -1) {
		vars[m[1]] = m[2]
	}
	for _, pair := range [][2]string{
		{"fg", "bg"}, {"muted", "bg"}, {"muted", "panel"}, {"link", "bg"}, {"link", "panel"},
		{"ok", "bg"}, {"ok", "panel"}, {"failed", "bg"}, {"failed", "panel"}, {"running", "bg"}, {"running", "panel"},
		{"waiting", "bg"}, {"waiting", "panel"}, {"stopped", "bg"}, {"stopped", "panel"},
		{"#ffffff", "link"}, {"#ffffff", "failed"}, {"#ffffff", "#14213d"}, {"#e6e9ef", "#14213d"}, {"#e6edf3", "#0d1117"},
	} {
		fg, bg := vars[pair[0]], vars[pair[1]]
		if strings.HasPrefix(pair[0], "#") {
			fg = pair[0]
		}
		if strings.HasPrefix(pair[1], "#") {
			bg = pair[1]
		}
		require.NotEmpty(t, fg, pair[0])
		require.NotEmpty(t, bg, pair[1])
		assert.GreaterOrEqual(t, contrast(fg, bg), 4.5, "%s on %s", pair[0], pair[1])
	}
}

// contrast is the WCAG contrast ratio of two #rrggbb colours.
func contrast(a, b string) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

func luminance(hex string) float64 {
	var rgb [3]float64
	for i := range rgb {
		v, _ := strconv.ParseUint(hex[1+2*i:3+2*i], 16, 8)
		c := float64(v) / 255
		if c <= 0.03928 {
			rgb[i] = c / 12.92
		} else {
			rgb[i] = math.Pow((c+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*rgb[0] + 0.7152*rgb[1] + 0.0722*rgb[2]
}

func TestARequestFromAnotherMachineOrThroughAProxyIsRefusedWhateverItsHost(t *testing.T) {
	t.Parallel()
	db := store.NewMemory()
	put(t, db, waiting(record(3, "main", engine.InProgress, "m")))
	h := New(runops.NewLocal(db, t.TempDir(), nil), WithOperator(&calls{}))
	for name, tc := range map[string]struct {
		peer   string
		header string
		want   int
	}{
		"this machine (IPv4)":                       {"127.0.0.1:50000", "", http.StatusOK},
		"this machine (IPv6)":                       {"[::1]:50000", "", http.StatusOK},
		"another machine naming localhost":          {"192.0.2.7:50000", "", http.StatusForbidden},
		"a proxy on this machine (X-Forwarded-For)": {"127.0.0.1:50000", "X-Forwarded-For", http.StatusForbidden},
		"a proxy on this machine (Forwarded)":       {"127.0.0.1:50000", "Forwarded", http.StatusForbidden},
		"a proxy on this machine (X-Real-IP)":       {"127.0.0.1:50000", "X-Real-IP", http.StatusForbidden},
	} {
		req := httptest.NewRequest(http.MethodGet, "http://localhost:8080/runs/hello-3-abc/confirm/approve?stage=Approve&action=Promote", nil)
		req.RemoteAddr = tc.peer
		if tc.header != "" {
			req.Header.Set(tc.header, "203.0.113.9")
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		assert.Equal(t, tc.want, w.Code, name)
		if tc.want == http.StatusForbidden {
			assert.NotContains(t, w.Body.String(), `name="csrf"`, "%s: no form token leaves the dashboard", name)
		}
	}
}
