package bitbucketserver

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/scm"
)

func TestParsePullRequest(t *testing.T) {
	t.Parallel()
	retarget := func(p, pr obj) {
		p["previousTarget"] = obj{"id": "refs/heads/main", "displayId": "main", "type": "BRANCH", "latestCommit": shaC}
		pr["toRef"] = obj{"id": "refs/heads/release/2", "displayId": "release/2", "latestCommit": shaA, "repository": testRepo()}
	}
	runParseCases(t, []parseCase{
		{
			name: "pr:opened is an opened pull request of the target repository", event: "pr:opened",
			body: pullRequest("pr:opened"),
			want: []scm.Event{prEventOf(scm.PROpened, nil)},
		},
		{
			name: "pr:from_ref_updated is updated, with the previous source commit as before", event: "pr:from_ref_updated",
			body: pullRequest("pr:from_ref_updated", func(p, _ obj) { p["previousFromHash"] = shaD }),
			want: []scm.Event{prEventOf(scm.PRUpdated, func(e *scm.Event) { e.Before = shaD })},
		},
		{
			name: "pr:merged is merged", event: "pr:merged",
			body: pullRequest("pr:merged", func(_, pr obj) { pr["state"] = "MERGED" }),
			want: []scm.Event{prEventOf(scm.PRMerged, nil)},
		},
		{
			name: "pr:declined is closed", event: "pr:declined",
			body: pullRequest("pr:declined"),
			want: []scm.Event{prEventOf(scm.PRClosed, nil)},
		},
		{
			name: "pr:deleted is closed", event: "pr:deleted",
			body: pullRequest("pr:deleted"),
			want: []scm.Event{prEventOf(scm.PRClosed, nil)},
		},
		{
			name: "a draft pull request says it is a draft", event: "pr:opened",
			body: pullRequest("pr:opened", func(_, pr obj) { pr["draft"] = true }),
			want: []scm.Event{prEventOf(scm.PROpened, func(e *scm.Event) { e.PullRequest.Draft = true })},
		},
		{
			name: "a pull request from a fork belongs to the target repository", event: "pr:opened",
			body: pullRequest("pr:opened", func(_, pr obj) {
				fork := testRepo()
				fork["project"] = obj{"key": "~jdoe"}
				pr["fromRef"].(obj)["repository"] = fork
			}),
			want: []scm.Event{prEventOf(scm.PROpened, func(e *scm.Event) { e.PullRequest.Fork = true })},
		},
		{
			name: "the target's default branch is read from the target repository", event: "pr:opened",
			body: pullRequest("pr:opened", func(_, pr obj) { pr["toRef"].(obj)["repository"].(obj)["defaultBranch"] = "main" }),
			want: []scm.Event{prEventOf(scm.PROpened, func(e *scm.Event) { e.Repository.DefaultBranch = "main" })},
		},
		{
			name: "pr:modified that retargets the pull request is updated against the new target", event: "pr:modified",
			body: pullRequest("pr:modified", retarget),
			want: []scm.Event{prEventOf(scm.PRUpdated, func(e *scm.Event) {
				e.Before = shaB
				e.PullRequest.TargetBranch, e.PullRequest.BaseSHA = "release/2", shaA
			})},
		},
		{
			name: "pr:modified of the title alone is ignored", event: "pr:modified",
			body: pullRequest("pr:modified", func(p, _ obj) {
				p["previousTitle"] = "WIP"
				p["previousTarget"] = obj{"id": "refs/heads/main", "displayId": "main"}
			}),
			ignored: `"pr:modified" changed the pull request but not its target branch`,
		},
		{
			name: "pr:modified without a previous target is ignored", event: "pr:modified",
			body: pullRequest("pr:modified"), ignored: "not its target branch",
		},
		{
			name: "pr:modified with invalid JSON is malformed, not ignored", event: "pr:modified",
			body: []byte("{"), malform: "pr:modified",
		},
		{
			name: "pr:from_ref_updated without previousFromHash is malformed", event: "pr:from_ref_updated",
			body: pullRequest("pr:from_ref_updated"), malform: "no previousFromHash",
		},
		{
			name: "a pull request without an id is malformed", event: "pr:opened",
			body: pullRequest("pr:opened", func(_, pr obj) { delete(pr, "id") }), malform: "no valid id",
		},
		{
			name: "a negative pull request id is malformed", event: "pr:opened",
			body: pullRequest("pr:opened", func(_, pr obj) { pr["id"] = -1 }), malform: "no valid id",
		},
		{
			name: "a pull request without a target ref is malformed", event: "pr:merged",
			body: pullRequest("pr:merged", func(_, pr obj) { delete(pr, "toRef") }), malform: "no fromRef or toRef id",
		},
		{
			name: "a pull request without a source commit is malformed", event: "pr:declined",
			body: pullRequest("pr:declined", func(_, pr obj) { delete(pr["fromRef"].(obj), "latestCommit") }), malform: "no latestCommit",
		},
		{
			name: "a pull request whose target names no repository is malformed", event: "pr:opened",
			body: pullRequest("pr:opened", func(_, pr obj) { delete(pr["toRef"].(obj), "repository") }), malform: "no project key or slug",
		},
		{
			name: "a draft flag that is not a boolean is malformed", event: "pr:opened",
			body: pullRequest("pr:opened", func(_, pr obj) { pr["draft"] = "yes" }), malform: "pullRequest.draft is a JSON string, not a boolean",
		},
		{
			name: "a signed pr:declined body sent as pr:opened is malformed", event: "pr:opened",
			body: pullRequest("pr:declined"), malform: `the body is a "pr:declined" delivery`,
		},
	})
}

