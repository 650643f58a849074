package github

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/stepline/stepline/pkg/scm"
	"github.com/stepline/stepline/pkg/scm/scmtest"
)

func TestDeliveriesNamingRefsOrCommitsGitRefusesAreMalformed(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, event string
		body        obj
		want        string
	}{
		{"a push to a branch git forbids", "push", pushBody(obj{"ref": "refs/heads/a..b"}), `ref "refs/heads/a..b" is not a valid git ref name: it contains ".."`},
		{"a push whose branch reads as a git option", "push", pushBody(obj{"ref": "refs/heads/--upload-pack=x"}), `branch "--upload-pack=x"`},
		{"a push whose after is a revision expression", "push", pushBody(obj{"after": "HEAD~1"}), `commit "HEAD~1"`},
		{"a push whose after is an option", "push", pushBody(obj{"after": "--upload-pack=x"}), `commit "--upload-pack=x"`},
		{"a push whose before is a short id", "push", pushBody(obj{"before": "1111111"}), `commit "1111111"`},
		{"a push of a tag git forbids", "push", pushBody(obj{"ref": "refs/tags/v1.lock", "before": scm.ZeroSHA}), `ref "refs/tags/v1.lock"`},
		{"a push naming a default branch git forbids", "push", pushBody(obj{"repository": with(testRepo, obj{"default_branch": "ma in"})}), `branch "ma in"`},
		{"a pull request from a branch git forbids", "pull_request",
			pullRequestBody("opened", obj{"head": obj{"ref": "envs/../../x", "sha": sha3, "repo": testRepo}}, nil), `branch "envs/../../x"`},
		{"a pull request whose head is not a full commit id", "pull_request",
			pullRequestBody("opened", obj{"head": obj{"ref": "feature", "sha": "HEAD~1", "repo": testRepo}}, nil), `commit "HEAD~1"`},
		{"a pull request into a branch git forbids", "pull_request",
			pullRequestBody("opened", obj{"base": obj{"ref": "-main", "sha": sha1, "repo": testRepo}}, nil), `branch "-main"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(c.event, "d-1", encode(t, c.body))
			scmtest.RefRefused(t, err, c.want)
		})
	}
}

func TestAFullSHA256CommitIsAccepted(t *testing.T) {
	t.Parallel()
	sha256 := "3333333333333333333333333333333333333333333333333333333333333333"
	ev := one(t, "push", encode(t, pushBody(obj{"after": sha256, "commits": []any{}, "head_commit": nil})))
	assert.Equal(t, sha256, ev.After)
}
