package triggerstep

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stepline/stepline/pkg/reposecret"
	"github.com/stepline/stepline/pkg/scm"
	"github.com/stepline/stepline/pkg/scm/scmtest"
)

// FuzzReaderResponses answers the file and branch-head readers of every provider with any
// status and body, seeded with GitHub's contents answer, Bitbucket's branch and the providers'
// error bodies: they never panic, a head they return is a full commit id (as CheckCommit
// requires), and no error shows the token.
func FuzzReaderResponses(f *testing.F) {
	content := fmt.Sprintf(`{"type":"file","encoding":"base64","content":"dmVyc2lvbjogMQo=\n","sha":"%s"}`, testCommit)
	for i := range scmtest.FuzzStatuses {
		for _, body := range []string{content, testCommit, `{"name":"main","target":{"hash":"` + testCommit + `"}}`,
			`{"id":"refs/heads/main","displayId":"main","latestCommit":"` + testCommit + `"}`,
			`{"values":[{"id":"refs/heads/main","latestCommit":"` + testCommit + `"}]}`,
			`{"message":"Not Found"}`, `{"type":"error","error":{"message":"No such file"}}`,
			`{"errors":[{"message":"The path does not exist"}]}`, "version: 1\n"} {
			for provider := range uint8(3) {
				f.Add(provider, uint8(i), []byte(body))
			}
		}
	}
	reply := scmtest.NewReply(f)
	p := Providers{HTTPClient: reply.Client(), BitbucketURL: reply.URL + "/2.0"}
	var readers []interface {
		FileReader
		HeadReader
	}
	for _, provider := range []string{"github", "bitbucket", "bitbucket-server"} {
		r, _, err := p.For(reposecret.Secret{Provider: provider, Token: testToken, APIURL: reply.URL})
		if err != nil {
			f.Fatal(err)
		}
		rh, ok := r.(interface {
			FileReader
			HeadReader
		})
		if !ok {
			f.Fatalf("the %s reader reads no heads", provider)
		}
		readers = append(readers, rh)
	}
	f.Fuzz(func(t *testing.T, provider, status uint8, body []byte) {
		reply.Set(scmtest.FuzzStatuses[int(status)%len(scmtest.FuzzStatuses)], body)
		r := readers[int(provider)%len(readers)]
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := r.ReadFile(ctx, "team/api", testCommit, ".stepline.yml"); err != nil && strings.Contains(err.Error(), testToken) {
			t.Fatalf("the error shows the token: %v", err)
		}
		head, err := r.Head(ctx, "team/api", "main")
		if err != nil {
			if strings.Contains(err.Error(), testToken) {
				t.Fatalf("the error shows the token: %v", err)
			}
			return
		}
		if err := scm.CheckCommit(head); err != nil {
			t.Fatalf("head %q: %v", head, err)
		}
	})
}
