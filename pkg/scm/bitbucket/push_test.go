package bitbucket

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/scm"
)

const delivery = "7a5c1f3e-8b2d-4e6f-9a0b-1c2d3e4f5a6b"

// branchEvent is the event of a change of branch; when the branch has a new side, its
// target is named as the head commit, as side() sends it: a hash without message or author.
func branchEvent(branch, before, after string, edit ...func(*scm.Event)) scm.Event {
	e := scm.Event{
		Provider: scm.Bitbucket, Kind: scm.KindPush, Delivery: delivery, Repository: widgetsR,
		Ref: scm.BranchRef(branch), Branch: branch, Before: before, After: after, Sender: "aruiz",
	}
	if after != "" {
		e.Commits = []scm.Commit{{ID: after}}
	}
	for _, f := range edit {
		f(&e)
	}
	return e
}

func tagEvent(tag, before, after string, edit ...func(*scm.Event)) scm.Event {
	e := branchEvent("", before, after, edit...)
	e.Kind, e.Ref, e.Branch, e.Tag = scm.KindTag, scm.TagRef(tag), "", tag
	return e
}

func TestParsePush(t *testing.T) {
	t.Parallel()
	created := func(e *scm.Event) { e.Created = true }
	deleted := func(e *scm.Event) { e.Deleted = true }
	cases := []struct {
		name string
		body func(t *testing.T) []byte
		want []scm.Event
	}{
		{
			"a branch update is a push event from the old to the new target hash",
			func(t *testing.T) []byte {
				return pushBody(t, nil, change(side("branch", "main", sha1), side("branch", "main", sha2)))
			},
			[]scm.Event{branchEvent("main", sha1, sha2)},
		},
		{
			"a new branch (old is null) is created, with no before hash",
			func(t *testing.T) []byte { return pushBody(t, nil, change(nil, side("branch", "feature/x", sha2))) },
			[]scm.Event{branchEvent("feature/x", "", sha2, created)},
		},
		{
			"a deleted branch (new is null) takes its name, type and hash from old",
			func(t *testing.T) []byte { return pushBody(t, nil, change(side("branch", "old-login", sha1), nil)) },
			[]scm.Event{branchEvent("old-login", sha1, "", deleted)},
		},
		{
			"a tag is a tag event under refs/tags",
			func(t *testing.T) []byte { return pushBody(t, nil, change(nil, side("tag", "v1.2.0", sha2))) },
			[]scm.Event{tagEvent("v1.2.0", "", sha2, created)},
		},
		{
			"an annotated_tag ref is a tag event too",
			func(t *testing.T) []byte { return pushBody(t, nil, change(nil, side("annotated_tag", "v2", sha2))) },
			[]scm.Event{tagEvent("v2", "", sha2, created)},
		},
		{
			"a deleted tag is a deleted tag event",
			func(t *testing.T) []byte { return pushBody(t, nil, change(side("tag", "v0", sha1), nil)) },
			[]scm.Event{tagEvent("v0", sha1, "", deleted)},
		},
		{
			"a null new side means deleted even when the closed flag is missing",
			func(t *testing.T) []byte {
				return pushBody(t, nil, obj{"old": side("branch", "gone", sha1), "new": nil})
			},
			[]scm.Event{branchEvent("gone", sha1, "", deleted)},
		},
		{
			"a null old side means created even when the created flag is false",
			func(t *testing.T) []byte {
				return pushBody(t, nil, change(nil, side("branch", "fresh", sha2), "created", false))
			},
			[]scm.Event{branchEvent("fresh", "", sha2, created)},
		},
		{
			"a forced update is marked forced",
			func(t *testing.T) []byte {
				return pushBody(t, nil, change(side("branch", "main", sha1), side("branch", "main", sha2), "forced", true))
			},
			[]scm.Event{branchEvent("main", sha1, sha2, func(e *scm.Event) { e.Forced = true })},
		},
		{
			"the created and closed flags are honoured even with both sides present",
			func(t *testing.T) []byte {
				return pushBody(t, nil, change(side("branch", "main", sha1), side("branch", "main", sha2), "created", true, "closed", true))
			},
			[]scm.Event{branchEvent("main", sha1, sha2, created, deleted)},
		},
		{
			"several ref changes in one delivery are several events in payload order",
			func(t *testing.T) []byte {
				return pushBody(t, nil,
					change(side("branch", "main", sha1), side("branch", "main", sha2)),
					change(nil, side("tag", "v1", sha2)),
					change(side("branch", "gone", sha3), nil))
			},
			[]scm.Event{branchEvent("main", sha1, sha2), tagEvent("v1", "", sha2, created), branchEvent("gone", sha3, "", deleted)},
		},
		{
			"commits come oldest first, though Bitbucket lists the newest first",
			func(t *testing.T) []byte {
				return pushBody(t, nil, change(side("branch", "main", sha1), side("branch", "main", sha3), "commits", []any{
					commitJSON(sha3, "second\n", obj{"raw": "Ana Ruiz <ana@acme.example>", "user": ana}),
					commitJSON(sha2, "first\n", obj{"raw": "Ana Ruiz <ana@acme.example>", "user": ana}),
				}))
			},
			[]scm.Event{branchEvent("main", sha1, sha3, func(e *scm.Event) {
				e.Commits = []scm.Commit{{ID: sha2, Message: "first\n", Author: "aruiz"}, {ID: sha3, Message: "second\n", Author: "aruiz"}}
			})},
		},
		{
			"a truncated commit list is kept as far as it goes",
			func(t *testing.T) []byte {
				return pushBody(t, nil, change(side("branch", "main", sha1), side("branch", "main", sha3), "truncated", true,
					"commits", []any{commitJSON(sha3, "newest\n", obj{"raw": "Ana <a@x>"})}))
			},
			[]scm.Event{branchEvent("main", sha1, sha3, func(e *scm.Event) {
				e.Commits = []scm.Commit{{ID: sha3, Message: "newest\n", Author: "Ana"}}
			})},
		},
		{
			"the sender is the actor's display name when it has no nickname",
			func(t *testing.T) []byte {
				return pushBody(t, []any{"actor", obj{"display_name": "Ana Ruiz", "account_id": "557058:ana"}},
					change(side("branch", "main", sha1), side("branch", "main", sha2)))
			},
			[]scm.Event{branchEvent("main", sha1, sha2, func(e *scm.Event) { e.Sender = "Ana Ruiz" })},
		},
		{
			"the sender is the actor's account id when it has no name at all",
			func(t *testing.T) []byte {
				return pushBody(t, []any{"actor", obj{"account_id": "557058:ana"}},
					change(side("branch", "main", sha1), side("branch", "main", sha2)))
			},
			[]scm.Event{branchEvent("main", sha1, sha2, func(e *scm.Event) { e.Sender = "557058:ana" })},
		},
		{
			"the default branch is the repository's mainbranch when the payload has one",
			func(t *testing.T) []byte {
				return pushBody(t, []any{"repository", with(widgets, "mainbranch", obj{"type": "branch", "name": "trunk"})},
					change(side("branch", "main", sha1), side("branch", "main", sha2)))
			},
			[]scm.Event{branchEvent("main", sha1, sha2, func(e *scm.Event) { e.Repository.DefaultBranch = "trunk" })},
		},
		{
			"a repository without a web link has no clone URL",
			func(t *testing.T) []byte {
				return pushBody(t, []any{"repository", obj{"full_name": "acme/widgets"}},
					change(side("branch", "main", sha1), side("branch", "main", sha2)))
			},
			[]scm.Event{branchEvent("main", sha1, sha2, func(e *scm.Event) { e.Repository.CloneURL = "" })},
		},
		{
			"a change of a ref that is neither branch nor tag is skipped",
			func(t *testing.T) []byte {
				return pushBody(t, nil,
					change(side("named_branch", "default", sha1), side("named_branch", "default", sha2)),
					change(side("branch", "main", sha1), side("branch", "main", sha2)))
			},
			[]scm.Event{branchEvent("main", sha1, sha2)},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse("repo:push", delivery, c.body(t))
			require.NoError(t, err)
			assert.Equal(t, c.want, got)
		})
	}
}

