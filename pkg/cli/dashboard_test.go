package cli

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func fetch(t *testing.T, url, host string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	if host != "" {
		req.Host = host
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// dashboardLine is how serve prints its dashboard's URL.
var dashboardLine = regexp.MustCompile(`stepline serve: dashboard on (http://\S+)/ \(this machine only\)`)

func TestServeShowsTheDashboardOnALoopbackListenerOfItsOwn(t *testing.T) {
	t.Parallel()
	r := newRepo(t, map[string]string{".stepline.yml": xssPipeline, "buildspec.yml": echoBuildspec})
	res := r.stepline("", "run", "--plain")
	require.Equal(t, ExitOK, res.code, res.out+res.err)
	// Webhooks on every address, as for a provider to reach them; the dashboard stays on
	// the loopback address all the same.
	hook, out, stop := startServe(t, r, "--secret", "k", "--addr", "0.0.0.0:0")
	base := waitForMatch(t, out, dashboardLine)
	assert.Regexp(t, `^http://127\.0\.0\.1:\d+$`, base)
	hookPort := regexp.MustCompile(`:(\d+)/webhooks/`).FindStringSubmatch(hook)[1]
	assert.NotEqual(t, hookPort, regexp.MustCompile(`:(\d+)$`).FindStringSubmatch(base)[1], "a port of its own")

	code, body := fetch(t, base+"/", "")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "site-1-", "the runs of serve's state directory")
	code, _ = fetch(t, base+"/", "ci.example.com")
	assert.Equal(t, http.StatusForbidden, code, "the pages answer to loopback host names only")
	code, _ = fetch(t, hook, "")
	assert.Equal(t, http.StatusMethodNotAllowed, code, "the webhooks are still served")
	code, _ = fetch(t, base+"/webhooks/github/"+defaultHook, "")
	assert.Equal(t, http.StatusNotFound, code, "and not on the dashboard's listener")
	assert.Equal(t, ExitCanceled, stop())
}

// The webhook listener serves no dashboard route, even to this machine: a proxy on this
// machine relaying to it without forwarding headers would otherwise reach the buttons.
func TestServesWebhookListenerAnswers404ForEveryDashboardPath(t *testing.T) {
	t.Parallel()
	r := newRepo(t, map[string]string{".stepline.yml": xssPipeline, "buildspec.yml": echoBuildspec})
	res := r.stepline("", "run", "--plain")
	require.Equal(t, ExitOK, res.code, res.out+res.err)
	hook, out, stop := startServe(t, r, "--secret", "k")
	dash := waitForMatch(t, out, dashboardLine)
	code, body := fetch(t, dash+"/", "")
	require.Equal(t, http.StatusOK, code)
	run := regexp.MustCompile(`/runs/(site-1-[0-9a-f]+)`).FindStringSubmatch(body)
	require.NotNil(t, run, "the dashboard lists the run:\n%s", body)
	webhooks := strings.SplitN(hook, "/webhooks/", 2)[0]

	for _, path := range []string{"/", "/pipelines/site", "/runs/" + run[1], "/runs/" + run[1] + "/live",
		"/runs/" + run[1] + "/events", "/runs/" + run[1] + "/log?stage=Build&action=Build",
		"/runs/" + run[1] + "/confirm/retry", "/start", "/assets/app.js"} {
		code, _ := fetch(t, webhooks+path, "localhost")
		assert.Equal(t, http.StatusNotFound, code, "GET %s on the webhook listener", path)
	}
	for _, path := range []string{"/runs/" + run[1] + "/retry", "/start"} {
		req, err := http.NewRequest(http.MethodPost, webhooks+path, strings.NewReader("csrf=x"))
		require.NoError(t, err)
		req.Host = "localhost"
		req.Header.Set("Origin", "http://localhost")
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusNotFound, resp.StatusCode, "POST %s on the webhook listener", path)
	}
	assert.Equal(t, ExitCanceled, stop())
}

func TestServeWithoutADashboardOrOnAGivenPort(t *testing.T) {
	t.Parallel()
	r := newRepo(t, map[string]string{".stepline.yml": xssPipeline, "buildspec.yml": echoBuildspec})
	hook, out, stop := startServe(t, r, "--secret", "k", "--no-dashboard")
	code, _ := fetch(t, strings.SplitN(hook, "/webhooks/", 2)[0]+"/", "")
	assert.Equal(t, http.StatusNotFound, code)
	assert.Equal(t, ExitCanceled, stop())
	assert.NotContains(t, out.String(), "dashboard")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	var taken bytes.Buffer
	code = Main(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--repo", r.dir, "--state-dir", r.state(),
		"--secret", "k", "--dashboard-port", port}, IO{In: strings.NewReader(""), Out: &taken, Err: &taken})
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, taken.String(), "listen on 127.0.0.1:"+port)
	require.NoError(t, ln.Close())

	_, out, stop = startServe(t, r, "--secret", "k", "--dashboard-port", port)
	assert.Equal(t, "http://127.0.0.1:"+port, waitForMatch(t, out, dashboardLine))
	assert.Equal(t, ExitCanceled, stop())

	var both bytes.Buffer
	code = Main(context.Background(), []string{"serve", "--secret", "k", "--no-dashboard", "--dashboard-port", port},
		IO{In: strings.NewReader(""), Out: &both, Err: &both})
	assert.Equal(t, ExitUsage, code, both.String())
}

func TestDashboardPrintsItsURLAndOpensTheBrowser(t *testing.T) {
	r := newRepo(t, map[string]string{".stepline.yml": xssPipeline, "buildspec.yml": echoBuildspec})
	opened := filepath.Join(t.TempDir(), "opened")
	browserScript := filepath.Join(t.TempDir(), "browser")
	require.NoError(t, os.WriteFile(browserScript, []byte("#!/bin/sh\necho \"$1\" > "+opened+"\n"), 0o755))
	t.Setenv("BROWSER", browserScript)

	ctx, stop := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"dashboard", "--open", "--state-dir", r.state()}, IO{In: strings.NewReader(""), Out: out, Err: out})
	}()
	url := waitForMatch(t, out, regexp.MustCompile(`stepline dashboard: (http://127\.0\.0\.1:\d+/)`))
	code, body := fetch(t, url, "")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "No runs yet")
	assert.Eventually(t, func() bool {
		b, err := os.ReadFile(opened)
		return err == nil && strings.TrimSpace(string(b)) == url
	}, 10*time.Second, 50*time.Millisecond, "--open gave the URL to $BROWSER")
	stop()
	assert.Equal(t, ExitOK, <-done)
}

func TestDashboardOnATakenPortSaysSo(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	var errOut bytes.Buffer
	code := Main(context.Background(), []string{"dashboard", "--port", port, "--state-dir", t.TempDir()}, IO{In: strings.NewReader(""), Out: &errOut, Err: &errOut})
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut.String(), "listen on 127.0.0.1:"+port)
}
