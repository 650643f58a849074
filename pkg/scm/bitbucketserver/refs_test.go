package bitbucketserver

import (
	"testing"

	"github.com/stepline/stepline/pkg/scm/scmtest"
)

func TestDeliveriesNamingRefsOrCommitsGitRefusesAreMalformed(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, event string
		body        []byte
		want        string
	}{
		{"a push to a branch git forbids", "repo:refs_changed",
			refsChanged([]any{change("UPDATE", "BRANCH", "refs/heads/a..b", "a..b", shaA, shaB)}), `"refs/heads/a..b"`},
		{"a push whose new commit is a revision expression", "repo:refs_changed",
			refsChanged([]any{change("UPDATE", "BRANCH", "refs/heads/main", "main", shaA, "HEAD~1")}), `commit "HEAD~1"`},
		{"a push whose old commit reads as an option", "repo:refs_changed",
			refsChanged([]any{change("UPDATE", "BRANCH", "refs/heads/main", "main", "--upload-pack=x", shaB)}), `commit "--upload-pack=x"`},
		{"a pull request from a branch git forbids", "pr:opened", pullRequest("pr:opened", func(_, pr obj) {
			pr["fromRef"].(obj)["id"], pr["fromRef"].(obj)["displayId"] = "refs/heads/envs/../x", "envs/../x"
		}), `envs/../x`},
		{"a pull request whose head is short", "pr:opened", pullRequest("pr:opened", func(_, pr obj) {
			pr["fromRef"].(obj)["latestCommit"] = shaB[:12]
		}), `commit "` + shaB[:12] + `"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(c.event, dlv, c.body)
			scmtest.RefRefused(t, err, c.want)
		})
	}
}
