package codecommit

import (
	"testing"

	"github.com/stepline/stepline/pkg/scm/scmtest"
)

func TestReferenceEventsNamingRefsOrCommitsGitRefusesAreMalformed(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct{ detail, want string }{
		"a branch git forbids": {`{"event":"referenceUpdated","repositoryName":"MyDemoRepo","referenceType":"branch",
			"referenceName":"a..b","referenceFullName":"refs/heads/a..b","commitId":"` + c2 + `","oldCommitId":"` + c1 + `"}`, `"refs/heads/a..b"`},
		"a branch named without its full name": {`{"event":"referenceCreated","repositoryName":"MyDemoRepo","referenceType":"branch",
			"referenceName":"x/../../y","commitId":"` + c2 + `"}`, `"refs/heads/x/../../y"`},
		"a tag that reads as an option": {`{"event":"referenceCreated","repositoryName":"MyDemoRepo","referenceType":"tag",
			"referenceName":"--upload-pack=x","commitId":"` + c2 + `"}`, `tag "--upload-pack=x"`},
		"a commit that is a revision expression": {`{"event":"referenceUpdated","repositoryName":"MyDemoRepo","referenceType":"branch",
			"referenceName":"main","referenceFullName":"refs/heads/main","commitId":"HEAD~1","oldCommitId":"` + c1 + `"}`, `commit "HEAD~1"`},
		"an old commit that is short": {`{"event":"referenceUpdated","repositoryName":"MyDemoRepo","referenceType":"branch",
			"referenceName":"main","referenceFullName":"refs/heads/main","commitId":"` + c2 + `","oldCommitId":"` + c1[:7] + `"}`, `commit "` + c1[:7] + `"`},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseEvent(stateChange(t, c.detail))
			scmtest.RefRefused(t, err, c.want)
		})
	}
}
