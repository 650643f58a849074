package bitbucketserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/stepline/stepline/pkg/scm"
)

// Parser parses Bitbucket Data Center deliveries: the scm.Parser of provider
// scm.BitbucketServer.
type Parser struct{}

var _ scm.Parser = Parser{}

// Parse calls the package's Parse.
func (Parser) Parse(event, delivery string, body []byte) ([]scm.Event, error) {
	return Parse(event, delivery, body)
}

// The event keys Parse reads a body for, from Atlassian's "Event payload" page.
const (
	keyPing          = "diagnostics:ping"
	keyRefsChanged   = "repo:refs_changed"
	keyPROpened      = "pr:opened"
	keyPRFromUpdated = "pr:from_ref_updated"
	keyPRModified    = "pr:modified"
	keyPRMerged      = "pr:merged"
	keyPRDeclined    = "pr:declined"
	keyPRDeleted     = "pr:deleted"
)

// prActions maps the pull request event keys that always start a build to their action.
// A declined and a deleted pull request are both closed without merging.
var prActions = map[string]string{
	keyPROpened:      scm.PROpened,
	keyPRFromUpdated: scm.PRUpdated,
	keyPRMerged:      scm.PRMerged,
	keyPRDeclined:    scm.PRClosed,
	keyPRDeleted:     scm.PRClosed,
}

// Parse turns one Bitbucket Data Center delivery into normalised events. event is the
// X-Event-Key header and delivery the X-Request-Id header, copied into every event.
//
// repo:refs_changed yields one event per ref change, in payload order; a pull request event
// and diagnostics:ping yield one. Any other key is answered with *scm.IgnoredError without
// reading the body, and a body that is not what its key says with *scm.MalformedError.
func Parse(event, delivery string, body []byte) ([]scm.Event, error) {
	return scm.Checked(parse(event, delivery, body))
}

// parse is Parse before scm.Checked refuses the refs and commits git would.
func parse(event, delivery string, body []byte) ([]scm.Event, error) {
	switch event {
	case keyPing:
		// The body of "Test connection" is undocumented and carries nothing we use.
		return []scm.Event{{Provider: scm.BitbucketServer, Kind: scm.KindPing, Delivery: delivery}}, nil
	case keyRefsChanged:
		return parseRefsChanged(delivery, body)
	case keyPRModified:
		return parseModified(delivery, body)
	}
	if action, ok := prActions[event]; ok {
		return parsePullRequest(event, action, delivery, body)
	}
	if event == "" {
		return nil, scm.Ignored("the delivery names no event (empty X-Event-Key)")
	}
	return nil, scm.Ignored("event %q is %s, which starts nothing", event, ignoredWhat(event))
}

// ignoredWhat names what an ignored event key reports, for the reason sent back to Data
// Center's event log.
func ignoredWhat(event string) string {
	switch {
	case strings.HasPrefix(event, "pr:reviewer:"):
		return "a review"
	case strings.Contains(event, ":comment:"):
		return "a comment"
	case event == "repo:modified":
		return "a repository rename"
	case event == "repo:forked":
		// The fork's own pushes arrive as its repo:refs_changed, on its own webhooks.
		return "a fork"
	case event == "mirror:repo_synchronized":
		// The primary's repo:refs_changed already reported the push being mirrored.
		return "a mirror synchronisation"
	}
	return "not an event stepline handles"
}

// parseRefsChanged yields one event per ref change of a push. A push that lists no change
// is ignored: there is nothing to build, and a refusal would only fill Data Center's log.
func parseRefsChanged(delivery string, body []byte) ([]scm.Event, error) {
	const key = keyRefsChanged
	var p pushPayload
	if err := decode(key, body, &p); err != nil {
		return nil, err
	}
	if err := sameKey(key, p.EventKey); err != nil {
		return nil, err
	}
	repo, err := p.Repository.normalise(key)
	if err != nil {
		return nil, err
	}
	if len(p.Changes) == 0 {
		return nil, scm.Ignored("%s: the delivery lists no changes, so there is nothing to build", key)
	}
	commits := make(map[string]commit, len(p.Commits))
	for i, c := range p.Commits {
		if c.ID == "" {
			return nil, scm.Malformed("%s: commits[%d] has no id", key, i)
		}
		commits[c.ID] = c
	}
	evs := make([]scm.Event, 0, len(p.Changes))
	for i, c := range p.Changes {
		ev, err := eventOfChange(i, c)
		if err != nil {
			return nil, err
		}
		ev.Delivery, ev.Repository, ev.Sender = delivery, repo, p.Actor.login()
		if !ev.Deleted {
			ev.Commits = commitsOf(commits, c.FromHash, c.ToHash)
		}
		evs = append(evs, ev)
	}
	return evs, nil
}

