package commitstatus

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/stepline/stepline/pkg/scm"
	"github.com/stepline/stepline/pkg/sourcearchive"
)

// Defaults of the retries: four attempts, waiting 1 s, 2 s, 4 s between them (a provider's
// own wait, from Retry-After or GitHub's reset time, replaces the backoff when it is longer),
// and never a single wait over MaxWait: a longer one ends the post with ErrRateLimited, and
// the caller's queue tries again later instead of a Lambda sleeping for an hour.
const (
	DefaultAttempts = 4
	DefaultBackoff  = time.Second
	DefaultMaxWait  = 30 * time.Second
)

// Option configures a Poster.
type Option func(*config)

type config struct {
	http     *http.Client
	attempts int
	backoff  time.Duration
	maxWait  time.Duration
	now      func() time.Time
	sleep    func(ctx context.Context, d time.Duration) error
	log      *slog.Logger
}

// WithHTTPClient sets the HTTP client; the default has a 30-second timeout.
func WithHTTPClient(c *http.Client) Option {
	return func(o *config) {
		if c != nil {
			o.http = c
		}
	}
}

// WithRetry sets how many attempts a post makes (at least one), the first backoff (doubled
// after each attempt) and the longest single wait.
func WithRetry(attempts int, backoff, maxWait time.Duration) Option {
	return func(o *config) { o.attempts, o.backoff, o.maxWait = max(attempts, 1), backoff, maxWait }
}

// WithClock replaces the clock and the sleep between attempts, so tests do not wait. sleep
// returns the context's error when it ends first.
func WithClock(now func() time.Time, sleep func(ctx context.Context, d time.Duration) error) Option {
	return func(o *config) { o.now, o.sleep = now, sleep }
}

// WithLogger logs each retry (provider, status, wait) at Warn; the default logs nothing.
func WithLogger(l *slog.Logger) Option {
	return func(o *config) {
		if l != nil {
			o.log = l
		}
	}
}

func newConfig(opts []Option) config {
	c := config{http: &http.Client{Timeout: 30 * time.Second}, attempts: DefaultAttempts, backoff: DefaultBackoff,
		maxWait: DefaultMaxWait, now: time.Now, sleep: sleep, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(&c)
	}
	return c
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// poster is the HTTP side every provider shares: one JSON POST, retried.
type poster struct {
	Retrier
	api    string // names the provider in errors
	base   *url.URL
	token  string
	header http.Header // the provider's own headers (Accept, API version)
	need   string      // what a token needs, for a TokenError
}

func newPoster(api, base, token, need string, header http.Header, opts []Option) (*poster, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s: the API URL must be an absolute http(s) URL", api)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%s: the API URL %s carries credentials; the token goes in the repository secret", api, u.Redacted())
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath, u.RawQuery, u.Fragment = "", "", ""
	return &poster{Retrier: NewRetrier(opts...), api: api, base: u, token: token, header: header, need: need}, nil
}

// maxAnswer caps how much of an answer is read: an error body is a few hundred bytes.
const maxAnswer = 64 << 10

// post sends body to the path under the base URL until a 2xx answer, a final refusal, or
// the attempts run out. repo names the repository in a TokenError.
func (p *poster) post(ctx context.Context, repo string, path []string, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("%s: encode the status: %w", p.api, err)
	}
	u := p.base.JoinPath(path...).String()
	return p.Do(ctx, fmt.Sprintf("%s: post a commit status on %s", p.api, repo),
		func(attempt int) (time.Duration, error) { return p.once(ctx, repo, u, b, attempt) },
		"commit status: retrying", "provider", p.api, "repository", repo)
}

