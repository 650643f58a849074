package notify

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stepline/stepline/pkg/notify/commitstatus"
)

// hookPath is the secret part of a webhook URL, as Slack's .../services/T…/B…/<secret>.
const hookPath = "/services/T0001/B0001/Zk3Q9mYp4LxW2vBn7RtS1uHa"

// hook is an incoming webhook stand-in: it answers each POST with the next reply (the last
// one repeats) and records what it was sent.
type hook struct {
	srv     *httptest.Server
	mu      sync.Mutex
	replies []hookReply
	bodies  []string
	waits   []time.Duration
	logs    bytes.Buffer
}

type hookReply struct {
	code   int
	header map[string]string
	body   string
}

func newHook(t *testing.T, replies ...hookReply) *hook {
	t.Helper()
	h := &hook{replies: replies}
	h.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		if r.Method != http.MethodPost || r.URL.Path != hookPath || r.URL.RawQuery != "sig=Qm9vdHN0cmFwU2lnbmF0dXJlMTIz" ||
			r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s?%s %s", r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Content-Type"))
		}
		h.bodies = append(h.bodies, string(b))
		rep := h.replies[min(len(h.bodies), len(h.replies))-1]
		for k, v := range rep.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(rep.code)
		io.WriteString(w, rep.body)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) url() string { return h.srv.URL + hookPath + "?sig=Qm9vdHN0cmFwU2lnbmF0dXJlMTIz" }

func (h *hook) sender() *WebhookSender {
	return NewWebhookSender(commitstatus.WithHTTPClient(h.srv.Client()),
		commitstatus.WithClock(func() time.Time { return started }, func(ctx context.Context, d time.Duration) error {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.waits = append(h.waits, d)
			return ctx.Err()
		}),
		commitstatus.WithLogger(slog.New(slog.NewJSONHandler(&h.logs, nil))))
}

// secretFree fails when the URL or its secret parts show in the error or the log.
func (h *hook) secretFree(t *testing.T, err error) {
	t.Helper()
	for _, s := range []string{h.srv.URL, hookPath, "Zk3Q9mYp4LxW2vBn7RtS1uHa", "Qm9vdHN0cmFwU2lnbmF0dXJlMTIz"} {
		if err != nil && strings.Contains(err.Error(), s) {
			t.Errorf("the error shows %q: %v", s, err)
		}
		if strings.Contains(h.logs.String(), s) {
			t.Errorf("the log shows %q: %s", s, h.logs.String())
		}
	}
}

const target = "slack stepline/slack-webhook"

func TestAWebhookGetsTheBodyOnce(t *testing.T) {
	t.Parallel()
	h := newHook(t, hookReply{code: http.StatusOK, body: "ok"})
	if err := h.sender().Send(context.Background(), target, h.url(), []byte(`{"text":"hi"}`)); err != nil {
		t.Fatal(err)
	}
	if len(h.bodies) != 1 || h.bodies[0] != `{"text":"hi"}` || len(h.waits) != 0 {
		t.Errorf("bodies %q, waits %v", h.bodies, h.waits)
	}
}

func TestAWebhookAnsweringAServerErrorIsRetriedWithBackoff(t *testing.T) {
	t.Parallel()
	h := newHook(t, hookReply{code: http.StatusBadGateway}, hookReply{code: http.StatusServiceUnavailable}, hookReply{code: http.StatusOK})
	if err := h.sender().Send(context.Background(), target, h.url(), []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if len(h.bodies) != 3 || len(h.waits) != 2 || h.waits[0] != time.Second || h.waits[1] != 2*time.Second {
		t.Errorf("%d posts, waits %v", len(h.bodies), h.waits)
	}
	if !strings.Contains(h.logs.String(), "retrying a webhook") {
		t.Errorf("no retry logged: %s", h.logs.String())
	}
	h.secretFree(t, nil)
}

func TestARateLimitedWebhookWaitsAsLongAsRetryAfterSays(t *testing.T) {
	t.Parallel()
	h := newHook(t, hookReply{code: http.StatusTooManyRequests, header: map[string]string{"Retry-After": "7"}, body: "rate_limited"},
		hookReply{code: http.StatusOK})
	if err := h.sender().Send(context.Background(), target, h.url(), []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if len(h.waits) != 1 || h.waits[0] != 7*time.Second {
		t.Errorf("waits %v, want [7s]", h.waits)
	}
}

func TestAWebhookAskingForALongWaitEndsTheSendRateLimited(t *testing.T) {
	t.Parallel()
	h := newHook(t, hookReply{code: http.StatusTooManyRequests, header: map[string]string{"Retry-After": "3600"}})
	err := h.sender().Send(context.Background(), target, h.url(), []byte(`{}`))
	if !errors.Is(err, commitstatus.ErrRateLimited) || len(h.bodies) != 1 || len(h.waits) != 0 {
		t.Errorf("err %v after %d posts and waits %v", err, len(h.bodies), h.waits)
	}
	h.secretFree(t, err)
}

func TestARemovedWebhookIsAFinalErrorThatSaysWhatToDo(t *testing.T) {
	t.Parallel()
	// Slack answers a removed webhook 404 no_service, a revoked one 403 invalid_token; a
	// service may echo the path it was asked for.
	h := newHook(t, hookReply{code: http.StatusNotFound, body: "no_service: " + hookPath})
	err := h.sender().Send(context.Background(), target, h.url(), []byte(`{}`))
	var werr *WebhookError
	if !errors.As(err, &werr) || werr.StatusCode != http.StatusNotFound || len(h.bodies) != 1 {
		t.Fatalf("err %v after %d posts", err, len(h.bodies))
	}
	if !strings.Contains(err.Error(), target) || !strings.Contains(err.Error(), "put the new URL in the secret") {
		t.Errorf("the error does not say which webhook or what to do: %v", err)
	}
	h.secretFree(t, err)
}

func TestAWebhookThatCannotBeReachedNamesItsTargetNotItsURL(t *testing.T) {
	t.Parallel()
	h := newHook(t, hookReply{code: http.StatusOK})
	s := h.sender()
	u := h.url()
	h.srv.Close()
	err := s.Send(context.Background(), target, u, []byte(`{}`))
	if err == nil || !strings.Contains(err.Error(), target) || len(h.waits) != commitstatus.DefaultAttempts-1 {
		t.Fatalf("err %v, waits %v", err, h.waits)
	}
	h.secretFree(t, err)
}

func TestASecretThatIsNotAnHTTPSURLIsRefusedWithoutRepeatingIt(t *testing.T) {
	t.Parallel()
	h := newHook(t, hookReply{code: http.StatusOK})
	for _, bad := range []string{
		"http://hooks.example.com" + hookPath,
		"hooks.example.com" + hookPath,
		"https://user:Zk3Q9mYp4LxW2vBn7RtS1uHa@hooks.example.com/x",
		"https://hooks.example.com/%zz" + hookPath,
	} {
		err := h.sender().Send(context.Background(), target, bad, []byte(`{}`))
		if !errors.Is(err, ErrWebhookURL) {
			t.Errorf("%q: err %v", bad, err)
		}
		h.secretFree(t, err)
	}
	if len(h.bodies) != 0 {
		t.Errorf("%d posts", len(h.bodies))
	}
}