func TestForkPullRequests(t *testing.T) {
	t.Parallel()
	from := func(branch string, repo func(obj)) func(p, pr obj) {
		return func(_, pr obj) {
			r := testRepo()
			if repo != nil {
				repo(r)
			}
			pr["fromRef"] = obj{"id": "refs/heads/" + branch, "displayId": branch, "latestCommit": shaB, "repository": r}
		}
	}
	cases := []struct {
		name   string
		mod    func(p, pr obj)
		branch string
		fork   bool
	}{
		{"a branch of the target repository is no fork", from("feature/login", nil), "feature/login", false},
		{"a branch of a personal fork is a fork", from("feature/login", func(r obj) { r["project"] = obj{"key": "~jdoe"} }), "feature/login", true},
		{"a branch of a repository with another slug in the same project is a fork",
			from("feature/login", func(r obj) { r["slug"] = "repository-fork" }), "feature/login", true},
		{"a fork's branch named main is a fork's, and its ref is the pull request's",
			from("main", func(r obj) { r["project"] = obj{"key": "~jdoe"} }), "main", true},
		{"a source that names no repository is taken for a fork",
			func(_, pr obj) { delete(pr["fromRef"].(obj), "repository") }, "feature/login", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			evs, err := Parse("pr:opened", dlv, pullRequest("pr:opened", c.mod))
			require.NoError(t, err)
			require.Len(t, evs, 1)
			ev := evs[0]
			assert.Equal(t, c.fork, ev.PullRequest.Fork)
			assert.Equal(t, "refs/pull-requests/7/from", ev.Ref, "the ref is Data Center's pull request ref, never a branch of ours")
			assert.Equal(t, c.branch, ev.Branch)
			assert.Equal(t, c.branch, ev.PullRequest.SourceBranch)
			assert.Equal(t, "PROJ/repository", ev.Repository.FullName)
		})
	}
}

func TestParseIgnoresWhatStartsNothing(t *testing.T) {
	t.Parallel()
	garbage := []byte("not json at all")
	runParseCases(t, []parseCase{
		{name: "a review is ignored without reading the body", event: "pr:reviewer:approved", body: garbage, ignored: `"pr:reviewer:approved" is a review`},
		{name: "a changes-requested review is ignored", event: "pr:reviewer:changes_requested", body: garbage, ignored: `"pr:reviewer:changes_requested" is a review`},
		{name: "a pull request comment is ignored", event: "pr:comment:added", body: garbage, ignored: `"pr:comment:added" is a comment`},
		{name: "a commit comment is ignored", event: "repo:comment:edited", body: garbage, ignored: `"repo:comment:edited" is a comment`},
		{name: "a repository rename is ignored", event: "repo:modified", body: garbage, ignored: `"repo:modified"`},
		{name: "a fork is ignored", event: "repo:forked", body: garbage, ignored: `"repo:forked" is a fork`},
		{name: "a mirror synchronisation is ignored", event: "mirror:repo_synchronized", body: garbage, ignored: `"mirror:repo_synchronized"`},
		{name: "an unknown key is ignored and named", event: "project:modified", body: garbage, ignored: `"project:modified" is not an event stepline handles`},
		{name: "a Bitbucket Cloud key is ignored", event: "repo:push", body: garbage, ignored: `"repo:push"`},
		{name: "an empty key is ignored", event: "", body: garbage, ignored: "empty X-Event-Key"},
	})
}

