package cli

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/store"
)

// The dashboard in a real headless Chromium, over runs `stepline run` drives in the same
// state directory: what a user sees, clicked as a user clicks.

func TestDashboardShowsHelloLiveUntilItFinishes(t *testing.T) {
	r := exampleRepo(t, "../../examples/hello")
	d := r.startDashboard()
	ctx := browser(t, 1280, 900)

	run := r.background("run", "--auto-approve", "--plain")
	id := r.firstRun(time.Minute)
	within(t, ctx, 30*time.Second, chromedp.Navigate(d.url+"/runs/"+id), visible("#live h1"))
	// A mark the page keeps only as long as it is not reloaded.
	js[bool](t, ctx, `window.notReloaded = true`)
	assert.Contains(t, text(t, ctx, "#live h1 .status"), "In progress", "the page opened while the run was going on")

	// The run goes on; the page follows it through Build, Deploy-Staging, Approve and
	// Deploy-Prod without a reload.
	within(t, ctx, 4*time.Minute, waitText("#live h1 .status", "Succeeded"))
	got := <-run
	require.Equal(t, ExitOK, got.code, got.out+got.err)
	assert.True(t, js[bool](t, ctx, `window.notReloaded === true`), "the page was updated in place, not reloaded")
	stages := js[[]string](t, ctx, `[...document.querySelectorAll('.stage')].map(s => s.dataset.stage + ' ' + s.querySelector('.status').textContent.trim())`)
	assert.Equal(t, []string{"Source ✓ Succeeded", "Build ✓ Succeeded", "Deploy-Staging ✓ Succeeded", "Approve ✓ Succeeded", "Deploy-Prod ✓ Succeeded"}, stages)

	// The action shown first streamed its log into the page as text.
	within(t, ctx, 20*time.Second, chromedp.Navigate(d.url+"/runs/"+id+"?stage=Build&action=Build"), waitText("#log", "building hello"))
	assert.Contains(t, text(t, ctx, "#log"), "building hello 1.0.1-")
	assert.Contains(t, text(t, ctx, ".detail .kv td"), "1.0.1-", "the build's exported VERSION")
	shot(t, ctx, "dashboard-success")

	// The pipelines view lists it, and fits a phone's width without sideways scrolling.
	phone := browser(t, 390, 844)
	const overflow = `document.scrollingElement.scrollWidth > window.innerWidth`
	within(t, phone, 20*time.Second, chromedp.Navigate(d.url+"/"), waitText("main", id))
	assert.False(t, js[bool](t, phone, overflow), "the pipelines view fits a phone's width")
	within(t, phone, 20*time.Second, chromedp.Navigate(d.url+"/runs/"+id), visible(".graph"))
	assert.False(t, js[bool](t, phone, overflow), "the run view fits a phone's width: stages stack")
}

// xssPipeline runs one local build; the commit message is what the test is about.
const xssPipeline = `version: 1
pipelines:
  - name: site
    stages:
      - name: Build
        actions:
          - {name: Build, provider: codebuild, buildspec: buildspec.yml, inputs: [source]}
`

const echoBuildspec = `version: 0.2
phases:
  build:
    commands:
      - echo '<b>not bold</b>'
`

func TestDashboardShowsACommitMessageWithAScriptAsText(t *testing.T) {
	r := newRepo(t, map[string]string{".stepline.yml": xssPipeline, "buildspec.yml": echoBuildspec})
	msg := `<script>window.injected = true; document.title = "pwned"</script><img src=x onerror="window.injected=true">`
	r.commit(msg, map[string]string{"README": "x"})
	res := r.stepline("", "run", "--plain")
	require.Equal(t, ExitOK, res.code, res.out+res.err)
	d := r.startDashboard()
	ctx := browser(t, 1280, 900)
	id := r.firstRun(time.Second)

	within(t, ctx, 30*time.Second, chromedp.Navigate(d.url+"/runs/"+id+"?stage=Build&action=Build"), waitText("#log", "not bold"))
	assert.Equal(t, msg, text(t, ctx, "#commit-message"), "the commit message reads as the characters it holds")
	assert.Contains(t, text(t, ctx, "#log"), "<b>not bold</b>", "log lines are text too")
	assert.False(t, js[bool](t, ctx, `window.injected === true || document.querySelectorAll('main script, main img, #log b').length > 0`),
		"nothing in the commit message or the log ran or became an element")
	assert.NotContains(t, read(t, ctx, 5*time.Second, chromedp.Title()), "pwned")
}

// waitingRun starts a pipeline that waits for an approval (ops_test.go's gatedFile) with approvals left to others and waits until it
// waits for its approval.
func waitingRun(t *testing.T) (*repo, <-chan result, string) {
	r := newRepo(t, map[string]string{".stepline.yml": gatedFile})
	run := r.background("run", "--wait-approvals", "--plain")
	rec := r.until("rel-1", waitingFor(1, 0))
	return r, run, rec.ID()
}

