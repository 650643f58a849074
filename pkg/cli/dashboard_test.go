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

func TestServeShowsTheDashboardBesideTheWebhooks(t *testing.T) {
	t.Parallel()
	r := newRepo(t, map[string]string{".stepline.yml": xssPipeline, "buildspec.yml": echoBuildspec})
	res := r.stepline("", "run", "--plain")
	require.Equal(t, ExitOK, res.code, res.out+res.err)
	hook, out, stop := startServe(t, r, "--secret", "k")
	base := waitForMatch(t, out, regexp.MustCompile(`dashboard +(http://\S+)/ \(from this machine only\)`))

	code, body := fetch(t, base+"/", "")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "site-1-", "the runs of serve's state directory")
	code, _ = fetch(t, base+"/", "ci.example.com")
	assert.Equal(t, http.StatusForbidden, code, "the pages answer to loopback host names only")
	code, _ = fetch(t, hook, "")
	assert.Equal(t, http.StatusMethodNotAllowed, code, "the webhooks are still served")
	assert.Equal(t, ExitCanceled, stop())
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
