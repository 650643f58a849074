package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/pipeline"
	"github.com/stepline/stepline/pkg/scm"
	"github.com/stepline/stepline/pkg/trigger"
)

// benchFile is a pipeline file of the shape DESIGN.md sketches: path-filtered pushes, pull
// requests and tags across three pipelines.
const benchFile = `version: 1
pipelines:
  - name: api
    triggers:
      - on: push
        branches: {include: [main, "release/**"], exclude: ["release/old*"]}
        paths: {include: ["services/api/**"], exclude: ["**/*.md"]}
      - on: pull_request
        events: [opened, updated]
        branches: [main]
    environments:
      - {branches: [main], name: prod}
      - {branches: ["**"], name: "br-#{source.branch_slug}"}
    stages:
      - name: Build
        actions:
          - {name: Build, provider: codebuild, buildspec: services/api/buildspec.yml}
  - name: web
    triggers:
      - on: push
        branches: [main]
        paths: {include: ["web/**"]}
    stages:
      - name: Build
        actions:
          - {name: Build, provider: codebuild, buildspec: web/buildspec.yml}
  - name: release
    triggers:
      - on: push
        tags: {include: ["v*"]}
    stages:
      - name: Build
        actions:
          - {name: Build, provider: codebuild, buildspec: buildspec.yml}
`

// pushOfSize returns a GitHub push body of about size bytes: a real example from
// @octokit/webhooks-examples with commits added until it is that large.
func pushOfSize(tb testing.TB, size int) []byte {
	tb.Helper()
	raw, err := os.ReadFile("../../scripts/node/node_modules/@octokit/webhooks-examples/api.github.com/index.json")
	require.NoError(tb, err, "run make node-tools")
	var all []struct {
		Name     string           `json:"name"`
		Examples []map[string]any `json:"examples"`
	}
	require.NoError(tb, json.Unmarshal(raw, &all))
	var p map[string]any
	for _, e := range all {
		if e.Name == "push" {
			p = e.Examples[4] // the one with a commit
		}
	}
	p["ref"], p["created"], p["forced"], p["deleted"] = "refs/heads/main", false, false, false
	p["before"] = "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
	template := p["commits"].([]any)[0].(map[string]any)
	var commits []any
	for i := 0; ; i++ {
		c := map[string]any{}
		for k, v := range template {
			c[k] = v
		}
		c["id"] = fmt.Sprintf("%040x", i+1)
		c["message"] = fmt.Sprintf("Change %d of the api\n\nA longer description of the change.", i)
		c["added"] = []string{fmt.Sprintf("services/api/handlers/h%d.go", i)}
		c["modified"] = []string{"services/api/main.go", fmt.Sprintf("docs/notes-%d.md", i)}
		c["removed"] = []string{}
		commits = append(commits, c)
		p["commits"], p["head_commit"] = commits, c
		p["after"] = c["id"]
		body, err := json.Marshal(p)
		require.NoError(tb, err)
		if len(body) >= size {
			return body
		}
	}
}

type discard struct{ n atomic.Int64 }

func (d *discard) Publish(_ context.Context, evs []Accepted) error {
	d.n.Add(int64(len(evs)))
	return nil
}

// BenchmarkDelivery measures verify + parse + normalise + match of a GitHub push against the
// bare cost of HMAC-SHA256 plus encoding/json decoding of the same bytes, in the same run.
// ratio is stepline's time over the baseline's (target ≤ 1.5).
func BenchmarkDelivery(b *testing.B) {
	f, err := pipeline.Parse(".stepline.yml", []byte(benchFile))
	require.NoError(b, err)
	for _, size := range []int{8_500, 100_000} {
		body := pushOfSize(b, size)
		b.Run(fmt.Sprintf("%.1fKB", float64(len(body))/1000), func(b *testing.B) {
			secret := []byte(testSecret)
			pub := &matchPublisher{file: f}
			h := New(StaticSecrets{testHook: {Provider: "github", WebhookSecrets: []string{testSecret}}}, pub)
			req := Request{Provider: "github", Hook: testHook, Body: body, Header: signed("github", "push", "d", body, testSecret)}
			sig := scm.Sign(secret, body)
			var base, ours time.Duration
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				m := hmac.New(sha256.New, secret)
				m.Write(body)
				if !hmac.Equal([]byte(sig[7:]), []byte(fmt.Sprintf("%x", m.Sum(nil)))) {
					b.Fatal("baseline signature mismatch")
				}
				var v any
				if err := json.Unmarshal(body, &v); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if res := h.Handle(context.Background(), req); res.Status != http.StatusAccepted {
					b.Fatal(res)
				}
				t2 := time.Now()
				base += t1.Sub(t0)
				ours += t2.Sub(t1)
			}
			b.ReportMetric(float64(base.Nanoseconds())/float64(b.N)/1e3, "baseline-µs/op")
			b.ReportMetric(float64(ours.Nanoseconds())/float64(b.N)/1e3, "stepline-µs/op")
			b.ReportMetric(float64(ours)/float64(base), "ratio")
			if pub.runs.Load() == 0 {
				b.Fatal("nothing matched: the benchmark would not measure matching")
			}
		})
	}
}

// matchPublisher matches every accepted event against a pipeline file, as the trigger step
// does, so the benchmark covers matching.
type matchPublisher struct {
	file *pipeline.File
	runs atomic.Int64
}

func (m *matchPublisher) Publish(_ context.Context, evs []Accepted) error {
	for _, a := range evs {
		for _, d := range trigger.MatchFile(m.file, a.Event) {
			if d.Run {
				m.runs.Add(1)
			}
		}
	}
	return nil
}

// BenchmarkHandlerRPS posts signed 8.5 KB pushes to the handler over loopback HTTP from 16
// concurrent clients and reports requests per second; every delivery must be answered 202 and
// published.
func BenchmarkHandlerRPS(b *testing.B) {
	body := pushOfSize(b, 8_500)
	pub := &discard{}
	h := New(StaticSecrets{testHook: {Provider: "github", WebhookSecrets: []string{testSecret}}}, pub)
	srv := httptest.NewServer(h.Mux())
	defer srv.Close()
	url := srv.URL + "/webhooks/github/" + testHook
	sig := scm.Sign([]byte(testSecret), body)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	var failed atomic.Int64
	var next atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
				req.Header.Set("X-GitHub-Event", "push")
				req.Header.Set("X-GitHub-Delivery", fmt.Sprint(next.Load()))
				req.Header.Set("X-Hub-Signature-256", sig)
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
	if failed.Load() > 0 || pub.n.Load() != int64(b.N) {
		b.Fatalf("%d of %d deliveries failed; %d published", failed.Load(), b.N, pub.n.Load())
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
}
