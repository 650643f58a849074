package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/stepline/stepline/pkg/notify/commitstatus"
)

// WebhookSender posts notifications to Slack and Teams incoming webhooks, with the retry
// policy of the commit statuses: 5xx, 429 and transport errors are retried with backoff,
// Retry-After is honoured, and a wait longer than the longest one ends the send with
// commitstatus.ErrRateLimited so the caller's queue tries later.
//
// A webhook's URL is its credential: whoever has it can post to the channel. It never
// appears in an error or a log line; they name the target and its secret instead.
type WebhookSender struct{ r commitstatus.Retrier }

// NewWebhookSender returns a sender with the options of the commit status posters (HTTP
// client, retries, clock, logger).
func NewWebhookSender(opts ...commitstatus.Option) *WebhookSender {
	return &WebhookSender{r: commitstatus.NewRetrier(opts...)}
}

// WebhookError is a webhook's final refusal: an answer that retrying does not change (a
// removed webhook, a revoked URL, a payload the service refuses).
type WebhookError struct {
	// Target names the webhook: its kind and secret, never its URL.
	Target string
	// StatusCode is the HTTP answer.
	StatusCode int
	// Message is the service's answer, scrubbed of the URL.
	Message string
}

func (e *WebhookError) Error() string {
	msg := fmt.Sprintf("%s: the webhook answered %d", e.Target, e.StatusCode)
	if e.Message != "" {
		msg += ": " + e.Message
	}
	switch e.StatusCode {
	case http.StatusNotFound, http.StatusGone, http.StatusForbidden, http.StatusUnauthorized:
		msg += " (the webhook was removed or its URL revoked: put the new URL in the secret)"
	}
	return msg
}

// ErrWebhookURL means the secret's value is not a webhook URL stepline posts to.
var ErrWebhookURL = errors.New("the secret's value is not an https URL")

// Send posts body (Webhook's JSON) to the webhook at rawURL. target names it in errors and
// logs ("slack stepline/slack-webhook").
func (s *WebhookSender) Send(ctx context.Context, target, rawURL string, body []byte) error {
	u, err := url.Parse(strings.TrimSpace(rawURL))
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
		// url.Parse's error repeats the URL: it is not wrapped.
		return fmt.Errorf("%s: %w", target, ErrWebhookURL)
	}
	sc := newScrubber(u)
	return s.r.Do(ctx, "post to "+target, func(attempt int) (time.Duration, error) {
		return s.once(ctx, target, u.String(), body, attempt, sc)
	}, "notify: retrying a webhook", "target", target)
}

func (s *WebhookSender) once(ctx context.Context, target, u string, body []byte, attempt int, sc *strings.Replacer) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return -1, fmt.Errorf("post to %s: %s", target, sc.Replace(err.Error()))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "stepline")
	resp, err := s.r.Client().Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return -1, fmt.Errorf("post to %s: %w", target, ctx.Err())
		}
		// The transport's error text quotes the URL ("Post \"https://…\": …").
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return s.r.Backoff(attempt), fmt.Errorf("post to %s: %s", target, sc.Replace(err.Error()))
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode/100 == 2 {
		return 0, nil
	}
	werr := &WebhookError{Target: target, StatusCode: resp.StatusCode, Message: sc.Replace(oneLine(string(answer)))}
	if len(werr.Message) > 200 {
		werr.Message = werr.Message[:200] + "…"
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		wait, _ := commitstatus.RetryAfter(resp.Header.Get("Retry-After"), s.r.Now())
		return max(wait, s.r.Backoff(attempt)), fmt.Errorf("%w (%w)", werr, commitstatus.ErrRateLimited)
	case resp.StatusCode >= 500:
		return s.r.Backoff(attempt), werr
	}
	return -1, werr
}

// newScrubber removes a webhook's URL, and each part of it that identifies the hook (path
// segments, query values), from a text a service or transport may have echoed it in.
func newScrubber(u *url.URL) *strings.Replacer {
	secrets := []string{u.String(), u.Host + u.EscapedPath(), u.RawQuery}
	for _, seg := range strings.Split(u.EscapedPath(), "/") {
		secrets = append(secrets, seg)
	}
	for _, vs := range u.Query() {
		secrets = append(secrets, vs...)
	}
	// The longest first, so a whole URL is replaced before any of its parts.
	slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	var pairs []string
	for _, s := range secrets {
		// Short parts ("services", "webhookb2") identify nothing and would garble messages.
		if len(s) >= 12 {
			pairs = append(pairs, s, "[webhook]")
		}
	}
	return strings.NewReplacer(pairs...)
}
