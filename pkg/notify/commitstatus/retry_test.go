package commitstatus

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stepline/stepline/pkg/scm"
)

// provider builds one Poster against a fake API, with the fake clock and a log buffer.
type provider struct {
	name string
	ok   int
	make func(base string, opts ...Option) (Poster, error)
}

var providers = []provider{
	{"github", http.StatusCreated, func(b string, o ...Option) (Poster, error) { return NewGitHub(b, token, o...) }},
	{"bitbucket", http.StatusCreated, func(b string, o ...Option) (Poster, error) { return NewBitbucket(b, token, o...) }},
	{"bitbucket data center", http.StatusNoContent, func(b string, o ...Option) (Poster, error) { return NewDataCenter(b, token, o...) }},
}

// run posts one failed status through p against replies and returns the error, the
// requests, the waits and the log.
func run(t *testing.T, p provider, replies ...reply) (error, []request, []time.Duration, string) {
	t.Helper()
	api := newAPI(t, p.ok, replies...)
	c := newClock()
	var logs bytes.Buffer
	poster, err := p.make(api.srv.URL, WithClock(c.Now, c.Sleep), WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	err = poster.Post(context.Background(), status(Failed))
	return err, api.requests(), c.waits(), logs.String()
}

// noToken fails if the token shows in the error or the log.
func noToken(t *testing.T, err error, logs string) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), token) {
		t.Errorf("the error shows the token: %v", err)
	}
	if strings.Contains(logs, token) {
		t.Errorf("the log shows the token: %s", logs)
	}
}

func TestARefusedTokenIsOneTokenErrorThatSaysWhatTheTokenNeeds(t *testing.T) {
	t.Parallel()
	for _, p := range providers {
		for _, code := range []int{http.StatusUnauthorized, http.StatusForbidden} {
			t.Run(p.name+"/"+strconv.Itoa(code), func(t *testing.T) {
				t.Parallel()
				err, got, waits, logs := run(t, p, reply{code: code, echo: true})
				var te *TokenError
				if !errors.As(err, &te) || !errors.Is(err, scm.ErrUnauthorized) {
					t.Fatalf("err = %v, want a *TokenError matching scm.ErrUnauthorized", err)
				}
				if len(got) != 1 || len(waits) != 0 {
					t.Errorf("%d requests and waits %v: a refused token is not retried", len(got), waits)
				}
				if !strings.Contains(err.Error(), "acme/api") || !strings.Contains(err.Error(), "needs") {
					t.Errorf("err = %v: it names the repository and what the token needs", err)
				}
				noToken(t, err, logs)
			})
		}
	}
}

func TestAServerErrorIsRetriedWithBackoffUntilTheProviderAnswers(t *testing.T) {
	t.Parallel()
	for _, p := range providers {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			err, got, waits, logs := run(t, p, reply{code: http.StatusBadGateway, body: "<html>bad gateway</html>"},
				reply{code: http.StatusServiceUnavailable, echo: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 3 || !reflect.DeepEqual(waits, []time.Duration{time.Second, 2 * time.Second}) {
				t.Errorf("%d requests, waits %v; want 3 and [1s 2s]", len(got), waits)
			}
			if !strings.Contains(logs, "retrying") {
				t.Errorf("the retries were not logged: %s", logs)
			}
			noToken(t, err, logs)
		})
	}
}

func TestAProviderDownForEveryAttemptGivesItsLastAnswer(t *testing.T) {
	t.Parallel()
	for _, p := range providers {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			down := reply{code: http.StatusInternalServerError, echo: true}
			err, got, waits, logs := run(t, p, down, down, down, down, down)
			var ae *scm.APIError
			if !errors.As(err, &ae) || ae.StatusCode != http.StatusInternalServerError {
				t.Fatalf("err = %v, want the provider's 500", err)
			}
			if len(got) != DefaultAttempts || !reflect.DeepEqual(waits, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}) {
				t.Errorf("%d requests, waits %v", len(got), waits)
			}
			noToken(t, err, logs)
		})
	}
}

func TestARateLimitedAnswerWaitsAsLongAsRetryAfterSays(t *testing.T) {
	t.Parallel()
	for _, p := range providers {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			err, got, waits, logs := run(t, p, reply{code: http.StatusTooManyRequests, header: map[string]string{"Retry-After": "7"}, echo: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 || !reflect.DeepEqual(waits, []time.Duration{7 * time.Second}) {
				t.Errorf("%d requests, waits %v; want 2 and [7s]", len(got), waits)
			}
			noToken(t, err, logs)
		})
	}
}