// commitsOf returns the delivery's commits that belong to the change from..to, oldest
// first: those reached from to by their parents without passing from. Data Center lists
// commits for the whole delivery and says nothing of which change each belongs to; a commit
// reached from a change's head is one of its commits, so the trigger reads the head's skip
// markers ([skip ci] …) from its message. A list cut at Data Center's limit (five by
// default) just ends the walk early.
func commitsOf(commits map[string]commit, from, to string) []scm.Commit {
	var newestFirst []scm.Commit
	seen := map[string]bool{from: true}
	queue := []string{to}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		c, ok := commits[id]
		if !ok || seen[id] {
			continue
		}
		seen[id] = true
		newestFirst = append(newestFirst, scm.Commit{ID: c.ID, Message: c.Message, Author: c.Author.login()})
		for _, parent := range c.Parents {
			queue = append(queue, parent.ID)
		}
	}
	slices.Reverse(newestFirst)
	return newestFirst
}

// eventOfChange turns changes[i] into an event without the fields every change shares.
func eventOfChange(i int, c refChange) (scm.Event, error) {
	const key = keyRefsChanged
	ref := c.Ref.ID
	if ref == "" {
		ref = c.RefID
	}
	if ref == "" {
		return scm.Event{}, scm.Malformed("%s: changes[%d] names no ref", key, i)
	}
	if c.FromHash == "" || c.ToHash == "" {
		return scm.Event{}, scm.Malformed("%s: changes[%d] (%s) lacks fromHash or toHash", key, i, quote(ref))
	}
	ev := scm.Event{Provider: scm.BitbucketServer, Kind: scm.KindPush, Ref: ref, Before: c.FromHash, After: c.ToHash}
	switch c.Type {
	case "ADD":
		ev.Created = true
	case "DELETE":
		ev.Deleted = true
	case "UPDATE":
	default:
		return scm.Event{}, scm.Malformed("%s: changes[%d] (%s) has type %s, not ADD, UPDATE or DELETE", key, i, quote(ref), quote(c.Type))
	}
	// The ref type decides; a payload without one is classified by the ref's name.
	isTag := c.Ref.Type == "TAG" || (c.Ref.Type != "BRANCH" && strings.HasPrefix(ref, "refs/tags/"))
	name := c.Ref.DisplayID
	if name == "" {
		branch, tag := scm.ShortRef(ref)
		name = branch + tag
	}
	if isTag {
		ev.Kind, ev.Tag = scm.KindTag, name
	} else {
		ev.Branch = name
	}
	return ev, nil
}

// sameKey refuses a body whose eventKey names another event than the header: the header is
// not signed, so a signed body replayed under another key must not change what it starts.
func sameKey(want, got string) error {
	if got != "" && got != want {
		return scm.Malformed("%s: the body is a %s delivery", want, quote(got))
	}
	return nil
}

// decode unmarshals body into v, answering *scm.MalformedError on failure.
func decode(key string, body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return scm.Malformed("%s: the body is empty", key)
	}
	err := json.Unmarshal(body, v)
	if err == nil {
		return nil
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return scm.Malformed("%s: invalid JSON at byte %d: %s", key, syn.Offset, oneLine(syn.Error()))
	case errors.As(err, &typ):
		// encoding/json's own message spells out Go types, which the person
		// reading Data Center's event log knows nothing of.
		field := typ.Field
		if field == "" {
			field = "the body"
		}
		return scm.Malformed("%s: %s is a JSON %s, not %s", key, field, typ.Value, jsonKind(typ.Type))
	}
	return scm.Malformed("%s: %s", key, oneLine(err.Error()))
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
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "a " + t.Kind().String()
}

// quote quotes a value from the body for a one-line reason, cut to a readable length.
func quote(s string) string {
	const maxLen = 80
	if len(s) > maxLen {
		s = s[:maxLen] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// oneLine folds a message onto one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
