package scm

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Headers names the HTTP headers of one provider's deliveries.
type Headers struct {
	// Signature carries "sha256=<hex HMAC-SHA256 of the body>".
	Signature string
	// Event names the event (GitHub: push; Bitbucket: repo:push).
	Event string
	// Delivery carries the delivery's unique id, the same on a redelivery.
	Delivery string
}

// HeadersOf returns the header names provider uses, and false for an unknown provider.
func HeadersOf(provider string) (Headers, bool) {
	switch provider {
	case GitHub:
		return Headers{Signature: "X-Hub-Signature-256", Event: "X-GitHub-Event", Delivery: "X-GitHub-Delivery"}, true
	case Bitbucket:
		return Headers{Signature: "X-Hub-Signature", Event: "X-Event-Key", Delivery: "X-Request-UUID"}, true
	case BitbucketServer:
		return Headers{Signature: "X-Hub-Signature", Event: "X-Event-Key", Delivery: "X-Request-Id"}, true
	}
	return Headers{}, false
}

// Providers lists the webhook providers, in the order help texts name them.
func Providers() []string { return []string{GitHub, Bitbucket, BitbucketServer} }

// Parser turns one delivery's body into normalised events. event is the provider's event
// name from its event header and delivery the delivery id; both are copied into the events.
//
// A parser answers *IgnoredError for an event that starts nothing (an unknown event, a
// comment, a label change): the delivery is acknowledged, not retried. It answers
// *MalformedError when the body cannot be what the event says. A ping is returned as one
// event of KindPing.
type Parser interface {
	Parse(event, delivery string, body []byte) ([]Event, error)
}

// ParserFunc adapts a function to Parser.
type ParserFunc func(event, delivery string, body []byte) ([]Event, error)

// Parse calls f.
func (f ParserFunc) Parse(event, delivery string, body []byte) ([]Event, error) {
	return f(event, delivery, body)
}

// IgnoredError says a delivery was understood and starts nothing, and why.
type IgnoredError struct {
	Reason string
}

func (e *IgnoredError) Error() string { return "ignored: " + e.Reason }

// Ignored returns an *IgnoredError with a formatted reason.
func Ignored(format string, args ...any) error {
	return &IgnoredError{Reason: fmt.Sprintf(format, args...)}
}

// MalformedError says a delivery's body is not what its event says, in one line.
type MalformedError struct {
	Reason string
	// Err is the error the reason comes from, when there is one (a *RefError).
	Err error
}

func (e *MalformedError) Error() string { return "malformed delivery: " + e.Reason }

// Unwrap returns Err.
func (e *MalformedError) Unwrap() error { return e.Err }

// Checked passes a parser's answer through Event.Check: one event naming a ref or commit git
// would refuse makes the whole delivery a *MalformedError (the webhook answers 400, which
// providers do not retry), wrapping the *RefError.
func Checked(evs []Event, err error) ([]Event, error) {
	if err != nil {
		return nil, err
	}
	for _, ev := range evs {
		if err := ev.Check(); err != nil {
			return nil, &MalformedError{Reason: err.Error(), Err: err}
		}
	}
	return evs, nil
}

// Malformed returns a *MalformedError with a formatted reason.
func Malformed(format string, args ...any) error {
	return &MalformedError{Reason: fmt.Sprintf(format, args...)}
}

// IsIgnored reports whether err says the delivery starts nothing, and returns the reason.
func IsIgnored(err error) (string, bool) {
	var ig *IgnoredError
	if errors.As(err, &ig) {
		return ig.Reason, true
	}
	return "", false
}

// FileLister lists the paths changed between two commits of a repository through a
// provider's API. complete is false when the provider cut the list short.
type FileLister interface {
	ChangedFiles(ctx context.Context, repo, base, head string) (files []string, complete bool, err error)
}

// Header returns the first value of name in h whatever the case of its key, since API
// Gateway lower-cases header names and net/http canonicalises them.
func Header(h http.Header, name string) string {
	if v := h.Get(name); v != "" {
		return v
	}
	for k, vs := range h {
		if len(vs) > 0 && strings.EqualFold(k, name) {
			return vs[0]
		}
	}
	return ""
}
