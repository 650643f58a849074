package github

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/scm"
)

func TestAPlainBranchPushIsNormalisedWhole(t *testing.T) {
	t.Parallel()
	ev := one(t, "push", encode(t, pushBody(nil)))
	assert.Equal(t, scm.Event{
		Provider: scm.GitHub,
		Kind:     scm.KindPush,
		Delivery: "d-1",
		Repository: scm.Repository{
			FullName:      "octo-org/app",
			CloneURL:      "https://github.com/octo-org/app.git",
			DefaultBranch: "main",
		},
		Ref:    "refs/heads/main",
		Branch: "main",
		Before: sha1,
		After:  sha3,
		Commits: []scm.Commit{
			{ID: sha2, Message: "Add the parser", Author: "mona"},
			{ID: sha3, Message: "Fix the parser\n\nIt panicked.", Author: "mona"},
		},
		ChangedFiles:  []string{"README.md", "old.txt", "pkg/a.go"},
		FilesComplete: true,
		Sender:        "mona",
	}, ev)
	assert.Equal(t, "Fix the parser\n\nIt panicked.", ev.HeadMessage())
}

func TestPushes(t *testing.T) {
	t.Parallel()
	tagged := pushCommit(sha3, "Release 1.2", nil, nil, nil)
	noFiles := pushCommit(sha3, "From Actions", nil, nil, nil)
	delete(noFiles, "added")
	delete(noFiles, "modified")
	delete(noFiles, "removed")
	bigCommit := pushCommit(sha3, "Vendor everything", numbered("vendor/", 2999), nil, []string{"x"})
	noUsername := pushCommit(sha3, "By hand", nil, []string{"a"}, nil)
	noUsername["author"] = obj{"name": "Jane Doe", "email": "jane@example.com"}

	cases := []struct {
		name  string
		over  obj
		check func(t *testing.T, ev scm.Event)
	}{
		{"a forced push keeps its commits but cannot vouch for the files", obj{"forced": true},
			func(t *testing.T, ev scm.Event) {
				assert.True(t, ev.Forced)
				assert.Len(t, ev.Commits, 2)
				assert.Equal(t, []string{"README.md", "old.txt", "pkg/a.go"}, ev.ChangedFiles)
				assert.False(t, ev.FilesComplete)
			}},
		{"a tag push is a tag event with no branch", obj{
			"ref": "refs/tags/v1.2.0", "before": scm.ZeroSHA, "created": true,
			"commits": []any{}, "head_commit": tagged,
		}, func(t *testing.T, ev scm.Event) {
			assert.Equal(t, scm.KindTag, ev.Kind)
			assert.Equal(t, "v1.2.0", ev.Tag)
			assert.Empty(t, ev.Branch)
			assert.Equal(t, "refs/tags/v1.2.0", ev.Ref)
			assert.True(t, ev.Created)
			assert.Equal(t, []scm.Commit{{ID: sha3, Message: "Release 1.2", Author: "mona"}}, ev.Commits,
				"the head commit is named so its message can be read")
			assert.Nil(t, ev.ChangedFiles)
			assert.False(t, ev.FilesComplete)
		}},
		{"a tag deletion is a deleted tag with no commits", obj{
			"ref": "refs/tags/v1.2.0", "after": scm.ZeroSHA, "deleted": true,
			"commits": []any{}, "head_commit": nil,
		}, func(t *testing.T, ev scm.Event) {
			assert.Equal(t, scm.KindTag, ev.Kind)
			assert.True(t, ev.Deleted)
			assert.Equal(t, scm.ZeroSHA, ev.After)
			assert.Nil(t, ev.Commits)
			assert.Nil(t, ev.ChangedFiles)
			assert.False(t, ev.FilesComplete)
		}},
		{"a branch deletion is a deleted push with no files", obj{
			"ref": "refs/heads/feature", "after": scm.ZeroSHA, "deleted": true,
			"commits": []any{}, "head_commit": nil,
		}, func(t *testing.T, ev scm.Event) {
			assert.Equal(t, scm.KindPush, ev.Kind)
			assert.Equal(t, "feature", ev.Branch)
			assert.True(t, ev.Deleted)
			assert.Nil(t, ev.Commits)
			assert.False(t, ev.FilesComplete)
		}},
		{"a created branch with commits lists them but cannot vouch for the files", obj{
			"ref": "refs/heads/feature", "before": scm.ZeroSHA, "created": true,
		}, func(t *testing.T, ev scm.Event) {
			assert.True(t, ev.Created)
			assert.Len(t, ev.Commits, 2)
			assert.Equal(t, []string{"README.md", "old.txt", "pkg/a.go"}, ev.ChangedFiles)
			assert.False(t, ev.FilesComplete)
		}},
		{"a created branch at an existing commit names only the head", obj{
			"ref": "refs/heads/feature", "before": scm.ZeroSHA, "created": true, "commits": []any{},
		}, func(t *testing.T, ev scm.Event) {
			require.Len(t, ev.Commits, 1)
			assert.Equal(t, sha3, ev.Commits[0].ID)
			assert.Nil(t, ev.ChangedFiles, "the head's files are not this push's")
			assert.False(t, ev.FilesComplete)
		}},
		{"a commit list at GitHub's cap of 2048 may be cut", obj{"commits": manyCommits(2048, sha3)},
			func(t *testing.T, ev scm.Event) {
				assert.Len(t, ev.Commits, 2048)
				assert.Len(t, ev.ChangedFiles, 2048)
				assert.False(t, ev.FilesComplete)
			}},
		{"a commit list one below the cap is whole", obj{"commits": manyCommits(2047, sha3)},
			func(t *testing.T, ev scm.Event) {
				assert.Len(t, ev.Commits, 2047)
				assert.True(t, ev.FilesComplete)
			}},
		{"a commit list that stops before the new head may be cut", obj{"commits": manyCommits(3, sha2)},
			func(t *testing.T, ev scm.Event) {
				require.Len(t, ev.Commits, 4)
				assert.Equal(t, sha3, ev.Commits[3].ID, "the head is named last")
				assert.False(t, ev.FilesComplete)
			}},
		{"a moved ref with an empty commit list cannot vouch for the files", obj{"commits": []any{}},
			func(t *testing.T, ev scm.Event) {
				assert.Nil(t, ev.ChangedFiles)
				assert.False(t, ev.FilesComplete)
			}},
		{"commits without file lists, as GitHub Actions passes them, cannot vouch for the files",
			obj{"commits": []any{noFiles}, "head_commit": noFiles},
			func(t *testing.T, ev scm.Event) {
				assert.Nil(t, ev.ChangedFiles)
				assert.False(t, ev.FilesComplete)
			}},
		{"a commit reporting 3000 paths may have been cut", obj{"commits": []any{bigCommit}, "head_commit": bigCommit},
			func(t *testing.T, ev scm.Event) {
				assert.Len(t, ev.ChangedFiles, 3000)
				assert.False(t, ev.FilesComplete)
			}},
		{"an empty commit on a moved ref is whole", obj{
			"commits": []any{pushCommit(sha3, "Trigger a build", nil, nil, nil)},
		}, func(t *testing.T, ev scm.Event) {
			assert.Nil(t, ev.ChangedFiles)
			assert.True(t, ev.FilesComplete)
		}},
		{"an author without a GitHub account is named by git name", obj{"commits": []any{noUsername}, "head_commit": noUsername},
			func(t *testing.T, ev scm.Event) {
				assert.Equal(t, "Jane Doe", ev.Commits[0].Author)
			}},
		{"a repository without default_branch falls back to master_branch", obj{
			"repository": obj{"full_name": "octo-org/app", "master_branch": "trunk"},
		}, func(t *testing.T, ev scm.Event) {
			assert.Equal(t, "trunk", ev.Repository.DefaultBranch)
		}},
		{"a delivery without sender names the pusher", obj{"sender": nil},
			func(t *testing.T, ev scm.Event) {
				assert.Equal(t, "mona", ev.Sender)
			}},
		{"a branch whose name has slashes keeps them", obj{"ref": "refs/heads/feature/login"},
			func(t *testing.T, ev scm.Event) {
				assert.Equal(t, "feature/login", ev.Branch)
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.check(t, one(t, "push", encode(t, pushBody(c.over))))
		})
	}
}

