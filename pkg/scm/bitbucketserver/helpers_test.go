package bitbucketserver

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/scm"
)

// Commits the table tests use.
const (
	shaA = "178864a7d521b6f5e720b386b2c2b0ef8563e0dc"
	shaB = "ef8755f06ee4b28c96a847a95cb8ec8ed6ddd1ca"
	shaC = "86448735f9dee9e1fb3d3e5cd9fbc8eb9d8400f4"
	shaD = "99f3ea32043ba3ecaa28de6046b420de70257d80"
	dlv  = "d1b4c0de-0000-4000-8000-000000000001"
)

// obj is a JSON object under construction.
type obj = map[string]any

// testRepo is a Data Center repository of project PROJ with an ssh and an http clone link.
func testRepo() obj {
	return obj{
		"slug": "repository", "id": 84, "name": "repository", "scmId": "git", "state": "AVAILABLE",
		"project": obj{"key": "PROJ", "id": 84, "name": "project", "type": "NORMAL"},
		"links": obj{"clone": []any{
			obj{"href": "ssh://git@bitbucket.example.com:7999/proj/repository.git", "name": "ssh"},
			obj{"href": "https://bitbucket.example.com/scm/proj/repository.git", "name": "http"},
		}},
	}
}

// testActor is the user who pushed or acted on a pull request.
func testActor() obj {
	return obj{"name": "jdoe", "displayName": "Jane Doe", "slug": "jdoe", "id": 3, "type": "NORMAL"}
}

// change is one entry of repo:refs_changed's changes.
func change(kind, refType, id, display, from, to string) obj {
	return obj{"ref": obj{"id": id, "displayId": display, "type": refType}, "refId": id, "fromHash": from, "toHash": to, "type": kind}
}

// refsChanged is a repo:refs_changed body with the given changes, edited by mods.
func refsChanged(changes []any, mods ...func(obj)) []byte {
	p := obj{"eventKey": "repo:refs_changed", "date": "2024-03-01T10:37:14+0100", "actor": testActor(), "repository": testRepo(), "changes": changes}
	for _, m := range mods {
		m(p)
	}
	return mustJSON(p)
}

// pullRequest is a body of a pull request event key, edited by mods: pull request 7 from
// feature/login at shaB into main at shaC.
func pullRequest(key string, mods ...func(p, pr obj)) []byte {
	pr := obj{
		"id": 7, "version": 1, "title": "Add the login page", "state": "OPEN", "open": true,
		"fromRef": obj{"id": "refs/heads/feature/login", "displayId": "feature/login", "latestCommit": shaB, "repository": testRepo()},
		"toRef":   obj{"id": "refs/heads/main", "displayId": "main", "latestCommit": shaC, "repository": testRepo()},
	}
	p := obj{"eventKey": key, "date": "2024-03-01T10:37:14+0100", "actor": testActor(), "pullRequest": pr}
	for _, m := range mods {
		m(p, pr)
	}
	return mustJSON(p)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// pushEvent is the event the default repository and actor give, completed by the caller.
func pushEvent(kind, ref, branch, tag, before, after string) scm.Event {
	return scm.Event{
		Provider: scm.BitbucketServer, Kind: kind, Delivery: dlv,
		Repository: scm.Repository{FullName: "PROJ/repository", CloneURL: "https://bitbucket.example.com/scm/proj/repository.git"},
		Ref:        ref, Branch: branch, Tag: tag, Before: before, After: after, Sender: "jdoe",
	}
}

// prEventOf is the event of the default pull request with action, edited by mod.
func prEventOf(action string, mod func(*scm.Event)) scm.Event {
	ev := scm.Event{
		Provider: scm.BitbucketServer, Kind: scm.KindPullRequest, Delivery: dlv,
		Repository: scm.Repository{FullName: "PROJ/repository", CloneURL: "https://bitbucket.example.com/scm/proj/repository.git"},
		Ref:        "refs/pull-requests/7/from", Branch: "feature/login", After: shaB, Sender: "jdoe",
		PullRequest: &scm.PullRequest{
			Number: 7, Action: action, SourceBranch: "feature/login", TargetBranch: "main",
			HeadSHA: shaB, BaseSHA: shaC, Title: "Add the login page",
		},
	}
	if mod != nil {
		mod(&ev)
	}
	return ev
}

// parseCase is one row of a Parse table: either the events or the kind of error and a
// fragment of its reason.
type parseCase struct {
	name    string
	event   string
	body    []byte
	want    []scm.Event
	ignored string
	malform string
}

func runParseCases(t *testing.T, cases []parseCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse(c.event, dlv, c.body)
			switch {
			case c.ignored != "":
				var ig *scm.IgnoredError
				require.True(t, errors.As(err, &ig), "want ignored, got %v", err)
				assert.Contains(t, ig.Reason, c.ignored)
				assert.Nil(t, got)
			case c.malform != "":
				var mal *scm.MalformedError
				require.True(t, errors.As(err, &mal), "want malformed, got %v", err)
				assert.Contains(t, mal.Reason, c.malform)
				assert.NotContains(t, mal.Reason, "\n")
				assert.Nil(t, got)
			default:
				require.NoError(t, err)
				assert.Equal(t, c.want, got)
			}
		})
	}
}
