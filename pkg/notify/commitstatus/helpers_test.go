package commitstatus

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// token is the credential every test posts with; no error or log line may contain it.
const token = "tok-5ecret-9f8e7d6c"

const sha = "0123456789abcdef0123456789abcdef01234567"

// reply is one scripted answer of the fake provider. An echo reply puts the request's
// Authorization header into the body, as a careless proxy or API might.
type reply struct {
	code   int
	header map[string]string
	body   string
	echo   bool
}

// request is what the fake provider received.
type request struct {
	method, path string
	header       http.Header
	body         map[string]any
}

// fakeAPI answers the scripted replies in order, then ok.
type fakeAPI struct {
	srv     *httptest.Server
	mu      sync.Mutex
	replies []reply
	ok      int
	got     []request
}

func newAPI(t *testing.T, ok int, replies ...reply) *fakeAPI {
	t.Helper()
	f := &fakeAPI{replies: replies, ok: ok}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var body map[string]any
	_ = json.Unmarshal(b, &body)
	f.mu.Lock()
	f.got = append(f.got, request{method: r.Method, path: r.URL.EscapedPath(), header: r.Header.Clone(), body: body})
	rep := reply{code: f.ok}
	if len(f.replies) > 0 {
		rep, f.replies = f.replies[0], f.replies[1:]
	}
	f.mu.Unlock()
	for k, v := range rep.header {
		w.Header().Set(k, v)
	}
	if rep.echo {
		rep.body = `{"message":"bad credentials: ` + r.Header.Get("Authorization") + `"}`
	}
	w.WriteHeader(rep.code)
	_, _ = io.WriteString(w, rep.body)
}

func (f *fakeAPI) requests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.got...)
}

// clock is a fake time that sleeping advances, recording each wait.
type clock struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

func newClock() *clock { return &clock{now: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.slept = append(c.slept, d)
	c.now = c.now.Add(d)
	return nil
}

func (c *clock) waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.slept...)
}

func status(state State) Status {
	return Status{Repository: "acme/api", Commit: sha, Branch: "main", Key: "api/prod", Name: "stepline: api (prod)",
		State: state, Description: "Succeeded in 4m12s", URL: "https://ci.example.com/runs/api-42", Number: "42",
		Duration: 252 * time.Second}
}

// wantHeader fails unless the request carried header name with exactly value.
func wantHeader(t *testing.T, r request, name, value string) {
	t.Helper()
	if got := r.header.Values(name); len(got) != 1 || got[0] != value {
		t.Errorf("header %s = %q, want %q", name, got, value)
	}
}
