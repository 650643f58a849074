package scm

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type fakeLister struct {
	files          []string
	complete       bool
	err            error
	repo, base, hd string
	calls          int
}

func (f *fakeLister) ChangedFiles(_ context.Context, repo, base, head string) ([]string, bool, error) {
	f.calls++
	f.repo, f.base, f.hd = repo, base, head
	return f.files, f.complete, f.err
}

func TestComplete(t *testing.T) {
	t.Parallel()
	repo := Repository{FullName: "o/r", DefaultBranch: "main"}
	cases := []struct {
		name       string
		ev         Event
		calls      bool
		base, head string
	}{
		{"an update of a branch compares the commits before and after", Event{Kind: KindPush, Branch: "dev", Before: "b1", After: "a1", Repository: repo}, true, "b1", "a1"},
		{"a new branch is compared with the default branch", Event{Kind: KindPush, Branch: "feat", Created: true, Before: ZeroSHA, After: "a1", Repository: repo}, true, "main", "a1"},
		{"a new default branch has nothing to compare with", Event{Kind: KindPush, Branch: "main", Created: true, Before: ZeroSHA, After: "a1", Repository: repo}, false, "", ""},
		{"a deletion is not compared", Event{Kind: KindPush, Branch: "dev", Deleted: true, Before: "b1", After: ZeroSHA, Repository: repo}, false, "", ""},
		{"a new tag is not compared", Event{Kind: KindTag, Tag: "v1", Created: true, Before: ZeroSHA, After: "a1", Repository: repo}, false, "", ""},
		{"a pull request compares its base commit and head", Event{Kind: KindPullRequest, Repository: repo, PullRequest: &PullRequest{BaseSHA: "base", HeadSHA: "head", TargetBranch: "main"}}, true, "base", "head"},
		{"a pull request without a base commit uses the target branch", Event{Kind: KindPullRequest, Repository: repo, PullRequest: &PullRequest{HeadSHA: "head", TargetBranch: "main"}}, true, "main", "head"},
		{"a complete list is left alone", Event{Kind: KindPush, Before: "b", After: "a", FilesComplete: true, ChangedFiles: []string{"x"}, Repository: repo}, false, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			l := &fakeLister{files: []string{"b.go", "a.go"}, complete: true}
			ev := c.ev
			require.NoError(t, Complete(context.Background(), &ev, l))
			if !c.calls {
				assert.Zero(t, l.calls)
				assert.Equal(t, c.ev.FilesComplete, ev.FilesComplete)
				return
			}
			assert.Equal(t, []string{"o/r", c.base, c.head}, []string{l.repo, l.base, l.hd})
			assert.Equal(t, []string{"a.go", "b.go"}, ev.ChangedFiles)
			assert.True(t, ev.FilesComplete)
		})
	}
}

func TestCompleteKeepsTheEventIncompleteWhenTheAPIFails(t *testing.T) {
	t.Parallel()
	ev := Event{Kind: KindPush, Before: "b", After: "a", Repository: Repository{FullName: "o/r"}}
	err := Complete(context.Background(), &ev, &fakeLister{err: errors.New("401 Bad credentials")})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "o/r")
	assert.False(t, ev.FilesComplete)
}

func TestCompleteKeepsAProviderCapHonest(t *testing.T) {
	t.Parallel()
	ev := Event{Kind: KindPush, Before: "b", After: "a", Repository: Repository{FullName: "o/r"}}
	require.NoError(t, Complete(context.Background(), &ev, &fakeLister{files: []string{"x"}, complete: false}))
	assert.Equal(t, []string{"x"}, ev.ChangedFiles)
	assert.False(t, ev.FilesComplete)
}

func TestAForcedPushStaysIncompleteSinceTheCompareMissesDiscardedCommits(t *testing.T) {
	t.Parallel()
	ev := Event{Kind: KindPush, Forced: true, Before: "b", After: "a", Repository: Repository{FullName: "o/r"}}
	require.NoError(t, Complete(context.Background(), &ev, &fakeLister{files: []string{"x"}, complete: true}))
	assert.Equal(t, []string{"x"}, ev.ChangedFiles)
	assert.False(t, ev.FilesComplete)
}

// ancestryLister also answers IsAncestor.
type ancestryLister struct {
	fakeLister
	ancestor bool
	err      error
}

func (a *ancestryLister) IsAncestor(context.Context, string, string, string) (bool, error) {
	return a.ancestor, a.err
}

func TestAnUnflaggedForcedPushIsFoundByAncestry(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		provider string
		lister   FileLister
		complete bool
	}{
		{"before being an ancestor of after keeps the list complete", BitbucketServer, &ancestryLister{fakeLister: fakeLister{complete: true}, ancestor: true}, true},
		{"before not being an ancestor of after makes it incomplete", BitbucketServer, &ancestryLister{fakeLister: fakeLister{complete: true}, ancestor: false}, false},
		{"an ancestry check that fails makes it incomplete", GitHub, &ancestryLister{fakeLister: fakeLister{complete: true}, err: errors.New("500")}, false},
		{"Data Center without an ancestry check cannot be trusted", BitbucketServer, &fakeLister{complete: true}, false},
		{"a provider that flags forced pushes is trusted without a check", GitHub, &fakeLister{complete: true}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ev := Event{Provider: c.provider, Kind: KindPush, Before: "b", After: "a", Repository: Repository{FullName: "P/r"}}
			require.NoError(t, Complete(context.Background(), &ev, c.lister))
			assert.Equal(t, c.complete, ev.FilesComplete)
		})
	}
}

func TestVariablesOfAPullRequest(t *testing.T) {
	t.Parallel()
	ev := Event{Provider: GitHub, Kind: KindPullRequest, Ref: "refs/heads/feat/X", Branch: "feat/X",
		Repository:  Repository{FullName: "o/r"},
		Commits:     []Commit{{ID: "0123456789abcdef", Message: "Fix it\n\nbody", Author: "ann"}},
		PullRequest: &PullRequest{Number: 7, Action: PRUpdated, HeadSHA: "0123456789abcdef"}}
	v := ev.Variables()
	assert.Equal(t, "pull_request.updated", v["event"])
	assert.Equal(t, "7", v["pr_number"])
	assert.Equal(t, "0123456", v["short_commit_id"])
	assert.Equal(t, "Fix it", v["commit_message"])
	assert.Equal(t, "feat-x", v["branch_slug"])
	assert.Equal(t, "ann", v["author"])
}
