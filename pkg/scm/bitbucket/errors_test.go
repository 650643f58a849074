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
		{"a commit date that is not a time is malformed", "repo:push",
			func(t *testing.T) []byte {
				return pushBody(t, nil, change(nil, with(branch(), "target", obj{"hash": sha1, "date": "yesterday"})))
			}, false, "repo:push"},
		{"a pull request body without a pullrequest object is malformed", "pullrequest:created",
			func(*testing.T) []byte { return []byte(`{"repository": {}}`) }, false, "no pullrequest object"},
		{"a pull request whose id is a string is malformed", "pullrequest:updated",
			func(t *testing.T) []byte { return prBody(t, prObject("id", "7")) }, false, "pullrequest.id is a JSON string, not a number"},
		{"a pull request with id 0 is malformed", "pullrequest:created",
			func(t *testing.T) []byte { return prBody(t, prObject("id", 0)) }, false, "not positive"},
		{"a pull request without a source branch is malformed", "pullrequest:fulfilled",
			func(t *testing.T) []byte {
				return prBody(t, prObject("source", obj{"commit": obj{"hash": "9e8d7c6b5a43"}}))
			}, false, "no source branch"},
		{"a pull request without a source commit is malformed", "pullrequest:rejected",
			func(t *testing.T) []byte { return prBody(t, prObject("source", obj{"branch": obj{"name": "x"}})) }, false, "no source commit"},
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
