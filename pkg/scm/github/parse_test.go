package github

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/scm"
	"github.com/stepline/stepline/pkg/scm/scmtest"
)

func TestCreateAndDeleteDeliveries(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		event string
		body  obj
		want  scm.Event
	}{
		{"creating a branch is a created push without a commit", "create",
			obj{"ref": "feature/x", "ref_type": "branch", "master_branch": "main", "pusher_type": "user", "repository": testRepo, "sender": testSender},
			scm.Event{Kind: scm.KindPush, Ref: "refs/heads/feature/x", Branch: "feature/x", Created: true}},
		{"creating a tag is a created tag without a commit", "create",
			obj{"ref": "v1.0.0", "ref_type": "tag", "master_branch": "main", "pusher_type": "user", "repository": testRepo, "sender": testSender},
			scm.Event{Kind: scm.KindTag, Ref: "refs/tags/v1.0.0", Tag: "v1.0.0", Created: true}},
		{"deleting a branch is a deleted push", "delete",
			obj{"ref": "feature/x", "ref_type": "branch", "pusher_type": "user", "repository": testRepo, "sender": testSender},
			scm.Event{Kind: scm.KindPush, Ref: "refs/heads/feature/x", Branch: "feature/x", Deleted: true}},
		{"deleting a tag is a deleted tag", "delete",
			obj{"ref": "v1.0.0", "ref_type": "tag", "pusher_type": "user", "repository": testRepo, "sender": testSender},
			scm.Event{Kind: scm.KindTag, Ref: "refs/tags/v1.0.0", Tag: "v1.0.0", Deleted: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ev := one(t, c.event, encode(t, c.body))
			c.want.Provider, c.want.Delivery, c.want.Sender = scm.GitHub, "d-1", "mona"
			c.want.Repository = scm.Repository{FullName: "octo-org/app", CloneURL: "https://github.com/octo-org/app.git", DefaultBranch: "main"}
			assert.Equal(t, c.want, ev)
			assert.Empty(t, ev.Head(), "no commit is named")
		})
	}
}

func TestACreatedRepositoryIsIgnored(t *testing.T) {
	t.Parallel()
	_, err := Parse("create", "d-1", encode(t, obj{"ref": "main", "ref_type": "repository", "repository": testRepo}))
	_, ok := scm.IsIgnored(err)
	assert.True(t, ok, "got %v", err)
}

func TestPingDeliveries(t *testing.T) {
	t.Parallel()
	hook := obj{"type": "Repository", "id": 1, "name": "web", "active": true, "events": []string{"push"}}
	ev := one(t, "ping", encode(t, obj{"zen": "Keep it logically awesome.", "hook_id": 1, "hook": hook, "repository": testRepo, "sender": testSender}))
	assert.Equal(t, scm.KindPing, ev.Kind)
	assert.Equal(t, "octo-org/app", ev.Repository.FullName)

	org := one(t, "ping", encode(t, obj{"zen": "Design for failure.", "hook_id": 2, "hook": hook, "organization": obj{"login": "octo-org"}, "sender": testSender}))
	assert.Equal(t, scm.KindPing, org.Kind)
	assert.Empty(t, org.Repository.FullName, "an organisation hook has no repository")
}

func TestEventsThatStartNothingAreIgnoredWithoutReadingTheBody(t *testing.T) {
	t.Parallel()
	for _, event := range []string{"issues", "issue_comment", "workflow_run", "check_suite", "", "Push"} {
		_, err := Parse(event, "d-1", []byte("not even JSON"))
		reason, ok := scm.IsIgnored(err)
		require.True(t, ok, "%q: got %v", event, err)
		assert.Contains(t, reason, "GitHub event")
		assert.Contains(t, reason, `"`+event+`"`)
	}
}

