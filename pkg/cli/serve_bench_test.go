package cli

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stepline/stepline/pkg/scm"
)

// BenchmarkServeRPS posts signed GitHub pushes, each a new delivery (a new body), to a real `stepline serve`
// over loopback from 8 concurrent clients and reports requests per second. Each delivery is
// handled fully — signature, parse, the pipeline file read at the commit with git, changed
// files from git, trigger matching, the redelivery record — but its trigger does not match,
// so the figure is serve's own cost, not the builds'. Every delivery must be answered 202 and
// recorded: none may be lost.
func BenchmarkServeRPS(b *testing.B) {
	r := newRepo(b, map[string]string{".stepline.yml": `version: 1
pipelines:
  - name: release
    triggers:
      - on: push
        branches: ["release/**"]
    stages:
      - name: Build
        actions:
          - {name: Build, provider: codebuild, buildspec: build.yml}
`})
	r.commit("second", map[string]string{"a.txt": "a\n"})
	body := githubPush(b, r, "main")
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	out := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--repo", r.dir, "--state-dir", r.state(), "--secret", "k"},
			IO{In: strings.NewReader(""), Out: out, Err: &bytes.Buffer{}})
	}()
	var url string
	for deadline := time.Now().Add(30 * time.Second); url == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := regexp.MustCompile(`github +(http://\S+)`).FindStringSubmatch(out.String()); m != nil {
			url = m[1]
		}
	}
	if url == "" {
		b.Fatal("serve did not start")
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	var next, failed atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for n := next.Add(1); n <= int64(b.N); n = next.Add(1) {
				// Each delivery is a new body: the idempotency key is the signed body's digest.
				one := append([]byte(fmt.Sprintf(`{"bench":"%d-%d",`, b.N, n)), body[1:]...)
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(one))
				req.Header.Set("X-GitHub-Event", "push")
				req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("bench-%d-%d", b.N, n))
				req.Header.Set("X-Hub-Signature-256", scm.Sign([]byte("k"), one))
				resp, err := client.Do(req)
				if err != nil || resp.StatusCode != http.StatusAccepted {
					failed.Add(1)
				}
				if resp != nil {
					resp.Body.Close()
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	stop()
	<-done
	recorded, _ := os.ReadFile(filepath.Join(r.state(), "deliveries"))
	lines := strings.Count(string(recorded), "\n")
	if failed.Load() > 0 || lines != b.N {
		b.Fatalf("%d of %d deliveries failed, %d recorded", failed.Load(), b.N, lines)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
}
