package github

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/stepline/stepline/pkg/scm"
)

// Parser is Parse as an scm.Parser. Its zero value is ready to use.
type Parser struct{}

var _ scm.Parser = Parser{}

// Parse calls the package's Parse.
func (Parser) Parse(event, delivery string, body []byte) ([]scm.Event, error) {
	return Parse(event, delivery, body)
}

// parsers holds the events Parse understands, each with the function that normalises its
// JSON body.
var parsers = map[string]func([]byte) (scm.Event, error){
	"push":         parsePush,
	"pull_request": parsePullRequest,
	"create":       parseCreate,
	"delete":       parseDelete,
	"ping":         parsePing,
}

// Parse turns one GitHub webhook delivery into normalised events. event is the
// X-GitHub-Event header and delivery the X-GitHub-Delivery header, copied into every event.
// A delivery yields at most one event: GitHub sends one push delivery per ref.
//
// push, pull_request, create, delete and ping are understood (see the package doc for what
// each becomes); any other event, and pull_request actions that change nothing a pipeline
// builds, answer *scm.IgnoredError. The body is JSON, or the form GitHub sends for a hook
// whose content type is application/x-www-form-urlencoded (its default): payload= and the
// URL-encoded JSON. A body that is neither, or not of the event's shape, or one naming a ref
// or commit git would refuse (scm.Event.Check), answers *scm.MalformedError with a one-line
// reason that never quotes the body.
func Parse(event, delivery string, body []byte) ([]scm.Event, error) {
	parse, ok := parsers[event]
	if !ok {
		return nil, scm.Ignored("GitHub event %q starts no pipeline", clip(event))
	}
	body, err := formPayload(event, body)
	if err != nil {
		return nil, err
	}
	ev, err := parse(body)
	if err != nil {
		return nil, err
	}
	ev.Provider = scm.GitHub
	ev.Delivery = delivery
	return scm.Checked([]scm.Event{ev}, nil)
}

// formPrefix opens a form-encoded delivery. A JSON body opens with '{' (after blanks), so
// the two never meet.
const formPrefix = "payload="

// formPayload returns the JSON of a form-encoded delivery, and any other body as it is. The
// signature covers the raw bytes, so the caller has already checked them; this only unwraps.
// GitHub's form has one field, payload, and a body with anything more is not its form.
func formPayload(event string, body []byte) ([]byte, error) {
	if !bytes.HasPrefix(body, []byte(formPrefix)) {
		return body, nil
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, scm.Malformed("GitHub %s delivery is a form that does not decode", event)
	}
	if len(form) != 1 || len(form["payload"]) != 1 {
		return nil, scm.Malformed("GitHub %s delivery is a form of more than its one payload field", event)
	}
	return []byte(form.Get("payload")), nil
}

// parsePing answers a ping with one event, so the webhook endpoint can acknowledge a new hook.
// Organisation and App hooks have no repository; the event then names none.
func parsePing(body []byte) (scm.Event, error) {
	var p pingPayload
	if err := decode("ping", body, &p); err != nil {
		return scm.Event{}, err
	}
	if !present(p.HookID) && !present(p.Hook) {
		return scm.Event{}, scm.Malformed("GitHub ping delivery names no hook")
	}
	return scm.Event{
		Kind:       scm.KindPing,
		Repository: normalise(p.Repository, ""),
		Sender:     p.Sender.login(),
	}, nil
}

// present reports whether a raw value is there and not null.
func present(raw json.RawMessage) bool {
	return len(raw) > 0 && string(raw) != "null"
}

// decode unmarshals body into v, one of this package's payload types. json.Unmarshal accepts
// null for a struct and leaves it zero, so the body must open with an object.
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

// normalise returns the scm.Repository of a repository, empty for nil. fallbackBranch is
// used when the repository names no default branch: older payloads and the create event
// carry master_branch instead.
func normalise(r *repository, fallbackBranch string) scm.Repository {
	if r == nil {
		return scm.Repository{DefaultBranch: fallbackBranch}
	}
	return scm.Repository{
		FullName:      r.FullName,
		CloneURL:      r.CloneURL,
		DefaultBranch: cmp.Or(r.DefaultBranch, r.MasterBranch, fallbackBranch),
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
