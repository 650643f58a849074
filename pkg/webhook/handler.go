// Package webhook is the one webhook handler of stepline, shared by the Lambda behind API
// Gateway (functions/webhook) and by `stepline serve` behind net/http: it picks the
// repository's secrets from the hook id in the route before reading the body, verifies the
// signature, parses the delivery into normalised events and hands them to a Publisher,
// answering as the providers expect (2xx only when nothing needs a retry).
package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/stepline/stepline/pkg/reposecret"
	"github.com/stepline/stepline/pkg/scm"
)

// DefaultMaxBody is the largest body accepted. A Lambda invocation carries at most 6 MB and
// API Gateway may base64-encode the body (4/3 larger), so 4 MiB is the most that always
// arrives whole; GitHub's own cap is 25 MB, but pushes that large are thousands of commits.
const DefaultMaxBody = 4 << 20

// deliveryRE is the shape of a delivery id (GUIDs, UUIDs, with or without braces): it is
// logged and answered, so anything else is refused.
var deliveryRE = regexp.MustCompile(`^[A-Za-z0-9{}._:-]{1,128}$`)

// Request is one delivery as the HTTP layer saw it.
type Request struct {
	// Method is the HTTP method; only POST is accepted.
	Method string
	// Provider and Hook come from the route /webhooks/{provider}/{hook}.
	Provider, Hook string
	// Header holds the request headers, whatever the case of their names.
	Header http.Header
	Body   []byte
	// Received is when the request arrived, for the logged handler time.
	Received time.Time
}

// Response is the answer to a delivery: a status and a small JSON body.
type Response struct {
	Status int
	Body   Answer
}

// Answer is the JSON body of every response. Message is one line for a human reading the
// provider's delivery log.
type Answer struct {
	Message  string   `json:"message"`
	Delivery string   `json:"delivery,omitempty"`
	Keys     []string `json:"keys,omitempty"`
	Ignored  string   `json:"ignored,omitempty"`
}

// Accepted is one event to publish, with its idempotency key and the hook it came through
// (which names the repository's secret, hence the API token the trigger step needs).
type Accepted struct {
	Key   string
	Hook  string
	Event scm.Event
}

// Publisher hands accepted events on: to EventBridge in AWS, to the local runner in serve.
// An error makes the handler answer 500, so the provider retries; the keys make the retry
// harmless.
type Publisher interface {
	Publish(ctx context.Context, events []Accepted) error
}

// Secrets finds the repository registered under a hook id; reposecret.ErrUnknownHook when
// there is none. A secret with an empty Provider or Repository accepts any (stepline serve,
// which has no registry); reposecret.Parse never returns one.
type Secrets interface {
	Get(ctx context.Context, hook string) (reposecret.Secret, error)
}

// Handler answers webhook deliveries. Build it with New.
type Handler struct {
	secrets   Secrets
	publisher Publisher
	parsers   map[string]scm.Parser
	maxBody   int
	allowed   Allowed
	log       *slog.Logger
}

// Option configures a Handler.
type Option func(*Handler)

// WithMaxBody sets the body size cap (default DefaultMaxBody).
func WithMaxBody(n int) Option { return func(h *Handler) { h.maxBody = n } }

// WithAllowed limits the repositories deliveries are accepted for (default: all).
func WithAllowed(a Allowed) Option { return func(h *Handler) { h.allowed = a } }

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(h *Handler) { h.log = l } }

// WithParsers replaces the provider parsers (default: DefaultParsers()).
func WithParsers(p map[string]scm.Parser) Option { return func(h *Handler) { h.parsers = p } }

// New returns a Handler reading secrets from s and publishing to p.
func New(s Secrets, p Publisher, opts ...Option) *Handler {
	h := &Handler{secrets: s, publisher: p, parsers: DefaultParsers(), maxBody: DefaultMaxBody,
		log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(h)
	}
	return h
}

// Handle answers one delivery:
//   - 405 for a method other than POST, 404 for an unknown provider or hook (or a hook of
//     another provider), 413 for a body over the cap, 401 for a missing or wrong signature:
//     all before the body is parsed; 403 for a repository the stack does not allow;
//   - 400 with a one-line reason for an event header missing, a malformed body, or a delivery
//     for a repository other than the hook's;
//   - 200 for a ping and for an event that starts nothing (with the reason);
//   - 202 with the delivery id and the events' keys once they are published;
//   - 500 when the secrets cannot be read or publishing fails, so the provider retries.
func (h *Handler) Handle(ctx context.Context, r Request) Response {
	res, attrs := h.handle(ctx, r)
	attrs = append(attrs, slog.Int("status", res.Status), slog.String("provider", r.Provider),
		slog.String("hook", hookPrefix(r.Hook)), slog.Int("bytes", len(r.Body)))
	if !r.Received.IsZero() {
		attrs = append(attrs, slog.Duration("took", time.Since(r.Received)))
	}
	level := slog.LevelInfo
	if res.Status >= 500 {
		level = slog.LevelError
	} else if res.Status >= 400 {
		level = slog.LevelWarn
	}
	h.log.LogAttrs(ctx, level, "webhook "+res.Body.Message, attrs...)
	return res
}

