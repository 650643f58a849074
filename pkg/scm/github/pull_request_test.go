package github

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/scm"
)

func TestAnOpenedPullRequestIsNormalisedWhole(t *testing.T) {
	t.Parallel()
	ev := one(t, "pull_request", encode(t, pullRequestBody("opened", nil, nil)))
	assert.Equal(t, scm.Event{
		Provider: scm.GitHub,
		Kind:     scm.KindPullRequest,
		Delivery: "d-1",
		Repository: scm.Repository{
			FullName:      "octo-org/app",
			CloneURL:      "https://github.com/octo-org/app.git",
			DefaultBranch: "main",
		},
		Ref:    "refs/pull/7/head",
		Branch: "feature",
		After:  sha3,
		PullRequest: &scm.PullRequest{
			Number:       7,
			Action:       scm.PROpened,
			SourceBranch: "feature",
			TargetBranch: "main",
			HeadSHA:      sha3,
			BaseSHA:      sha1,
			Title:        "Parse GitHub deliveries",
		},
		Sender: "mona",
	}, ev)
	assert.Equal(t, sha3, ev.Head())
}

func TestPullRequestActions(t *testing.T) {
	t.Parallel()
	baseChange := obj{"base": obj{"ref": obj{"from": "develop"}, "sha": obj{"from": sha2}}}
	cases := []struct {
		name   string
		action string
		pr     obj
		top    obj
		want   string // the normalised action, or "" when the delivery is ignored
	}{
		{"opening a pull request is opened", "opened", nil, nil, scm.PROpened},
		{"reopening a pull request is opened again", "reopened", nil, nil, scm.PROpened},
		{"pushing to the head branch updates it", "synchronize", nil, nil, scm.PRUpdated},
		{"marking a draft ready for review updates it", "ready_for_review", nil, nil, scm.PRUpdated},
		{"retargeting it to another base branch updates it", "edited", nil, obj{"changes": baseChange}, scm.PRUpdated},
		{"editing only its title is ignored", "edited", nil, obj{"changes": obj{"title": obj{"from": "WIP"}}}, ""},
		{"editing without a changes object is ignored", "edited", nil, nil, ""},
		{"closing it merged is merged", "closed", obj{"state": "closed", "merged": true}, nil, scm.PRMerged},
		{"closing it unmerged is closed", "closed", obj{"state": "closed", "merged": false}, nil, scm.PRClosed},
		{"closing it without a merged flag is closed", "closed", obj{"state": "closed", "merged": nil}, nil, scm.PRClosed},
		{"labelling it is ignored", "labeled", nil, nil, ""},
		{"assigning it is ignored", "assigned", nil, nil, ""},
		{"converting it to a draft is ignored", "converted_to_draft", obj{"draft": true}, nil, ""},
		{"requesting a review is ignored", "review_requested", nil, nil, ""},
		{"locking it is ignored", "locked", nil, nil, ""},
		{"entering the merge queue is ignored", "enqueued", nil, nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			evs, err := Parse("pull_request", "d-1", encode(t, pullRequestBody(c.action, c.pr, c.top)))
			if c.want == "" {
				reason, ok := scm.IsIgnored(err)
				require.True(t, ok, "got %v", err)
				assert.Contains(t, reason, "pull_request")
				if c.action != "edited" {
					assert.Contains(t, reason, `"`+c.action+`"`, "the reason names the action")
				}
				return
			}
			require.NoError(t, err)
			require.Len(t, evs, 1)
			assert.Equal(t, c.want, evs[0].PullRequest.Action)
			assert.False(t, evs[0].FilesComplete, "a pull_request delivery lists no files")
			assert.Nil(t, evs[0].ChangedFiles)
		})
	}
}

func TestADraftPullRequestIsOpenedAndMarkedDraft(t *testing.T) {
	t.Parallel()
	ev := one(t, "pull_request", encode(t, pullRequestBody("opened", obj{"draft": true}, nil)))
	assert.Equal(t, scm.PROpened, ev.PullRequest.Action)
	assert.True(t, ev.PullRequest.Draft)
}

func TestPullRequestRefsAndForks(t *testing.T) {
	t.Parallel()
	fork := obj{"full_name": "someone/app", "clone_url": "https://github.com/someone/app.git", "default_branch": "main"}
	headOf := func(ref string, repo any) obj {
		return obj{"label": "someone:" + ref, "ref": ref, "sha": sha3, "repo": repo}
	}
	cases := []struct {
		name   string
		pr     obj
		top    obj
		branch string
		fork   bool
	}{
		{"a branch of the base repository is no fork", nil, nil, "feature", false},
		{"a branch of another repository is a fork", obj{"head": headOf("feature", fork)}, nil, "feature", true},
		{"a fork's branch named main is a fork's, not the base's main", obj{"head": headOf("main", fork)}, nil, "main", true},
		{"a head repository deleted since (null) is a fork", obj{"head": headOf("feature", nil)}, nil, "feature", true},
		{"a head repository without a name is taken for a fork", obj{"head": headOf("feature", obj{"clone_url": "x"})}, nil, "feature", true},
		{"a trimmed base compares with the delivery's repository",
			obj{"base": obj{"ref": "main", "sha": sha1}, "head": headOf("feature", testRepo)}, nil, "feature", false},
		{"a trimmed base still tells a fork", obj{"base": obj{"ref": "main", "sha": sha1}, "head": headOf("main", fork)}, nil, "main", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ev := one(t, "pull_request", encode(t, pullRequestBody("opened", c.pr, c.top)))
			assert.Equal(t, "refs/pull/7/head", ev.Ref, "the ref is GitHub's pull request ref, never a branch of ours")
			assert.Equal(t, c.fork, ev.PullRequest.Fork)
			assert.Equal(t, c.branch, ev.Branch, "the branch is shown to users as it is named")
			assert.Equal(t, c.branch, ev.PullRequest.SourceBranch)
			assert.Equal(t, "main", ev.PullRequest.TargetBranch)
			assert.Equal(t, "octo-org/app", ev.Repository.FullName, "the event belongs to the base repository")
			assert.Equal(t, sha3, ev.Head())
		})
	}
}

func TestAPullRequestWithoutTopLevelRepositoryUsesTheBaseRepository(t *testing.T) {
	t.Parallel()
	ev := one(t, "pull_request", encode(t, pullRequestBody("synchronize", nil, obj{"repository": nil})))
	assert.Equal(t, "octo-org/app", ev.Repository.FullName)
}
