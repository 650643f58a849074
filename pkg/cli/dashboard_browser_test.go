package cli

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The dashboard in a real headless Chromium, over runs `stepline run` drives in the same
// state directory: what a user sees, clicked as a user clicks.

func TestDashboardShowsHelloLiveUntilItFinishes(t *testing.T) {
	r := exampleRepo(t, "../../examples/hello")
	d := r.startDashboard()
	ctx := browser(t, 1280, 900)

	run := r.background(context.Background(), "run", "--auto-approve")
	id := r.firstRun(time.Minute)
	within(t, ctx, 30*time.Second, chromedp.Navigate(d.url+"/runs/"+id), visible("#live h1"))
	// A mark the page keeps only as long as it is not reloaded.
	js[bool](t, ctx, `window.notReloaded = true`)
	assert.Contains(t, text(t, ctx, "#live h1 .status"), "In progress", "the page opened while the run was going on")

	// The run goes on; the page follows it through Build, Deploy-Staging, Approve and
	// Deploy-Prod without a reload.
	within(t, ctx, 5*time.Minute, waitText("#live h1 .status", "Succeeded"))
	require.Equal(t, ExitOK, <-run.code, run.String())
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

func TestDashboardRefusesACrossOriginPost(t *testing.T) {
	r := newRepo(t, map[string]string{".stepline.yml": xssPipeline, "buildspec.yml": echoBuildspec})
	res := r.stepline("", "run", "--plain")
	require.Equal(t, ExitOK, res.code, res.out+res.err)
	id := r.firstRun(time.Second)
	d := r.startDashboard()
	ctx := browser(t, 1280, 900)
	// The user has the dashboard open (a session cookie) and then visits another site, whose
	// page posts a form to the dashboard at once.
	within(t, ctx, 20*time.Second, chromedp.Navigate(d.url+"/runs/"+id), visible("#live"))
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(`<!doctype html><form id="f" method="post" action="` + d.url + `/runs/` + id + `/stop">
<input name="csrf" value="guess"><input name="comment" value="from another site"></form>
<script>document.getElementById("f").submit()</script>`))
	}))
	defer evil.Close()
	within(t, ctx, 20*time.Second, chromedp.Navigate(evil.URL), until(`location.href.includes("/stop") && document.readyState === "complete"`))
	body := text(t, ctx, "body")
	assert.Contains(t, body, "a request from another site cannot change a run")
	assert.True(t, strings.Contains(body, "Refused"), body)
}
