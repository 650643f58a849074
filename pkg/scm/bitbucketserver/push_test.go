package bitbucketserver

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
			name: "a push without changes is ignored, not refused", event: ev,
			body: refsChanged([]any{}), ignored: "lists no changes",
		},
		{
			name: "a push whose changes are null is ignored", event: ev,
			body: refsChanged(nil), ignored: "lists no changes",
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

// TestUnreadFieldsNeverRefuseAPush pins the rule that a field stepline does not read is never
// decoded: Data Center changes their types between versions (10.x sends ISO-8601 dates where
// 9.x sent epoch milliseconds) and never retries a refused delivery.
func TestUnreadFieldsNeverRefuseAPush(t *testing.T) {
	t.Parallel()
	const ev = "repo:refs_changed"
	update := change("UPDATE", "BRANCH", "refs/heads/main", "main", shaA, shaB)
	mainPush := pushEvent(scm.KindPush, "refs/heads/main", "main", "", shaA, shaB)
	unread := map[string]func(obj){
		"an ISO-8601 date with milliseconds and Z":   func(p obj) { p["date"] = "2026-03-01T09:37:14.123Z" },
		"a date in epoch milliseconds":               func(p obj) { p["date"] = 1772357834123 },
		"a date in words":                            func(p obj) { p["date"] = "yesterday" },
		"a null date":                                func(p obj) { p["date"] = nil },
		"an actor id sent as a string":               func(p obj) { p["actor"].(obj)["id"] = "3" },
		"an actor whose active flag is a string":     func(p obj) { p["actor"].(obj)["active"] = "true" },
		"a repository id sent as a string":           func(p obj) { p["repository"].(obj)["id"] = "84" },
		"a repository whose public flag is null":     func(p obj) { p["repository"].(obj)["public"] = nil },
		"a repository whose forkable flag is \"no\"": func(p obj) { p["repository"].(obj)["forkable"] = "no" },
		"a project id that does not fit an integer":  func(p obj) { p["repository"].(obj)["project"].(obj)["id"] = 1.5 },
		"a project whose public flag is a string":    func(p obj) { p["repository"].(obj)["project"].(obj)["public"] = "false" },
		"a toCommit of another shape":                func(p obj) { p["toCommit"] = "178864a7d521" },
		"a commit's timestamps in ISO-8601": func(p obj) {
			p["commits"] = []any{obj{"id": shaB, "message": "m", "authorTimestamp": "2026-03-01T09:37:14Z", "committerTimestamp": nil}}
		},
	}
	for name, mod := range unread {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse(ev, dlv, refsChanged([]any{update}, mod))
			require.NoError(t, err)
			require.Len(t, got, 1)
			got[0].Commits = nil
			assert.Equal(t, mainPush, got[0])
		})
	}
}

// dcCommit is an entry of repo:refs_changed's commits, as Data Center 9 and 10 send it: the
// author a Data Center user when it knows the address, else git's name and address.
func dcCommit(id, message, author string, parents ...string) obj {
	ps := make([]any, 0, len(parents))
	for _, p := range parents {
		ps = append(ps, obj{"id": p, "displayId": p[:11]})
	}
	return obj{
		"id": id, "displayId": id[:11], "message": message,
		"author":          obj{"name": author, "emailAddress": author + "@example.com"},
		"authorTimestamp": 1772357834000, "committer": obj{"name": author, "emailAddress": author + "@example.com"},
		"committerTimestamp": 1772357834000, "parents": ps,
	}
}

func TestPushCommitsCarrySkipMarkers(t *testing.T) {
	t.Parallel()
	const ev = "repo:refs_changed"
	with := func(e scm.Event, f func(*scm.Event)) scm.Event { f(&e); return e }
	update := change("UPDATE", "BRANCH", "refs/heads/main", "main", shaA, shaB)
	tag := change("ADD", "TAG", "refs/tags/v1", "v1", scm.ZeroSHA, shaD)
	mainPush := pushEvent(scm.KindPush, "refs/heads/main", "main", "", shaA, shaB)
	runParseCases(t, []parseCase{
		{
			name: "the listed commits of a push are its commits, oldest first", event: ev,
			body: refsChanged([]any{update}, func(p obj) {
				p["commits"] = []any{dcCommit(shaB, "Fix the build [skip ci]", "jdoe", shaC), dcCommit(shaC, "Add a test", "asmith", shaA)}
			}),
			want: []scm.Event{with(mainPush, func(e *scm.Event) {
				e.Commits = []scm.Commit{{ID: shaC, Message: "Add a test", Author: "asmith"}, {ID: shaB, Message: "Fix the build [skip ci]", Author: "jdoe"}}
			})},
		},
		{
			name: "a commit author Data Center knows is named by its user name", event: ev,
			body: refsChanged([]any{update}, func(p obj) {
				c := dcCommit(shaB, "m", "x", shaA)
				c["author"] = obj{"name": "jdoe", "displayName": "Jane Doe", "emailAddress": "jdoe@example.com", "id": 3, "active": true, "slug": "jdoe", "type": "NORMAL"}
				p["commits"] = []any{c}
			}),
			want: []scm.Event{with(mainPush, func(e *scm.Event) { e.Commits = []scm.Commit{{ID: shaB, Message: "m", Author: "jdoe"}} })},
		},
		{
			name: "each change of several gets the commits its head reaches", event: ev,
			body: refsChanged([]any{update, tag}, func(p obj) {
				p["commits"] = []any{dcCommit(shaD, "Release 1 [ci skip]", "jdoe", shaB), dcCommit(shaB, "Fix", "jdoe", shaA)}
			}),
			want: []scm.Event{
				with(mainPush, func(e *scm.Event) { e.Commits = []scm.Commit{{ID: shaB, Message: "Fix", Author: "jdoe"}} }),
				with(pushEvent(scm.KindTag, "refs/tags/v1", "", "v1", scm.ZeroSHA, shaD), func(e *scm.Event) {
					e.Created = true
					e.Commits = []scm.Commit{{ID: shaB, Message: "Fix", Author: "jdoe"}, {ID: shaD, Message: "Release 1 [ci skip]", Author: "jdoe"}}
				}),
			},
		},
		{
			name: "a listed commit no change reaches is left out", event: ev,
			body: refsChanged([]any{update}, func(p obj) { p["commits"] = []any{dcCommit(shaD, "elsewhere", "jdoe", shaC)} }),
			want: []scm.Event{mainPush},
		},
		{
			name: "a deleted ref has no commits", event: ev,
			body: refsChanged([]any{change("DELETE", "BRANCH", "refs/heads/old", "old", shaA, scm.ZeroSHA)}, func(p obj) {
				p["commits"] = []any{dcCommit(shaA, "m", "jdoe", shaC)}
			}),
			want: []scm.Event{with(pushEvent(scm.KindPush, "refs/heads/old", "old", "", shaA, scm.ZeroSHA), func(e *scm.Event) { e.Deleted = true })},
		},
		{
			name: "a commit without an id is malformed", event: ev,
			body: refsChanged([]any{update}, func(p obj) { p["commits"] = []any{obj{"message": "m"}} }), malform: "commits[0] has no id",
		},
		{
			name: "commits that are not an array are malformed", event: ev,
			body: refsChanged([]any{update}, func(p obj) { p["commits"] = "none" }), malform: "commits is a JSON string, not an array",
		},
	})
}