// GitHub's primary rate limit: "a 403 or 429 response, and the x-ratelimit-remaining header
// will be 0. You should not retry your request until after the time specified by the
// x-ratelimit-reset header" (https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api).
// A 403 with it is a rate limit, not a refused token.
func TestGitHubsExhaustedRateLimitWaitsUntilItsReset(t *testing.T) {
	t.Parallel()
	reset := strconv.FormatInt(newClock().Now().Add(20*time.Second).Unix(), 10)
	err, got, waits, logs := run(t, providers[0], reply{code: http.StatusForbidden, echo: true,
		header: map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !reflect.DeepEqual(waits, []time.Duration{20 * time.Second}) {
		t.Errorf("%d requests, waits %v; want 2 and [20s]", len(got), waits)
	}
	noToken(t, err, logs)
}

func TestARateLimitLongerThanTheLongestWaitEndsThePostAtOnce(t *testing.T) {
	t.Parallel()
	reset := strconv.FormatInt(newClock().Now().Add(time.Hour).Unix(), 10)
	for name, r := range map[string]reply{
		"primary":   {code: http.StatusForbidden, header: map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}},
		"secondary": {code: http.StatusForbidden, body: `{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}`},
		"429":       {code: http.StatusTooManyRequests, header: map[string]string{"Retry-After": "3600"}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err, got, waits, _ := run(t, providers[0], r)
			if !errors.Is(err, ErrRateLimited) {
				t.Fatalf("err = %v, want ErrRateLimited", err)
			}
			var te *TokenError
			if errors.As(err, &te) {
				t.Errorf("a rate limit was reported as a refused token: %v", err)
			}
			if len(got) != 1 || len(waits) != 0 {
				t.Errorf("%d requests, waits %v: nothing is worth waiting an hour in a Lambda", len(got), waits)
			}
		})
	}
}

func TestATransportErrorIsRetriedAndNamesNoToken(t *testing.T) {
	t.Parallel()
	api := newAPI(t, http.StatusCreated)
	c := newClock()
	// The first attempt goes to a closed port; the transport then points at the live server.
	rt := &flaky{next: http.DefaultTransport, target: api.srv.URL}
	g, _ := NewGitHub("http://127.0.0.1:1", token, WithClock(c.Now, c.Sleep), WithHTTPClient(&http.Client{Transport: rt}))
	if err := g.Post(context.Background(), status(Succeeded)); err != nil {
		t.Fatal(err)
	}
	if n := len(api.requests()); n != 1 || !reflect.DeepEqual(c.waits(), []time.Duration{time.Second}) {
		t.Errorf("%d requests reached the server, waits %v", n, c.waits())
	}
}

// flaky fails its first round trip, then sends every request to target.
type flaky struct {
	next   http.RoundTripper
	target string
	calls  int
}

func (f *flaky) RoundTrip(r *http.Request) (*http.Response, error) {
	f.calls++
	if f.calls == 1 {
		return nil, errors.New("connection reset by peer (Authorization: " + r.Header.Get("Authorization") + ")")
	}
	u := *r.URL
	u.Scheme, u.Host = "http", strings.TrimPrefix(f.target, "http://")
	r2 := r.Clone(r.Context())
	r2.URL = &u
	return f.next.RoundTrip(r2)
}

func TestATransportErrorThatEchoesTheTokenIsScrubbed(t *testing.T) {
	t.Parallel()
	failing := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return nil, errors.New("proxy refused Authorization: " + r.Header.Get("Authorization"))
	})
	c := newClock()
	var logs bytes.Buffer
	g, _ := NewGitHub("https://api.example.com", token, WithClock(c.Now, c.Sleep),
		WithHTTPClient(&http.Client{Transport: failing}), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	err := g.Post(context.Background(), status(Succeeded))
	if err == nil {
		t.Fatal("no error")
	}
	noToken(t, err, logs.String())
	if !strings.Contains(logs.String(), "[token]") {
		t.Errorf("the log does not show the scrubbed error: %s", logs.String())
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestACanceledContextStopsTheRetries(t *testing.T) {
	t.Parallel()
	api := newAPI(t, http.StatusCreated, reply{code: http.StatusBadGateway})
	ctx, cancel := context.WithCancel(context.Background())
	g, _ := NewGitHub(api.srv.URL, token, WithClock(time.Now, func(c context.Context, _ time.Duration) error {
		cancel()
		<-c.Done()
		return c.Err()
	}))
	err := g.Post(ctx, status(Succeeded))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if n := len(api.requests()); n != 1 {
		t.Errorf("%d requests after the cancel", n)
	}
}

func TestAStatusNoProviderWouldTakeIsRefusedBeforeAnyRequest(t *testing.T) {
	t.Parallel()
	for name, mutate := range map[string]func(*Status){
		"a short commit":          func(s *Status) { s.Commit = "0123456" },
		"a repository path":       func(s *Status) { s.Repository = "acme/api/../x" },
		"no key":                  func(s *Status) { s.Key = "" },
		"an unknown state":        func(s *Status) { s.State = "pending" },
		"a branch name as commit": func(s *Status) { s.Commit = "main" },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, p := range providers {
				api := newAPI(t, p.ok)
				poster, _ := p.make(api.srv.URL)
				s := status(Failed)
				mutate(&s)
				if err := poster.Post(context.Background(), s); err == nil {
					t.Errorf("%s: posted", p.name)
				}
				if n := len(api.requests()); n != 0 {
					t.Errorf("%s: %d requests", p.name, n)
				}
			}
		})
	}
}