func TestMalformedDeliveries(t *testing.T) {
	t.Parallel()
	secret := strings.Repeat("s3cr3t-body-content ", 50)
	cases := []struct {
		name  string
		event string
		body  string
		want  string // a part of the reason
	}{
		{"a body that is not JSON is malformed", "push", "ref=refs/heads/main", "not a JSON object"},
		{"a truncated body is malformed", "push", `{"ref":"refs/heads/main","commits":[`, "not valid JSON"},
		{"an empty body is malformed", "pull_request", "", "not a JSON object"},
		{"a JSON null is malformed", "push", "null", "not a JSON object"},
		{"a JSON array is malformed", "ping", "[]", "not a JSON object"},
		{"a push whose commits is a string is malformed", "push", `{"ref":"refs/heads/main","after":"` + sha2 + `","commits":"` + secret + `"}`, "shape"},
		{"a push whose ref is a number is malformed", "push", `{"ref":42}`, "shape"},
		{"a push without a ref is malformed", "push", `{"after":"` + sha2 + `","repository":{"full_name":"o/r"}}`, "no ref"},
		{"a push without a repository is malformed", "push", `{"ref":"refs/heads/main","after":"` + sha2 + `"}`, "no repository"},
		{"a push with a null commit is malformed", "push", `{"ref":"refs/heads/main","after":"` + sha2 + `","repository":{"full_name":"o/r"},"commits":[null]}`, "commit 0"},
		{"a push whose repository's full_name is an object is malformed", "push", `{"ref":"refs/heads/main","repository":{"full_name":{"x":"` + secret + `"}}}`, "shape"},
		{"a push whose commit message is a number is malformed", "push", `{"ref":"refs/heads/main","commits":[{"id":"` + sha2 + `","message":42}]}`, "shape"},
		{"a pull request whose head sha is a number is malformed", "pull_request", `{"action":"opened","number":1,"pull_request":{"head":{"ref":"f","sha":1}}}`, "shape"},
		{"a pull request without an action is malformed", "pull_request", `{"number":1}`, "no action"},
		{"an opened pull request without its object is malformed", "pull_request", `{"action":"opened","number":1}`, "no pull_request object"},
		{"an opened pull request without a head commit is malformed", "pull_request", `{"action":"opened","number":1,"repository":{"full_name":"o/r"},"pull_request":{"head":{"ref":"f"},"base":{"ref":"main"}}}`, "no head"},
		{"a pull request whose number is a string is malformed", "pull_request", `{"action":"opened","number":"7"}`, "shape"},
		{"a create without ref_type is malformed", "create", `{"ref":"main","repository":{"full_name":"o/r"}}`, "no ref and ref_type"},
		{"a delete without a repository is malformed", "delete", `{"ref":"main","ref_type":"branch"}`, "no repository"},
		{"a ping without a hook is malformed", "ping", `{"zen":"hi"}`, "no hook"},
		{"a form that does not decode is malformed", "push", "payload=%zz" + secret, "form that does not decode"},
		{"a form with another field is malformed", "push", "payload=%7B%7D&secret=" + secret, "more than its one payload field"},
		{"a form with two payloads is malformed", "ping", "payload=%7B%7D&payload=%7B%7D", "more than its one payload field"},
		{"a form whose payload is not JSON is malformed", "push", "payload=" + url.QueryEscape(secret), "not a JSON object"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			evs, err := Parse(c.event, "d-1", []byte(c.body))
			assert.Nil(t, evs)
			var bad *scm.MalformedError
			require.True(t, errors.As(err, &bad), "got %T %v", err, err)
			assert.Contains(t, bad.Reason, c.want)
			assert.Contains(t, bad.Reason, "GitHub "+c.event)
			assert.NotContains(t, bad.Reason, "\n", "the reason is one line")
			assert.LessOrEqual(t, len(bad.Reason), 2*maxReason, "the reason never quotes the body whole")
			assert.NotContains(t, bad.Reason, secret)
		})
	}
}

func TestCreateAndDeleteBodiesAreRefusedUnderEachOthersEvent(t *testing.T) {
	t.Parallel()
	type row struct {
		name, event string
		body        []byte
		want        string
	}
	var cases []row
	for i, b := range scmtest.OctokitExamples(t, "create") {
		cases = append(cases, row{fmt.Sprintf("octokit create example %d sent as delete", i), "delete", b, "create delivery's body"})
	}
	for i, b := range scmtest.OctokitExamples(t, "delete") {
		cases = append(cases, row{fmt.Sprintf("octokit delete example %d sent as create", i), "create", b, "delete delivery's body"})
	}
	cases = append(cases,
		row{"a create whose description is null is still a create's body", "delete",
			encode(t, obj{"ref": "v1", "ref_type": "tag", "master_branch": "main", "description": nil, "pusher_type": "user", "repository": testRepo}), "create delivery's body"},
		row{"a create without master_branch but with a description is still a create's body", "delete",
			encode(t, obj{"ref": "v1", "ref_type": "tag", "description": "d", "pusher_type": "user", "repository": testRepo}), "create delivery's body"},
		row{"a branch deletion sent as create", "create",
			encode(t, obj{"ref": "feature/x", "ref_type": "branch", "pusher_type": "user", "repository": testRepo}), "delete delivery's body"},
	)
	for _, c := range cases {
		t.Run(c.name+" is malformed", func(t *testing.T) {
			t.Parallel()
			evs, err := Parse(c.event, "d-1", c.body)
			assert.Nil(t, evs)
			var bad *scm.MalformedError
			require.True(t, errors.As(err, &bad), "got %v", err)
			assert.Contains(t, bad.Reason, c.want)
			assert.NotContains(t, bad.Reason, "\n")
		})
	}
}

// formEncode wraps a JSON body as GitHub does for a hook whose content type is
// application/x-www-form-urlencoded: one payload field holding the URL-encoded JSON.
func formEncode(body []byte) []byte {
	return []byte("payload=" + url.QueryEscape(string(body)))
}

func TestFormEncodedDeliveriesParseLikeTheirJSON(t *testing.T) {
	t.Parallel()
	events := 0
	for _, x := range loadExamples(t) {
		t.Run(x.Name, func(t *testing.T) {
			t.Parallel()
			want, wantErr := Parse(x.Event, "d-1", x.Body)
			got, err := Parse(x.Event, "d-1", formEncode(x.Body))
			assert.Equal(t, wantErr, err)
			assert.Equal(t, want, got)
		})
		if evs, err := Parse(x.Event, "d-1", x.Body); err == nil {
			events += len(evs)
		}
	}
	assert.Positive(t, events, "some examples yield events, so the comparison covers them")

	ev := one(t, "push", formEncode(scmtest.OctokitExamples(t, "push")[4]))
	assert.Equal(t, "refs/heads/master", ev.Ref, "a real push example, re-encoded as a form, parses")
}

func TestParserSatisfiesTheInterfaceWithTheSameAnswers(t *testing.T) {
	t.Parallel()
	var p scm.Parser = Parser{}
	body := encode(t, pushBody(nil))
	got, err := p.Parse("push", "d-1", body)
	require.NoError(t, err)
	want, err := Parse("push", "d-1", body)
	require.NoError(t, err)
	assert.Equal(t, want, got)
}
