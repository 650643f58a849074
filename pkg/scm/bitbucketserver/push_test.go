package bitbucketserver

import (
	"testing"

	"github.com/stepline/stepline/pkg/scm"
)

func TestParseRefsChanged(t *testing.T) {
	t.Parallel()
	const ev = "repo:refs_changed"
	update := change("UPDATE", "BRANCH", "refs/heads/main", "main", shaA, shaB)
	with := func(e scm.Event, f func(*scm.Event)) scm.Event { f(&e); return e }
	mainPush := pushEvent(scm.KindPush, "refs/heads/main", "main", "", shaA, shaB)

	runParseCases(t, []parseCase{
		{
			name: "a branch update is a push neither created nor deleted", event: ev,
			body: refsChanged([]any{update}),
			want: []scm.Event{mainPush},
		},
		{
			name: "a new branch is a created push that keeps the all-zero before", event: ev,
			body: refsChanged([]any{change("ADD", "BRANCH", "refs/heads/feature/x", "feature/x", scm.ZeroSHA, shaB)}),
			want: []scm.Event{with(pushEvent(scm.KindPush, "refs/heads/feature/x", "feature/x", "", scm.ZeroSHA, shaB), func(e *scm.Event) { e.Created = true })},
		},
		{
			name: "a deleted branch is a deleted push that keeps the all-zero after", event: ev,
			body: refsChanged([]any{change("DELETE", "BRANCH", "refs/heads/old", "old", shaA, scm.ZeroSHA)}),
			want: []scm.Event{with(pushEvent(scm.KindPush, "refs/heads/old", "old", "", shaA, scm.ZeroSHA), func(e *scm.Event) { e.Deleted = true })},
		},
		{
			name: "a new tag is a created tag event named by its displayId", event: ev,
			body: refsChanged([]any{change("ADD", "TAG", "refs/tags/v1.2.0", "v1.2.0", scm.ZeroSHA, shaB)}),
			want: []scm.Event{with(pushEvent(scm.KindTag, "refs/tags/v1.2.0", "", "v1.2.0", scm.ZeroSHA, shaB), func(e *scm.Event) { e.Created = true })},
		},
		{
			name: "a deleted tag is a deleted tag event", event: ev,
			body: refsChanged([]any{change("DELETE", "TAG", "refs/tags/v1", "v1", shaA, scm.ZeroSHA)}),
			want: []scm.Event{with(pushEvent(scm.KindTag, "refs/tags/v1", "", "v1", shaA, scm.ZeroSHA), func(e *scm.Event) { e.Deleted = true })},
		},
		{
			name: "several changes become events in payload order", event: ev,
			body: refsChanged([]any{
				change("DELETE", "BRANCH", "refs/heads/old", "old", shaA, scm.ZeroSHA),
				update,
				change("ADD", "TAG", "refs/tags/v2", "v2", scm.ZeroSHA, shaB),
			}),
			want: []scm.Event{
				with(pushEvent(scm.KindPush, "refs/heads/old", "old", "", shaA, scm.ZeroSHA), func(e *scm.Event) { e.Deleted = true }),
				mainPush,
				with(pushEvent(scm.KindTag, "refs/tags/v2", "", "v2", scm.ZeroSHA, shaB), func(e *scm.Event) { e.Created = true }),
			},
		},
		{
			name: "a ref without a type or displayId is classified and named by its id", event: ev,
			body: refsChanged([]any{obj{"ref": obj{"id": "refs/tags/v3"}, "fromHash": shaA, "toHash": shaB, "type": "UPDATE"}}),
			want: []scm.Event{pushEvent(scm.KindTag, "refs/tags/v3", "", "v3", shaA, shaB)},
		},
		{
			name: "a change with only the older refId still names its ref", event: ev,
			body: refsChanged([]any{obj{"refId": "refs/heads/main", "fromHash": shaA, "toHash": shaB, "type": "UPDATE"}}),
			want: []scm.Event{mainPush},
		},
		{
			name: "the clone URL is the http link even when ssh comes first", event: ev,
			body: refsChanged([]any{update}),
			want: []scm.Event{mainPush},
		},
		{
			name: "a repository without links has no clone URL", event: ev,
			body: refsChanged([]any{update}, func(p obj) { delete(p["repository"].(obj), "links") }),
			want: []scm.Event{with(mainPush, func(e *scm.Event) { e.Repository.CloneURL = "" })},
		},
		{
			name: "links of an unexpected shape give no clone URL instead of an error", event: ev,
			body: refsChanged([]any{update}, func(p obj) { p["repository"].(obj)["links"] = obj{"clone": []any{nil, "x", obj{"name": 1}}} }),
			want: []scm.Event{with(mainPush, func(e *scm.Event) { e.Repository.CloneURL = "" })},
		},
		{
			name: "a personal project's key is part of the full name", event: ev,
			body: refsChanged([]any{update}, func(p obj) { p["repository"].(obj)["project"] = obj{"key": "~jdoe", "type": "PERSONAL"} }),
			want: []scm.Event{with(mainPush, func(e *scm.Event) { e.Repository.FullName = "~jdoe/repository" })},
		},
		{
			name: "a default branch given by name is kept", event: ev,
			body: refsChanged([]any{update}, func(p obj) { p["repository"].(obj)["defaultBranch"] = "refs/heads/develop" }),
			want: []scm.Event{with(mainPush, func(e *scm.Event) { e.Repository.DefaultBranch = "develop" })},
		},
		{
			name: "a default branch given as a branch object gives its displayId", event: ev,
			body: refsChanged([]any{update}, func(p obj) {
				p["repository"].(obj)["defaultBranch"] = obj{"id": "refs/heads/develop", "displayId": "develop"}
			}),
			want: []scm.Event{with(mainPush, func(e *scm.Event) { e.Repository.DefaultBranch = "develop" })},
		},
		{
			name: "a default branch of an unknown shape is left empty", event: ev,
			body: refsChanged([]any{update}, func(p obj) { p["repository"].(obj)["defaultBranch"] = 42 }),
			want: []scm.Event{mainPush},
		},
		{
			name: "the sender falls back to the display name when the user name is missing", event: ev,
			body: refsChanged([]any{update}, func(p obj) { delete(p["actor"].(obj), "name") }),
			want: []scm.Event{with(mainPush, func(e *scm.Event) { e.Sender = "Jane Doe" })},
		},
		{
			name: "commits the payload lists are not read, so files stay unknown", event: ev,
			body: refsChanged([]any{update}, func(p obj) { p["commits"] = []any{obj{"id": shaB, "message": "m"}} }),
			want: []scm.Event{mainPush},
		},
		{
			name: "invalid JSON is malformed", event: ev,
			body: []byte(`{"changes": [`), malform: "invalid JSON",
		},
		{
			name: "an empty body is malformed", event: ev,
			body: nil, malform: "the body is empty",
		},
		{
			name: "changes that are not an array are malformed and say so in JSON terms", event: ev,
			body: refsChanged(nil, func(p obj) { p["changes"] = "main" }), malform: "changes is a JSON string, not an array",
		},
		{
			name: "a date in another layout is malformed", event: ev,
			body: refsChanged([]any{update}, func(p obj) { p["date"] = "yesterday" }), malform: `date "yesterday" is not in Data Center's layout`,
		},
		{
			name: "a push without changes is malformed", event: ev,
			body: refsChanged([]any{}), malform: "lists no changes",
		},
		{
			name: "a change without a ref is malformed", event: ev,
			body: refsChanged([]any{obj{"fromHash": shaA, "toHash": shaB, "type": "UPDATE"}}), malform: "changes[0] names no ref",
		},
		{
			name: "a change without hashes is malformed", event: ev,
			body: refsChanged([]any{change("UPDATE", "BRANCH", "refs/heads/main", "main", "", shaB)}), malform: "lacks fromHash or toHash",
		},
		{
			name: "a change of an unknown type is malformed", event: ev,
			body: refsChanged([]any{update, change("RENAME", "BRANCH", "refs/heads/x", "x", shaA, shaB)}), malform: `changes[1] ("refs/heads/x") has type "RENAME"`,
		},
		{
			name: "a repository without a project key is malformed", event: ev,
			body: refsChanged([]any{update}, func(p obj) { delete(p["repository"].(obj), "project") }), malform: "no project key or slug",
		},
		{
			name: "a body whose eventKey is another event than the header is malformed", event: ev,
			body: refsChanged([]any{update}, func(p obj) { p["eventKey"] = "repo:modified" }), malform: `the body is a "repo:modified" delivery`,
		},
	})
}
