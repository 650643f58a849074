package bitbucket

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/scm/scmtest"
)

func TestDeliveriesNamingRefsOrCommitsGitRefusesAreMalformed(t *testing.T) {
	t.Parallel()
	full := strings.Repeat("a", 40)
	for _, c := range []struct {
		name, event string
		body        []byte
		want        string
	}{
		{"a push to a branch git forbids", keyPush,
			pushBody(t, nil, change(side("branch", "main", full), side("branch", "a..b", full))), `"refs/heads/a..b"`},
		{"one bad ref of three refuses the whole delivery", keyPush,
			pushBody(t, nil, change(nil, side("branch", "ok", full)), change(nil, side("branch", "x/.y", full)), change(nil, side("tag", "v1", full))),
			`"refs/heads/x/.y"`},
		{"a push whose new commit is a revision expression", keyPush,
			pushBody(t, nil, change(side("branch", "main", full), side("branch", "main", "HEAD~1"))), `commit "HEAD~1"`},
		{"a push whose new commit is a short id", keyPush,
			pushBody(t, nil, change(side("branch", "main", full), side("branch", "main", "aaaaaaaaaaaa"))), `commit "aaaaaaaaaaaa"`},
		{"a pull request from a branch that reads as an option", keyPRCreated,
			prBody(t, prObject("source", obj{"branch": obj{"name": "--upload-pack=x"}, "commit": obj{"hash": "9e8d7c6b5a43"}, "repository": widgets})),
			`"--upload-pack=x"`},
		{"a pull request whose head is not hex", keyPRCreated,
			prBody(t, prObject("source", obj{"branch": obj{"name": "feature/x"}, "commit": obj{"hash": "HEAD~1"}, "repository": widgets})),
			`commit "HEAD~1"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(c.event, "d-1", c.body)
			scmtest.RefRefused(t, err, c.want)
		})
	}
}

func TestAPullRequestKeepsTheShortHashesBitbucketCloudSends(t *testing.T) {
	t.Parallel()
	evs, err := Parse(keyPRCreated, "d-1", prBody(t, prObject()))
	require.NoError(t, err)
	require.Len(t, evs, 1)
	assert.Equal(t, "9e8d7c6b5a43", evs[0].PullRequest.HeadSHA)
}
