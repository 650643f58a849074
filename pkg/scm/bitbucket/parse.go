package bitbucket

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"

	"github.com/stepline/stepline/pkg/scm"
)

// Parser parses Bitbucket Cloud deliveries: the scm.Parser of provider scm.Bitbucket.
type Parser struct{}

var _ scm.Parser = Parser{}

// Parse calls the package's Parse.
func (Parser) Parse(event, delivery string, body []byte) ([]scm.Event, error) {
	return Parse(event, delivery, body)
}

// The event keys Parse reads a body for, from Bitbucket Cloud's "Event payloads" page.
const (
	keyPush        = "repo:push"
	keyPRCreated   = "pullrequest:created"
	keyPRUpdated   = "pullrequest:updated"
	keyPRFulfilled = "pullrequest:fulfilled"
	keyPRRejected  = "pullrequest:rejected"
)

// prActions maps the pull request event keys that can start a build to their action.
// pullrequest:rejected is Bitbucket's "declined", closed without merging.
var prActions = map[string]string{
	keyPRCreated:   scm.PROpened,
	keyPRUpdated:   scm.PRUpdated,
	keyPRFulfilled: scm.PRMerged,
	keyPRRejected:  scm.PRClosed,
}

// Parse turns one Bitbucket Cloud delivery into normalised events. event is the X-Event-Key
// header and delivery the X-Request-UUID header, copied into every event.
//
// repo:push yields one event per ref change, in payload order; a pull request event yields
// one. Any other key is answered with *scm.IgnoredError without reading the body, and a
// body that is not what its key says, or that names a ref or commit git would refuse
// (scm.Event.Check), with *scm.MalformedError.
func Parse(event, delivery string, body []byte) ([]scm.Event, error) {
	return scm.Checked(parse(event, delivery, body))
}

// parse is Parse before scm.Checked refuses the refs and commits git would.
func parse(event, delivery string, body []byte) ([]scm.Event, error) {
	if event == keyPush {
		return parsePush(delivery, body)
	}
	if action, ok := prActions[event]; ok {
		return parsePullRequest(event, action, delivery, body)
	}
	if event == "" {
		return nil, scm.Ignored("the delivery names no event (empty X-Event-Key)")
	}
	return nil, scm.Ignored("event %q starts nothing", event)
}

// decode unmarshals body into v, answering *scm.MalformedError on failure.
func decode(key string, body []byte, v any) error {
	err := json.Unmarshal(body, v)
	if err == nil {
		return nil
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return scm.Malformed("%s: invalid JSON at byte %d: %s", key, syn.Offset, syn.Error())
	case errors.As(err, &typ):
		// encoding/json's own message spells out the Go type, which for an anonymous
		// struct is a page of struct syntax.
		field := typ.Field
		if field == "" {
			field = "the body"
		}
		return scm.Malformed("%s: %s is a JSON %s, not %s", key, field, typ.Value, jsonKind(typ.Type))
	}
	return scm.Malformed("%s: %s", key, strings.Join(strings.Fields(err.Error()), " "))
}

// jsonKind names the JSON value a Go type decodes from.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	}
	return "a number"
}