func TestTheHeadCommitIsNamedWhenThePushListsItNot(t *testing.T) {
	t.Parallel()
	target := func(hash, msg string, author obj) obj {
		return obj{"type": "commit", "hash": hash, "message": msg, "author": author}
	}
	newSide := func(typ, name string, tgt obj) obj { return obj{"type": typ, "name": name, "target": tgt} }
	release := target(sha2, "Release 2.0 [skip ci]\n", obj{"raw": "Ana Ruiz <ana@acme.example>", "type": "author", "user": ana})
	cases := []struct {
		name    string
		change  obj
		commits []scm.Commit
		message string // the event's HeadMessage
	}{
		{"a new tag lists no commits, so its target is named",
			change(nil, newSide("tag", "v2.0.0", release)),
			[]scm.Commit{{ID: sha2, Message: "Release 2.0 [skip ci]\n", Author: "aruiz"}}, "Release 2.0 [skip ci]\n"},
		{"an annotated tag's target is the commit it points at",
			change(nil, with(newSide("annotated_tag", "v2.0.0", release), "message", "Version 2.0\n")),
			[]scm.Commit{{ID: sha2, Message: "Release 2.0 [skip ci]\n", Author: "aruiz"}}, "Release 2.0 [skip ci]\n"},
		{"a branch created at an existing commit names that commit, by its raw author without an account",
			change(nil, newSide("branch", "release/2.0", target(sha2, "Bump version\n", obj{"raw": "Build Bot <bot@acme.example>"})), "commits", []any{}),
			[]scm.Commit{{ID: sha2, Message: "Bump version\n", Author: "Build Bot"}}, "Bump version\n"},
		{"a push that lists its head does not name it twice",
			change(side("branch", "main", sha1), newSide("branch", "main", release), "commits", []any{
				commitJSON(sha2, "Release 2.0 [skip ci]\n", obj{"raw": "Ana Ruiz <ana@acme.example>", "user": ana}),
				commitJSON(sha3, "older\n", obj{"raw": "Ana Ruiz <ana@acme.example>", "user": ana}),
			}),
			[]scm.Commit{{ID: sha3, Message: "older\n", Author: "aruiz"}, {ID: sha2, Message: "Release 2.0 [skip ci]\n", Author: "aruiz"}}, "Release 2.0 [skip ci]\n"},
		{"a deleted branch names no commit",
			change(side("branch", "gone", sha1), nil), nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse("repo:push", delivery, pushBody(t, nil, c.change))
			require.NoError(t, err)
			require.Len(t, got, 1)
			assert.Equal(t, c.commits, got[0].Commits)
			assert.Equal(t, c.message, got[0].HeadMessage())
			assert.Empty(t, got[0].HeadCommit, "Bitbucket Cloud's target is a commit even for an annotated tag")
		})
	}
}

