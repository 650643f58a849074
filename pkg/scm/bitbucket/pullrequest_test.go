package bitbucket

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/scm"
)

func prEvent(action string, edit ...func(*scm.Event)) scm.Event {
	e := scm.Event{
		Provider: scm.Bitbucket, Kind: scm.KindPullRequest, Delivery: delivery, Repository: widgetsR,
		Ref: scm.BranchRef("feature/x"), Branch: "feature/x", After: "9e8d7c6b5a43", Sender: "aruiz",
		PullRequest: &scm.PullRequest{
			Number: 7, Action: action, SourceBranch: "feature/x", TargetBranch: "main",
			HeadSHA: "9e8d7c6b5a43", BaseSHA: "c3b1e5d7f9a2", Title: "Stream the export",
		},
	}
	for _, f := range edit {
		f(&e)
	}
	return e
}

func TestParsePullRequest(t *testing.T) {
	t.Parallel()
	fork := obj{"full_name": "bkowalski/widgets", "links": obj{"html": obj{"href": "https://bitbucket.org/bkowalski/widgets"}}}
	cases := []struct {
		name  string
		event string
		body  func(t *testing.T) []byte
		want  scm.Event
	}{
		{
			"pullrequest:created is opened, with the source branch as ref and its short hash kept",
			"pullrequest:created",
			func(t *testing.T) []byte { return prBody(t, prObject()) },
			prEvent(scm.PROpened),
		},
		{
			"pullrequest:updated is updated",
			"pullrequest:updated",
			func(t *testing.T) []byte { return prBody(t, prObject()) },
			prEvent(scm.PRUpdated),
		},
		{
			"pullrequest:fulfilled is merged",
			"pullrequest:fulfilled",
			func(t *testing.T) []byte { return prBody(t, prObject("state", "MERGED")) },
			prEvent(scm.PRMerged),
		},
		{
			"pullrequest:rejected (declined) is closed",
			"pullrequest:rejected",
			func(t *testing.T) []byte { return prBody(t, prObject("state", "DECLINED")) },
			prEvent(scm.PRClosed),
		},
		{
			"a draft pull request is marked draft",
			"pullrequest:created",
			func(t *testing.T) []byte { return prBody(t, prObject("draft", true)) },
			prEvent(scm.PROpened, func(e *scm.Event) { e.PullRequest.Draft = true }),
		},
		{
			"full hashes are kept as they are too",
			"pullrequest:updated",
			func(t *testing.T) []byte {
				return prBody(t, prObject(
					"source", obj{"branch": obj{"name": "feature/x"}, "commit": obj{"hash": sha2}, "repository": widgets},
					"destination", obj{"branch": obj{"name": "main"}, "commit": obj{"hash": sha1}, "repository": widgets}))
			},
			prEvent(scm.PRUpdated, func(e *scm.Event) { e.After, e.PullRequest.HeadSHA, e.PullRequest.BaseSHA = sha2, sha2, sha1 }),
		},
		{
			"the repository is the destination's, not the fork's the change comes from",
			"pullrequest:created",
			func(t *testing.T) []byte {
				return prBody(t, prObject("source", obj{"branch": obj{"name": "feature/x"}, "commit": obj{"hash": "9e8d7c6b5a43"}, "repository": fork}))
			},
			prEvent(scm.PROpened, func(e *scm.Event) { e.PullRequest.Fork = true }),
		},
		{
			"the top-level repository fills what the destination's entity lacks",
			"pullrequest:created",
			func(t *testing.T) []byte {
				return prBody(t, prObject("destination", obj{"branch": obj{"name": "main"}, "commit": obj{"hash": "c3b1e5d7f9a2"}, "repository": obj{"full_name": "acme/widgets"}}),
					"repository", with(widgets, "mainbranch", obj{"name": "main"}))
			},
			prEvent(scm.PROpened, func(e *scm.Event) { e.Repository.DefaultBranch = "main" }),
		},
		{
			"a destination with no repository entity takes the top-level one",
			"pullrequest:created",
			func(t *testing.T) []byte {
				return prBody(t, prObject("destination", obj{"branch": obj{"name": "main"}, "commit": obj{"hash": "c3b1e5d7f9a2"}}))
			},
			prEvent(scm.PROpened),
		},
		{
			"the sender is the actor, not the pull request's author",
			"pullrequest:fulfilled",
			func(t *testing.T) []byte {
				return prBody(t, prObject("state", "MERGED", "author", obj{"nickname": "bkowalski"}), "actor", obj{"display_name": "Release Bot"})
			},
			prEvent(scm.PRMerged, func(e *scm.Event) { e.Sender = "Release Bot" }),
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse(c.event, delivery, c.body(t))
			require.NoError(t, err)
			assert.Equal(t, []scm.Event{c.want}, got)
		})
	}
}

func TestForkPullRequests(t *testing.T) {
	t.Parallel()
	fork := obj{"full_name": "bkowalski/widgets", "type": "repository"}
	source := func(branch string, repo any) obj {
		s := obj{"branch": obj{"name": branch}, "commit": obj{"hash": "9e8d7c6b5a43"}}
		if repo != nil {
			s["repository"] = repo
		}
		return s
	}
	cases := []struct {
		name   string
		pr     obj
		branch string
		fork   bool
	}{
		{"a branch of the destination repository is no fork", prObject("source", source("feature/x", widgets)), "feature/x", false},
		{"a branch of another repository is a fork", prObject("source", source("feature/x", fork)), "feature/x", true},
		{"a fork's branch named main is a fork's, though its ref reads refs/heads/main", prObject("source", source("main", fork)), "main", true},
		{"a source that names no repository is taken for a fork", prObject("source", source("feature/x", nil)), "feature/x", true},
		{"a destination without a repository entity compares with the top-level repository",
			prObject("source", source("feature/x", widgets), "destination", obj{"branch": obj{"name": "main"}, "commit": obj{"hash": "c3b1e5d7f9a2"}}), "feature/x", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse("pullrequest:created", delivery, prBody(t, c.pr))
			require.NoError(t, err)
			require.Len(t, got, 1)
			ev := got[0]
			assert.Equal(t, c.fork, ev.PullRequest.Fork)
			assert.Equal(t, scm.BranchRef(c.branch), ev.Ref, "Bitbucket Cloud serves no pull request ref: Fork tells the branch apart")
			assert.Equal(t, c.branch, ev.Branch)
			assert.Equal(t, "acme/widgets", ev.Repository.FullName)
		})
	}
}

func TestPullRequestEventsLeaveChangedFilesUnknown(t *testing.T) {
	t.Parallel()
	got, err := Parse("pullrequest:created", delivery, prBody(t, prObject()))
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Nil(t, got[0].ChangedFiles)
	assert.False(t, got[0].FilesComplete)
	assert.Equal(t, "9e8d7c6b5a43", got[0].Head(), "a pull request builds its head")
}