func TestDashboardRefusesACrossOriginPost(t *testing.T) {
	r, run, id := waitingRun(t)
	d := r.startDashboard()
	ctx := browser(t, 1280, 900)
	// The user has the dashboard open (a session cookie) and then visits another site, whose
	// page posts an approval to the dashboard at once.
	within(t, ctx, 20*time.Second, chromedp.Navigate(d.url+"/runs/"+id), visible("#live"))
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(`<!doctype html><form id="f" method="post" action="` + d.url + `/runs/` + id + `/approve">
<input name="csrf" value="guess"><input name="stage" value="Approve"><input name="action" value="Gate">
<input name="comment" value="from another site"></form>
<script>document.getElementById("f").submit()</script>`))
	}))
	defer evil.Close()
	within(t, ctx, 20*time.Second, chromedp.Navigate(evil.URL), until(`location.href.includes("/approve") && document.readyState === "complete"`))
	body := text(t, ctx, "body")
	assert.Contains(t, body, "a request from another site cannot change a run")
	time.Sleep(time.Second) // a request that got through would be taken within half a second
	rec := r.until("rel-1", func(store.Record) bool { return true })
	assert.Equal(t, engine.InProgress, rec.State.Stages[1].Actions[0].Status, "the run still waits for its approval")

	res := r.stepline("", "reject", id, "Approve", "Gate", "-m", "end of test")
	require.Equal(t, ExitOK, res.code, res.out+res.err)
	<-run
}

func TestDashboardApprovalFromThePageLetsTheRunGoOn(t *testing.T) {
	r, run, id := waitingRun(t)
	d := r.startDashboard()
	ctx := browser(t, 1280, 900)
	within(t, ctx, 30*time.Second, chromedp.Navigate(d.url+"/runs/"+id+"?stage=Approve&action=Gate"), visible(`a[data-op="approve"]`))
	assert.Contains(t, text(t, ctx, `.stage[data-stage="Approve"] .status`), "In progress", "the approval waits")
	shot(t, ctx, "dashboard-waiting")

	// By keyboard: the button, then the confirmation with a comment.
	within(t, ctx, 30*time.Second,
		chromedp.Focus(chromedp.CSS(`a[data-op="approve"]`)),
		chromedp.KeyEvent("\r"),
		visible("#f-comment"),
		chromedp.SendKeys(chromedp.CSS("#f-comment"), "ship it <b>now</b>"),
		chromedp.Focus(chromedp.CSS("#confirm")),
		chromedp.KeyEvent("\r"),
		visible("#done"),
	)
	assert.Contains(t, text(t, ctx, "#done"), "Approve")
	within(t, ctx, time.Minute, waitText("#live h1 .status", "Succeeded"))
	got := <-run
	require.Equal(t, ExitOK, got.code, got.out+got.err)
	assert.FileExists(t, filepath.Join(r.state(), "deploy", "prod", "current", ".stepline.yml"), "the run went on to deploy")
	show := r.stepline("", "show", id)
	assert.Contains(t, show.out, "ship it <b>now</b>", "the comment is recorded with the decision")
}

// flakyPipeline's build fails until the file its buildspec tests exists.
const flakyPipeline = `version: 1
pipelines:
  - name: svc
    stages:
      - name: Build
        actions:
          - {name: Test, provider: codebuild, buildspec: buildspec.yml, inputs: [source]}
      - name: Deploy
        actions:
          - {name: Release, provider: local, inputs: [source], path: live}
`

func TestDashboardRetriesAFailedStageFromThePage(t *testing.T) {
	flag := filepath.Join(t.TempDir(), "fixed")
	r := newRepo(t, map[string]string{".stepline.yml": flakyPipeline, "buildspec.yml": "version: 0.2\nphases:\n  build:\n    commands:\n" +
		"      - echo checking the fix\n      - test -e " + flag + " || { echo 'the fix is missing' >&2; exit 1; }\n"})
	res := r.stepline("", "run", "--plain")
	require.Equal(t, ExitFailed, res.code, res.out+res.err)
	id := r.firstRun(time.Second)
	d := r.startDashboard()
	ctx := browser(t, 1280, 900)
	within(t, ctx, 30*time.Second, chromedp.Navigate(d.url+"/runs/"+id), visible(`a[data-op="retry"]`), waitText("#log", "the fix is missing"))
	assert.Contains(t, text(t, ctx, "#live h1 .status"), "Failed")
	shot(t, ctx, "dashboard-failure")

	require.NoError(t, os.WriteFile(flag, nil, 0o644))
	within(t, ctx, 30*time.Second,
		chromedp.Click(chromedp.CSS(`a[data-op="retry"]`)),
		visible("#confirm"),
		chromedp.Click(chromedp.CSS("#confirm")),
		visible("#done"),
	)
	// The dashboard drives the retried run; the page follows it to its end.
	within(t, ctx, time.Minute, waitText("#live h1 .status", "Succeeded"))
	assert.Contains(t, text(t, ctx, `.stage[data-stage="Build"] .action`), "attempt 2", "the failed action ran again")
	assert.FileExists(t, filepath.Join(r.state(), "deploy", "live", "current", ".stepline.yml"))
}