// once makes one attempt. It answers the error and how long to wait before the next
// attempt, or a negative wait when retrying cannot help.
func (p *poster) once(ctx context.Context, repo, u string, body []byte, attempt int) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return -1, fmt.Errorf("%s: %w", p.api, err)
	}
	for k, vs := range p.header {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "stepline")
	if p.token != "" {
		req.Header.Set("Authorization", "Bearer "+p.token)
	}
	resp, err := p.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return -1, fmt.Errorf("%s: post a commit status on %s: %w", p.api, repo, ctx.Err())
		}
		// A transport error (a reset, a timeout) is worth another attempt. Its text names the
		// URL, which carries no credentials, but is scrubbed in case a proxy echoed them.
		return p.Backoff(attempt), fmt.Errorf("%s: post a commit status on %s: %s", p.api, repo, p.scrub(err.Error()))
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if resp.StatusCode/100 == 2 {
		return 0, nil
	}
	apiErr := &scm.APIError{Provider: p.api, StatusCode: resp.StatusCode, Message: p.scrub(scm.ErrorMessage(answer))}
	if wait, limited := rateLimit(resp, apiErr.Message, p.Now()); limited {
		return max(wait, p.Backoff(attempt)), fmt.Errorf("post a commit status on %s: %w (%w)", repo, apiErr, ErrRateLimited)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return -1, &TokenError{Repository: repo, Need: p.need, API: apiErr}
	case resp.StatusCode >= 500:
		return p.Backoff(attempt), fmt.Errorf("post a commit status on %s: %w", repo, apiErr)
	}
	return -1, fmt.Errorf("post a commit status on %s: %w", repo, apiErr)
}

func (p *poster) scrub(s string) string {
	if p.token == "" {
		return s
	}
	return strings.ReplaceAll(s, p.token, "[token]")
}

// rateLimit reports whether resp refuses for a rate limit, and how long the provider asks to
// wait (zero when it does not say). GitHub documents both forms
// (https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api, "Exceeding
// the rate limit"): a 403 or 429 with x-ratelimit-remaining 0 is the primary limit, to be
// retried after x-ratelimit-reset (UTC epoch seconds); a retry-after header gives the seconds
// to wait. Bitbucket answers 429
// (https://support.atlassian.com/bitbucket-cloud/docs/api-request-limits/).
func rateLimit(resp *http.Response, message string, now time.Time) (time.Duration, bool) {
	code := resp.StatusCode
	if code != http.StatusTooManyRequests && code != http.StatusForbidden {
		return 0, false
	}
	if d, ok := RetryAfter(resp.Header.Get("Retry-After"), now); ok {
		return d, true
	}
	if resp.Header.Get("X-RateLimit-Remaining") == "0" {
		d, _ := ResetIn(resp.Header.Get("X-RateLimit-Reset"), now)
		return d, true
	}
	// A secondary rate limit may come without either header; GitHub then asks to "wait for
	// at least one minute", and its message says "secondary rate limit".
	if strings.Contains(strings.ToLower(message), "rate limit") {
		return time.Minute, true
	}
	return 0, code == http.StatusTooManyRequests
}

// RetryAfter reads a Retry-After header: delay seconds or an HTTP date (RFC 9110 §10.2.3).
// A date in the past is a zero wait; anything else unreadable is false.
func RetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		return seconds(n), true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	// t.Sub saturates at about 292 years; a date that far is a wait no post waits for.
	return min(max(t.Sub(now), 0), seconds(maxSeconds)), true
}

// ResetIn reads GitHub's x-ratelimit-reset (UTC epoch seconds) as the wait from now; a reset
// already past is a zero wait.
func ResetIn(v string, now time.Time) (time.Duration, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	if n > now.Unix()+maxSeconds {
		return seconds(maxSeconds), true
	}
	return max(time.Unix(n, 0).Sub(now), 0), true
}

// maxSeconds bounds a wait a header can ask for, so no arithmetic overflows: far above any
// MaxWait, so such a wait always ends the post.
const maxSeconds = 7 * 24 * 3600

func seconds(n int64) time.Duration { return time.Duration(min(n, maxSeconds)) * time.Second }

// check refuses a status no provider would take, before any request: the repository is
// two path segments, the commit a full id, and a key and a state are set. It returns the
// repository's two segments.
func check(api string, s Status, needURL bool) (string, string, error) {
	if !sourcearchive.ValidRepository(s.Repository) {
		return "", "", fmt.Errorf("%s: repository %q is not owner/name", api, clip(s.Repository, 100))
	}
	if !sourcearchive.ValidCommit(s.Commit) {
		return "", "", fmt.Errorf("%s: %q is not a full commit id", api, clip(s.Commit, 100))
	}
	switch {
	case s.Key == "":
		return "", "", fmt.Errorf("%s: a commit status needs a key", api)
	case needURL && s.URL == "":
		return "", "", fmt.Errorf("%s: a commit status needs a link to the run", api)
	}
	switch s.State {
	case InProgress, Succeeded, Failed, Stopped:
	default:
		return "", "", fmt.Errorf("%s: unknown status state %q", api, s.State)
	}
	owner, name, _ := strings.Cut(s.Repository, "/")
	return owner, name, nil
}