func TestParsePing(t *testing.T) {
	t.Parallel()
	want := []scm.Event{{Provider: scm.BitbucketServer, Kind: scm.KindPing, Delivery: dlv}}
	runParseCases(t, []parseCase{
		{name: "test connection's body gives one ping", event: "diagnostics:ping", body: []byte(`{"test": true}`), want: want},
		{name: "an empty body still gives one ping", event: "diagnostics:ping", body: nil, want: want},
		{name: "a body that is not JSON still gives one ping", event: "diagnostics:ping", body: []byte("ping"), want: want},
	})
}

func TestParserSatisfiesScmParser(t *testing.T) {
	t.Parallel()
	var p scm.Parser = Parser{}
	body := refsChanged([]any{
		change("UPDATE", "BRANCH", "refs/heads/main", "main", shaA, shaB),
		change("ADD", "TAG", "refs/tags/v1", "v1", scm.ZeroSHA, shaB),
	})
	evs, err := p.Parse("repo:refs_changed", "delivery-42", body)
	require.NoError(t, err)
	require.Len(t, evs, 2)
	for _, ev := range evs {
		assert.Equal(t, "delivery-42", ev.Delivery, "the delivery is copied into every event")
	}
	assert.NotEqual(t, scm.Key(scm.BitbucketServer, body, 0, 2), scm.Key(scm.BitbucketServer, body, 1, 2), "the refs of one delivery get different keys")
}

// TestUnreadFieldsNeverRefuseAPullRequest: Data Center 10 sends a pull request's dates as
// ISO-8601 strings where 9 sent epoch milliseconds, and refuses nothing it does not read.
func TestUnreadFieldsNeverRefuseAPullRequest(t *testing.T) {
	t.Parallel()
	unread := map[string]func(p, pr obj){
		"Data Center 10's ISO-8601 createdDate, updatedDate and closedDate": func(_, pr obj) {
			pr["createdDate"], pr["updatedDate"], pr["closedDate"] = "2026-03-01T09:37:14Z", "2026-03-01T10:37:14.120+01:00", "2026-03-02T08:00:00Z"
		},
		"Data Center 9's epoch milliseconds":    func(_, pr obj) { pr["createdDate"], pr["updatedDate"] = 1772357834000, 1772357834000 },
		"a null closedDate":                     func(_, pr obj) { pr["closedDate"] = nil },
		"a delivery date in ISO-8601 with Z":    func(p, _ obj) { p["date"] = "2026-03-01T09:37:14.000Z" },
		"a version sent as a string":            func(_, pr obj) { pr["version"] = "3" },
		"open and closed flags sent as strings": func(_, pr obj) { pr["open"], pr["closed"], pr["locked"] = "true", "false", nil },
		"an author of another shape":            func(_, pr obj) { pr["author"] = "jdoe" },
		"reviewers and participants that are objects, not arrays": func(_, pr obj) {
			pr["reviewers"], pr["participants"] = obj{}, obj{"user": "x"}
		},
		"properties of an unexpected shape": func(_, pr obj) { pr["properties"] = []any{1, "two"} },
		"a repository id of another type": func(_, pr obj) {
			pr["toRef"].(obj)["repository"].(obj)["id"] = "84"
			pr["fromRef"].(obj)["repository"].(obj)["project"].(obj)["id"] = nil
		},
		"an actor id sent as a string": func(p, _ obj) { p["actor"].(obj)["id"] = "3" },
	}
	for name, mod := range unread {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse("pr:opened", dlv, pullRequest("pr:opened", mod))
			require.NoError(t, err)
			assert.Equal(t, []scm.Event{prEventOf(scm.PROpened, nil)}, got)
		})
	}
}

func TestAPullRequestIdThatIsNoIntegerIsMalformed(t *testing.T) {
	t.Parallel()
	runParseCases(t, []parseCase{{
		name: "a fractional id is malformed and named in JSON terms", event: "pr:opened",
		body: pullRequest("pr:opened", func(_, pr obj) { pr["id"] = 7.5 }), malform: "pullRequest.id is a JSON number 7.5, not an integer",
	}})
}