func (h *Handler) handle(ctx context.Context, r Request) (Response, []slog.Attr) {
	if r.Method != "" && r.Method != http.MethodPost {
		return answer(http.StatusMethodNotAllowed, "only POST is accepted"), nil
	}
	parser, ok := h.parsers[r.Provider]
	headers, known := scm.HeadersOf(r.Provider)
	if !ok || !known {
		return answer(http.StatusNotFound, "unknown provider "+quote(r.Provider, 40)), nil
	}
	if len(r.Body) > h.maxBody {
		return answer(http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is %d bytes, over the %d-byte limit", len(r.Body), h.maxBody)), nil
	}
	sec, err := h.secrets.Get(ctx, r.Hook)
	if errors.Is(err, reposecret.ErrUnknownHook) {
		return answer(http.StatusNotFound, "unknown webhook"), nil
	}
	if err != nil {
		return answer(http.StatusInternalServerError, "cannot read the webhook's configuration; the delivery can be retried"),
			[]slog.Attr{slog.String("error", err.Error())}
	}
	if sec.Provider != "" && sec.Provider != r.Provider {
		return answer(http.StatusNotFound, "unknown webhook"), []slog.Attr{slog.String("reason", "the hook is registered for "+sec.Provider)}
	}
	if err := scm.Verify(scm.Header(r.Header, headers.Signature), r.Body, sec.Keys()...); err != nil {
		return answer(http.StatusUnauthorized, err.Error()), nil
	}
	if sec.Repository != "" && !h.allowed.Allows(r.Provider, sec.Repository) {
		return notAllowed(r.Provider, sec.Repository), nil
	}

	event := scm.Header(r.Header, headers.Event)
	delivery := scm.Header(r.Header, headers.Delivery)
	attrs := []slog.Attr{slog.String("event", event), slog.String("delivery", delivery)}
	if event == "" {
		return answer(http.StatusBadRequest, "the "+headers.Event+" header is missing"), attrs
	}
	if delivery == "" {
		return answer(http.StatusBadRequest, "the "+headers.Delivery+" header is missing"), attrs
	}
	if !deliveryRE.MatchString(delivery) {
		return answer(http.StatusBadRequest, "the "+headers.Delivery+" header is not a delivery id"), attrs[:1]
	}
	evs, err := parser.Parse(event, delivery, r.Body)
	if reason, ok := scm.IsIgnored(err); ok {
		res := answer(http.StatusOK, "ignored: "+reason)
		res.Body.Delivery, res.Body.Ignored = delivery, reason
		return res, attrs
	}
	if err != nil {
		return answer(http.StatusBadRequest, oneLine(err.Error())), attrs
	}

	var acc []Accepted
	for _, ev := range evs {
		if ev.Kind == scm.KindPing {
			continue
		}
		if sec.Repository != "" && ev.Repository.FullName != "" && !strings.EqualFold(ev.Repository.FullName, sec.Repository) {
			return answer(http.StatusBadRequest, fmt.Sprintf("the delivery is for repository %s, but this webhook is registered for %s",
				quote(ev.Repository.FullName, 100), sec.Repository)), attrs
		}
		if ev.Repository.FullName != "" && !h.allowed.Allows(r.Provider, ev.Repository.FullName) {
			return notAllowed(r.Provider, ev.Repository.FullName), attrs
		}
		acc = append(acc, Accepted{Key: scm.Key(r.Provider, r.Body, len(acc), len(evs)), Hook: r.Hook, Event: ev})
	}
	if len(acc) == 0 {
		res := answer(http.StatusOK, "pong: the webhook reaches stepline")
		res.Body.Delivery = delivery
		return res, attrs
	}
	if err := h.publisher.Publish(ctx, acc); err != nil {
		return answer(http.StatusInternalServerError, "the events could not be queued; the delivery can be retried"),
			append(attrs, slog.String("error", err.Error()))
	}
	res := answer(http.StatusAccepted, fmt.Sprintf("accepted %d event%s", len(acc), plural(len(acc))))
	res.Body.Delivery = delivery
	for _, a := range acc {
		res.Body.Keys = append(res.Body.Keys, a.Key)
	}
	return res, append(attrs, slog.Any("keys", res.Body.Keys))
}

// notAllowed answers 403: the delivery is genuine, but the stack's owner has not allowed the
// repository (STEPLINE_ALLOWED_REPOS), which a retry will not change.
func notAllowed(provider, repository string) Response {
	return answer(http.StatusForbidden, fmt.Sprintf("repository %s:%s is not among this stepline's allowed repositories", provider, quote(repository, 100)))
}

func answer(status int, msg string) Response {
	return Response{Status: status, Body: Answer{Message: msg}}
}

// hookPrefix keeps enough of a hook id to tell hooks apart in logs without writing down the
// whole unguessable URL.
func hookPrefix(hook string) string {
	if len(hook) > 6 {
		return hook[:6] + "…"
	}
	return hook
}

// quote prints an untrusted value quoted and cut, so a crafted header cannot fill the log.
func quote(s string, max int) string {
	if len(s) > max {
		s = s[:max] + "…"
	}
	return fmt.Sprintf("%q", s)
}

func oneLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// StaticSecrets is a fixed registry of hooks, for `stepline serve` and tests.
type StaticSecrets map[string]reposecret.Secret

// Get returns the secret of hook, or reposecret.ErrUnknownHook.
func (s StaticSecrets) Get(_ context.Context, hook string) (reposecret.Secret, error) {
	sec, ok := s[hook]
	if !ok {
		return reposecret.Secret{}, reposecret.ErrUnknownHook
	}
	return sec, nil
}
