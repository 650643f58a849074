package commitstatus

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// Retrier is the retry policy a set of Options gives: the HTTP client, the attempts, the
// backoff, the longest wait, the clock and the logger. The posters use it, and so does
// notify's webhook sender, so one set of options configures every request a notification makes.
type Retrier struct{ config }

// NewRetrier returns the policy of opts, with the defaults of a Poster.
func NewRetrier(opts ...Option) Retrier { return Retrier{newConfig(opts)} }

// Client returns the HTTP client.
func (r Retrier) Client() *http.Client { return r.http }

// Now reads the clock.
func (r Retrier) Now() time.Time { return r.now() }

// Backoff is the wait after the attempt-th failure: backoff × 2^(attempt-1).
func (r Retrier) Backoff(attempt int) time.Duration {
	d := r.backoff
	for i := 1; i < attempt && d < r.maxWait; i++ {
		d *= 2
	}
	return d
}

// Do calls once with attempt 1, 2, … until it succeeds, it answers a negative wait (retrying
// cannot help), the attempts run out, or it asks for a wait longer than the longest one; each
// wait is logged at Warn as msg with attrs (never a secret) and the error's text. It returns
// once's last error, or the context's error while waiting, wrapped with what.
func (r Retrier) Do(ctx context.Context, what string, once func(attempt int) (time.Duration, error), msg string, attrs ...any) error {
	for attempt := 1; ; attempt++ {
		wait, err := once(attempt)
		if err == nil || wait < 0 || attempt >= r.attempts {
			return err
		}
		if wait > r.maxWait {
			return fmt.Errorf("%w: the provider asks to wait %s, longer than %s", err, wait.Round(time.Second), r.maxWait)
		}
		r.log.WarnContext(ctx, msg, append(attrs, "attempt", attempt, "wait", wait.String(), "error", err.Error())...)
		if err := r.sleep(ctx, wait); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
}