// tagSHA is the id of an annotated tag object: what GitHub sends as after when such a tag is
// pushed, though it is no commit.
const tagSHA = "4c1f9e0a7b2d5e8f3a6c9b0d1e2f3a4b5c6d7e8f"

func TestTagPushesNameTheCommitTheTagPointsAt(t *testing.T) {
	t.Parallel()
	release := pushCommit(sha3, "Release 1.2 [skip ci]", nil, []string{"VERSION"}, nil)
	newTag := func(after string, commits []any) obj {
		return obj{
			"ref": "refs/tags/v1.2.0", "before": scm.ZeroSHA, "after": after, "created": true,
			"base_ref": "refs/heads/main", "compare": "https://github.com/octo-org/app/compare/v1.2.0",
			"commits": commits, "head_commit": release,
		}
	}
	cases := []struct {
		name       string
		over       obj
		headCommit string // the event's HeadCommit
		head       string // what Head() builds
		commits    int
	}{
		{"an annotated tag's after is the tag object, so the head commit is named apart",
			newTag(tagSHA, []any{}), sha3, sha3, 1},
		{"an annotated tag pushed with its commit names that commit once",
			newTag(tagSHA, []any{release}), sha3, sha3, 1},
		{"a lightweight tag's after is the commit, so nothing is named apart",
			newTag(sha3, []any{}), "", sha3, 1},
		{"a moved annotated tag names its new commit",
			with(newTag(tagSHA, []any{}), obj{"before": sha1, "created": false, "forced": true}), sha3, sha3, 1},
		{"a deleted annotated tag names no commit",
			obj{"ref": "refs/tags/v1.2.0", "before": tagSHA, "after": scm.ZeroSHA, "deleted": true, "commits": []any{}, "head_commit": nil}, "", scm.ZeroSHA, 0},
		{"a branch's after is always its head, whatever head_commit says",
			obj{"ref": "refs/heads/main", "commits": []any{}, "head_commit": pushCommit(sha2, "older", nil, nil, nil)}, "", sha3, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ev := one(t, "push", encode(t, pushBody(c.over)))
			assert.Equal(t, c.headCommit, ev.HeadCommit)
			assert.Equal(t, c.head, ev.Head())
			assert.Len(t, ev.Commits, c.commits)
			if c.headCommit != "" {
				assert.Equal(t, "Release 1.2 [skip ci]", ev.HeadMessage(), "the head commit is among Commits, so its skip marker is read")
				assert.False(t, ev.FilesComplete)
			}
		})
	}
}

func TestAPushToARefThatIsNeitherBranchNorTagIsIgnored(t *testing.T) {
	t.Parallel()
	_, err := Parse("push", "d-1", encode(t, pushBody(obj{"ref": "refs/notes/commits"})))
	reason, ok := scm.IsIgnored(err)
	require.True(t, ok, "got %v", err)
	assert.Contains(t, reason, "refs/notes/commits")
}

func numbered(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}
