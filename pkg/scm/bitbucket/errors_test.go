package bitbucket

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/scm"
)

func TestEventsThatStartNothingAreIgnored(t *testing.T) {
	t.Parallel()
	keys := []string{
		"repo:fork", "repo:updated", "repo:transfer", "repo:commit_comment_created",
		"repo:commit_status_created", "repo:commit_status_updated",
		"issue:created", "issue:updated", "issue:comment_created",
		"pullrequest:approved", "pullrequest:unapproved", "pullrequest:changes_request_created",
		"pullrequest:comment_created", "pullrequest:comment_updated", "pullrequest:comment_deleted",
		"project:updated", "Repo:Push", "push",
	}
	for _, key := range keys {
		t.Run(key+" is ignored with a reason naming it, whatever its body", func(t *testing.T) {
			t.Parallel()
			got, err := Parse(key, delivery, []byte("not even JSON"))
			assert.Nil(t, got)
			var ig *scm.IgnoredError
			require.True(t, errors.As(err, &ig), "error is %T (%v), want *scm.IgnoredError", err, err)
			assert.Contains(t, ig.Reason, key)
		})
	}
}

func TestParseRefusals(t *testing.T) {
	t.Parallel()
	branch := func() obj { return side("branch", "main", sha1) }
	cases := []struct {
		name    string
		event   string
		body    func(t *testing.T) []byte
		ignored bool   // else malformed
		reason  string // a part of the reason
	}{
		{"a delivery without an event key is ignored", "", func(*testing.T) []byte { return []byte("{}") }, true, "X-Event-Key"},
		{"a push with an empty changes list is ignored", "repo:push", func(t *testing.T) []byte { return pushBody(t, nil) }, true, "no ref changes"},
		{"a push of nothing but unknown ref types is ignored, naming them", "repo:push",
			func(t *testing.T) []byte { return pushBody(t, nil, change(nil, side("bookmark", "b", sha1))) }, true, "bookmark"},
		{"a push body that is not JSON is malformed", "repo:push", func(*testing.T) []byte { return []byte(`{"push": `) }, false, "invalid JSON"},
		{"a push body that is an array is malformed", "repo:push", func(*testing.T) []byte { return []byte(`[]`) }, false, "the body is a JSON array, not an object"},
		{"a push body of null has no push object", "repo:push", func(*testing.T) []byte { return []byte(`null`) }, false, "no push object"},
		{"a push without a push object is malformed", "repo:push", func(*testing.T) []byte { return []byte(`{"actor": {}}`) }, false, "no push object"},
		{"a push whose changes is a string is malformed, naming the field", "repo:push",
			func(*testing.T) []byte { return []byte(`{"push": {"changes": "main"}}`) }, false, "push.changes is a JSON string, not an array"},
		{"a change with neither new nor old is malformed", "repo:push",
			func(t *testing.T) []byte { return pushBody(t, nil, change(nil, nil)) }, false, "neither new nor old"},
		{"a change naming no ref is malformed", "repo:push",
			func(t *testing.T) []byte { return pushBody(t, nil, change(nil, side("branch", "", sha1))) }, false, "names no ref"},
		{"a change whose new side has no target hash is malformed", "repo:push",
			func(t *testing.T) []byte { return pushBody(t, nil, change(branch(), side("branch", "main", ""))) }, false, "lacks a target hash"},
		{"a pull request body without a pullrequest object is malformed", "pullrequest:created",
			func(*testing.T) []byte { return []byte(`{"repository": {}}`) }, false, "no pullrequest object"},
		{"a pull request whose id is a string is malformed", "pullrequest:updated",
			func(t *testing.T) []byte { return prBody(t, prObject("id", "7")) }, false, "pullrequest.id is a JSON string, not a number"},
		{"a pull request with id 0 is malformed", "pullrequest:created",
			func(t *testing.T) []byte { return prBody(t, prObject("id", 0)) }, false, "not a positive 32-bit number"},
		{"a pull request without a source branch is malformed", "pullrequest:fulfilled",
			func(t *testing.T) []byte {
				return prBody(t, prObject("state", "MERGED", "source", obj{"commit": obj{"hash": "9e8d7c6b5a43"}}))
			}, false, "no source branch"},
		{"a pull request without a source commit is malformed", "pullrequest:rejected",
			func(t *testing.T) []byte {
				return prBody(t, prObject("state", "DECLINED", "source", obj{"branch": obj{"name": "x"}}))
			}, false, "no source commit"},
		{"an opened pull request's body sent as pullrequest:fulfilled is no merge", "pullrequest:fulfilled",
			func(t *testing.T) []byte { return prBody(t, prObject()) }, false, `pull request 7 is in state "OPEN", not MERGED`},
		{"a declined pull request's body sent as pullrequest:fulfilled is no merge", "pullrequest:fulfilled",
			func(t *testing.T) []byte { return prBody(t, prObject("state", "DECLINED")) }, false, `state "DECLINED", not MERGED`},
		{"a merged pull request's body sent as pullrequest:created opens nothing", "pullrequest:created",
			func(t *testing.T) []byte { return prBody(t, prObject("state", "MERGED")) }, false, `state "MERGED", not OPEN`},
		{"a merged pull request's body sent as pullrequest:rejected declines nothing", "pullrequest:rejected",
			func(t *testing.T) []byte { return prBody(t, prObject("state", "MERGED")) }, false, `state "MERGED", not DECLINED`},
		{"a pull request without a state is malformed", "pullrequest:updated",
			func(t *testing.T) []byte { return prBody(t, with(prObject(), "state", nil)) }, false, `state "", not OPEN`},
		{"the documentation's template state is no state Bitbucket sends", "pullrequest:created",
			func(t *testing.T) []byte { return prBody(t, prObject("state", "OPEN|MERGED|DECLINED")) }, false, `state "OPEN|MERGED|DECLINED", not OPEN`},
		{"a lower-case state is no state Bitbucket sends", "pullrequest:fulfilled",
			func(t *testing.T) []byte { return prBody(t, prObject("state", "merged")) }, false, `state "merged", not MERGED`},
		{"an approval of a merged pull request sent as pullrequest:fulfilled is malformed", "pullrequest:fulfilled",
			func(t *testing.T) []byte {
				return prBody(t, prObject("state", "MERGED"), "approval", obj{"date": "2025-03-24T16:20:37+00:00", "user": ana})
			}, false, `carries a top-level "approval"`},
		{"a comment on an open pull request sent as pullrequest:updated is malformed", "pullrequest:updated",
			func(t *testing.T) []byte {
				return prBody(t, prObject(), "comment", obj{"id": 17, "content": obj{"raw": "LGTM"}})
			}, false, `carries a top-level "comment"`},
		{"a change request sent as pullrequest:created is malformed", "pullrequest:created",
			func(t *testing.T) []byte {
				return prBody(t, prObject(), "changes_request", obj{"date": "2025-03-24T16:58:04+00:00", "user": ana})
			}, false, `carries a top-level "changes_request"`},
		{"a null comment still marks a comment's body", "pullrequest:created",
			func(t *testing.T) []byte {
				return []byte(`{"pullrequest": {"id": 7, "state": "OPEN"}, "comment": null}`)
			}, false, `carries a top-level "comment"`},
		{"a pull request body that also carries a push is malformed", "pullrequest:created",
			func(t *testing.T) []byte { return prBody(t, prObject(), "push", obj{"changes": []any{}}) }, false, `carries a top-level "push"`},
		{"a pull request body sent as repo:push has no push object", "repo:push",
			func(t *testing.T) []byte { return prBody(t, prObject()) }, false, "no push object"},
		{"a push body that also carries a pull request is malformed", "repo:push",
			func(t *testing.T) []byte {
				return pushBody(t, []any{"pullrequest", prObject()}, change(branch(), side("branch", "main", sha2)))
			}, false, `carries a top-level "pullrequest"`},
		{"a draft flag that is not a boolean is malformed", "pullrequest:created",
			func(t *testing.T) []byte { return prBody(t, prObject("draft", "yes")) }, false, "pullrequest.draft is a JSON string, not a boolean"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse(c.event, delivery, c.body(t))
			assert.Nil(t, got)
			reason := refusal(t, err, c.ignored)
			assert.Contains(t, reason, c.reason)
			assert.NotContains(t, reason, "\n", "reasons are one line")
			assert.NotContains(t, reason, "struct {", "reasons do not spell out Go types")
		})
	}
}

// refusal returns the reason of err, which must be *scm.IgnoredError when ignored is true and
// *scm.MalformedError otherwise.
func refusal(t *testing.T, err error, ignored bool) string {
	t.Helper()
	var ig *scm.IgnoredError
	var mal *scm.MalformedError
	switch {
	case ignored && errors.As(err, &ig):
		return ig.Reason
	case !ignored && errors.As(err, &mal):
		return mal.Reason
	}
	want := map[bool]string{true: "*scm.IgnoredError", false: "*scm.MalformedError"}[ignored]
	t.Fatalf("error is %T (%v), want %s", err, err, want)
	return ""
}

func TestReasonsStayOneLineWhateverTheInput(t *testing.T) {
	t.Parallel()
	_, err := Parse("repo:\nfork", delivery, nil)
	require.Error(t, err)
	assert.False(t, strings.Contains(err.Error(), "\n"), "got %q", err.Error())
}