func TestCommitAuthorNames(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		author obj
		want   string
	}{
		{"the linked account's nickname comes first", obj{"raw": "Ana Ruiz <ana@x>", "user": ana}, "aruiz"},
		{"the linked account's display name when it has no nickname", obj{"raw": "A <a@x>", "user": obj{"display_name": "Ana Ruiz"}}, "Ana Ruiz"},
		{"the raw author's name part when no account is linked", obj{"raw": "Dan McHarness <dan@x>", "type": "author"}, "Dan McHarness"},
		{"the raw author's address when its name part is empty", obj{"raw": "<bot@acme.example>"}, "bot@acme.example"},
		{"the raw author whole when it has no address", obj{"raw": "build-bot"}, "build-bot"},
		{"the account fields straight under author, as the library's fixtures have them", obj{"nickname": "emmap1", "display_name": "Emma"}, "emmap1"},
		{"nothing when the author names no one", obj{"type": "author"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			body := pushBody(t, nil, change(side("branch", "main", sha1), side("branch", "main", sha2),
				"commits", []any{commitJSON(sha2, "m", c.author)}))
			got, err := Parse("repo:push", delivery, body)
			require.NoError(t, err)
			require.Len(t, got, 1)
			require.Len(t, got[0].Commits, 1)
			assert.Equal(t, c.want, got[0].Commits[0].Author)
		})
	}
}

func TestPushEventsLeaveChangedFilesUnknown(t *testing.T) {
	t.Parallel()
	got, err := Parse("repo:push", delivery, pushBody(t, nil, change(side("branch", "main", sha1), side("branch", "main", sha2))))
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Nil(t, got[0].ChangedFiles)
	assert.False(t, got[0].FilesComplete, "Bitbucket push payloads list no files, so the list is never complete")
	assert.Nil(t, got[0].PullRequest)
}

func TestParserTypeParsesLikeParse(t *testing.T) {
	t.Parallel()
	body := pushBody(t, nil, change(side("branch", "main", sha1), side("branch", "main", sha2)))
	want, err := Parse("repo:push", delivery, body)
	require.NoError(t, err)
	got, err := Parser{}.Parse("repo:push", delivery, body)
	require.NoError(t, err)
	assert.Equal(t, want, got)
}
