package github

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	gh "github.com/google/go-github/v81/github"

	"github.com/stepline/stepline/pkg/scm"
)

// Parser is Parse as an scm.Parser. Its zero value is ready to use.
type Parser struct{}

var _ scm.Parser = Parser{}

// Parse calls the package's Parse.
func (Parser) Parse(event, delivery string, body []byte) ([]scm.Event, error) {
	return Parse(event, delivery, body)
}

// Parse turns one GitHub webhook delivery into normalised events. event is the
// X-GitHub-Event header and delivery the X-GitHub-Delivery header, copied into every event.
// A delivery yields at most one event: GitHub sends one push delivery per ref.
//
// push, pull_request, create, delete and ping are understood (see the package doc for what
// each becomes); any other event, and pull_request actions that change nothing a pipeline
// builds, answer *scm.IgnoredError. A body that is not a JSON object of the event's shape
// answers *scm.MalformedError with a one-line reason that never quotes the body.
func Parse(event, delivery string, body []byte) ([]scm.Event, error) {
	var (
		ev  scm.Event
		err error
	)
	switch event {
	case "push":
		ev, err = parsePush(body)
	case "pull_request":
		ev, err = parsePullRequest(body)
	case "create":
		ev, err = parseCreate(body)
	case "delete":
		ev, err = parseDelete(body)
	case "ping":
		ev, err = parsePing(body)
	default:
		return nil, scm.Ignored("GitHub event %q starts no pipeline", clip(event))
	}
	if err != nil {
		return nil, err
	}
	ev.Provider = scm.GitHub
	ev.Delivery = delivery
	return []scm.Event{ev}, nil
}

// parsePing answers a ping with one event, so the webhook endpoint can acknowledge a new hook.
// Organisation and App hooks have no repository; the event then names none.
func parsePing(body []byte) (scm.Event, error) {
	var p gh.PingEvent
	if err := decode("ping", body, &p); err != nil {
		return scm.Event{}, err
	}
	if p.HookID == nil && p.Hook == nil {
		return scm.Event{}, scm.Malformed("GitHub ping delivery names no hook")
	}
	return scm.Event{
		Kind:       scm.KindPing,
		Repository: repository(p.GetRepo(), ""),
		Sender:     p.GetSender().GetLogin(),
	}, nil
}

// decode unmarshals body into v, one of go-github's event types. json.Unmarshal accepts null
// for a struct and leaves it zero, so the body must open with an object.
func decode(event string, body []byte, v any) error {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return scm.Malformed("GitHub %s delivery is not a JSON object", event)
	}
	err := json.Unmarshal(body, v)
	if err == nil {
		return nil
	}
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) {
		return scm.Malformed("GitHub %s delivery is not valid JSON: %s", event, clip(err.Error()))
	}
	return scm.Malformed("GitHub %s delivery does not have the event's shape: %s", event, clip(err.Error()))
}

// repository normalises a repository. fallbackBranch is used when the repository names no
// default branch: older payloads and the create event carry master_branch instead.
func repository(r *gh.Repository, fallbackBranch string) scm.Repository {
	return scm.Repository{
		FullName:      r.GetFullName(),
		CloneURL:      r.GetCloneURL(),
		DefaultBranch: cmp.Or(r.GetDefaultBranch(), r.GetMasterBranch(), fallbackBranch),
	}
}

// maxReason bounds what a reason quotes from a delivery (an event name, a ref, a decoder
// message that names a value), so a hostile body cannot make the log line long.
const maxReason = 160

// clip makes s safe to put in a one-line reason: control characters become spaces and it is
// cut to maxReason bytes on a rune boundary.
func clip(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= maxReason {
			b.WriteString("…")
			break
		}
		if unicode.IsControl(r) || r == utf8.RuneError {
			r = ' '
		}
		b.WriteRune(r)
	}
	return b.String()
}
