package github

import (
	"testing"

	"github.com/stepline/stepline/pkg/scm/scmtest"
)

// FuzzChangedFilesResponses answers the changed-files client with any status and body, seeded
// with the recorded API responses in testdata/api: it never panics or hangs, lists no empty
// path, and never shows the token.
func FuzzChangedFilesResponses(f *testing.F) {
	scmtest.AddAPIFixtures(f, "testdata/api")
	reply := scmtest.NewReply(f)
	c, err := NewClient(testToken, WithBaseURL(reply.URL), WithHTTPClient(reply.Client()))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, status uint8, body []byte) {
		scmtest.FuzzChangedFiles(t, reply, c, testToken, status, body)
	})
}
