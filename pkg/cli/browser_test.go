package cli

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/store"
)

// screenshotDir, when set (make screenshots), is where the browser tests save the pictures of
// the dashboard the README and docs show.
var screenshotDir = flag.String("dashboard.screenshots", "", "save the dashboard's screenshots into this directory")

// chromium finds the browser the dashboard's tests drive: $CHROMIUM, else Debian's chromium.
// A missing browser fails the test with the fix: these tests never skip.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no chromium: the dashboard's browser tests need it (apt-get install chromium, or set $CHROMIUM); scripts/check-tools.sh installs it in CI")
	return ""
}

// browser starts a headless Chromium for the test and returns a tab's context.
func browser(t *testing.T, width, height int) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, // root in CI has no user namespace sandbox to offer
		chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(width, height),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	require.NoError(t, chromedp.Do(ctx), "start chromium")
	return ctx
}

// within runs browser steps, all of them within d.
func within(t *testing.T, ctx context.Context, d time.Duration, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	require.NoError(t, chromedp.Do(c, steps...))
}

// read runs one browser action within d and returns its value.
func read[T any](t *testing.T, ctx context.Context, d time.Duration, a chromedp.Action[T]) T {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	v, err := chromedp.Run(c, a)
	require.NoError(t, err)
	return v
}

// js evaluates a JavaScript expression.
func js[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	return read(t, ctx, 10*time.Second, chromedp.Evaluate[T](expr))
}

// shot saves a screenshot of the page as docs/img/name.png when screenshots are asked for.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if *screenshotDir == "" {
		return
	}
	png := read(t, ctx, 20*time.Second, chromedp.CaptureScreenshot())
	require.NoError(t, os.MkdirAll(*screenshotDir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(*screenshotDir, name+".png"), png, 0o644))
}

// dashboardCmd is `stepline dashboard` running in-process over a repository's state.
type dashboardCmd struct {
	url  string
	stop func()
}

// startDashboard runs `stepline dashboard` over the repository's state on a free port until
// the test ends.
func (r *repo) startDashboard(args ...string) *dashboardCmd {
	r.t.Helper()
	return startDashboard(r.t, append(args, "--state-dir", r.state())...)
}

// startDashboard runs `stepline dashboard args…` on a free port until the test ends.
func startDashboard(t testing.TB, args ...string) *dashboardCmd {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, append([]string{"dashboard"}, args...), IO{In: strings.NewReader(""), Out: pw, Err: pw})
		pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	var url string
	for lines.Scan() {
		if u, ok := strings.CutPrefix(lines.Text(), "stepline dashboard: "); ok {
			url = strings.TrimSuffix(u, "/")
			break
		}
	}
	require.NotEmpty(t, url, "the dashboard printed its URL")
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	d := &dashboardCmd{url: url, stop: func() { cancel(); <-done }}
	t.Cleanup(d.stop)
	return d
}

// firstRun waits for the first run's record and returns its id.
func (r *repo) firstRun(within time.Duration) string {
	r.t.Helper()
	db := store.NewBolt(filepath.Join(r.state(), "stepline.db"))
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if recs, err := db.ListRuns(context.Background(), store.Filter{Limit: 1}); err == nil && len(recs) > 0 {
			return recs[0].ID()
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.t.Fatalf("no run was recorded within %s", within)
	return ""
}

// copyDir copies the example's files into a new repository.
func exampleRepo(t *testing.T, dir string) *repo {
	t.Helper()
	files := map[string]string{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		files[rel] = string(b)
		return nil
	}))
	return newRepo(t, files)
}

// text reads the text of the first element the CSS selector sel matches. It is read in the
// page in one step: live updates replace elements, so a node found in one step may be gone in
// the next.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	within(t, ctx, 10*time.Second, visible(sel))
	return js[string](t, ctx, fmt.Sprintf(`(document.querySelector(%q) || {innerText: ""}).innerText`, sel))
}

// until waits, for as long as the step's context allows, until the JavaScript condition holds.
func until(cond string) chromedp.Action[chromedp.Void] {
	p := chromedp.Poll[chromedp.Void](cond, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(time.Hour))
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		return p(ctx, t)
	}
}

// waitText waits until the element the CSS selector sel matches holds want.
func waitText(sel, want string) chromedp.Action[chromedp.Void] {
	return until(fmt.Sprintf(`(document.querySelector(%q)||{}).textContent?.includes(%q)`, sel, want))
}

// visible waits until the CSS selector matches a visible element.
func visible(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(chromedp.CSS(sel))
}
