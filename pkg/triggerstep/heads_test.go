package triggerstep

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/reposecret"
	"github.com/stepline/stepline/pkg/scm"
)

// TestEachProviderReaderReadsTheHeadOfABranch serves each provider's answer for a branch
// that exists (feature/x, a name with a slash) and for one that does not.
func TestEachProviderReaderReadsTheHeadOfABranch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		secret  func(url string) reposecret.Secret
		bbURL   func(url string) string
		repo    string
		handler http.HandlerFunc
		missing func(error) bool
	}{
		{
			name: "github answers the bare commit id for the SHA media type",
			secret: func(u string) reposecret.Secret {
				return reposecret.Secret{Provider: "github", Token: testToken, APIURL: u + "/api/v3"}
			},
			repo: "octo/api",
			handler: func(w http.ResponseWriter, r *http.Request) {
				assert.Equal(t, "Bearer "+testToken, r.Header.Get("Authorization"))
				assert.Equal(t, "application/vnd.github.v3.sha", r.Header.Get("Accept"))
				if r.URL.Path != "/api/v3/repos/octo/api/commits/refs/heads/feature/x" {
					w.Header().Set("Content-Type", "application/json; charset=utf-8")
					w.WriteHeader(http.StatusUnprocessableEntity)
					fmt.Fprint(w, `{"message":"No commit found for SHA: refs/heads/gone","documentation_url":"https://docs.github.com/rest/commits/commits#get-a-commit","status":"422"}`)
					return
				}
				w.Header().Set("Content-Type", "application/vnd.github.v3.sha; charset=utf-8")
				fmt.Fprint(w, testCommit)
			},
			missing: func(err error) bool { return !retryable(err) },
		},
		{
			name:   "bitbucket cloud answers the branch with its target",
			secret: func(string) reposecret.Secret { return reposecret.Secret{Provider: "bitbucket", Token: testToken} },
			bbURL:  func(u string) string { return u + "/2.0" },
			repo:   "team/api",
			handler: func(w http.ResponseWriter, r *http.Request) {
				assert.Equal(t, "Bearer "+testToken, r.Header.Get("Authorization"))
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
				if r.URL.EscapedPath() != "/2.0/repositories/team/api/refs/branches/feature%2Fx" {
					w.WriteHeader(http.StatusNotFound)
					fmt.Fprint(w, `{"type":"error","error":{"message":"Branch not found"}}`)
					return
				}
				fmt.Fprintf(w, `{"name":"feature/x","target":{"type":"commit","hash":%q,"date":"2026-11-30T10:00:00+00:00","message":"Change\n"},"type":"branch","default_merge_strategy":"merge_commit"}`, testCommit)
			},
			missing: func(err error) bool { return errors.Is(err, scm.ErrNotFound) },
		},
		{
			name: "bitbucket data center answers a page of commits until the branch",
			secret: func(u string) reposecret.Secret {
				return reposecret.Secret{Provider: "bitbucket-server", Token: testToken, APIURL: u + "/bitbucket"}
			},
			repo: "PROJ/api",
			handler: func(w http.ResponseWriter, r *http.Request) {
				assert.Equal(t, "Bearer "+testToken, r.Header.Get("Authorization"))
				w.Header().Set("Content-Type", "application/json;charset=UTF-8")
				if r.URL.Path != "/bitbucket/rest/api/latest/projects/PROJ/repos/api/commits" || r.URL.Query().Get("until") != "refs/heads/feature/x" {
					w.WriteHeader(http.StatusNotFound)
					fmt.Fprintf(w, `{"errors":[{"context":null,"message":"Commit '%s' does not exist in repository 'api'.","exceptionName":"com.atlassian.bitbucket.commit.NoSuchCommitException"}]}`, r.URL.Query().Get("until"))
					return
				}
				assert.Equal(t, "1", r.URL.Query().Get("limit"))
				fmt.Fprintf(w, `{"values":[{"id":%q,"displayId":"%.11s","author":{"name":"octo","emailAddress":"octo@example.com"},"authorTimestamp":1764496800000,"message":"Change","parents":[{"id":"0123456789abcdef0123456789abcdef01234567","displayId":"0123456789a"}]}],"size":1,"isLastPage":false,"start":0,"limit":1,"nextPageStart":1}`, testCommit, testCommit)
			},
			missing: func(err error) bool { return errors.Is(err, scm.ErrNotFound) },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(tc.handler)
			t.Cleanup(srv.Close)
			p := Providers{HTTPClient: srv.Client()}
			if tc.bbURL != nil {
				p.BitbucketURL = tc.bbURL(srv.URL)
			}
			reader, _, err := p.For(tc.secret(srv.URL))
			require.NoError(t, err)
			heads, ok := reader.(HeadReader)
			require.True(t, ok, "every provider reader reads heads")
			ctx := context.Background()

			sha, err := heads.Head(ctx, tc.repo, "feature/x")
			require.NoError(t, err)
			assert.Equal(t, testCommit, sha)

			_, err = heads.Head(ctx, tc.repo, "gone")
			require.Error(t, err)
			assert.True(t, tc.missing(err), "a missing branch is not retried: %v", err)
			assert.NotContains(t, err.Error(), testToken)
		})
	}
}

func TestAHeadThatIsNoCommitIdIsRefused(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"<html>login</html>", testCommit[:12], strings.ToUpper(testCommit), testCommit + "0", "HEAD~1", scm.ZeroSHA} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `{"values":[{"id":%q}]}`, id)
		}))
		t.Cleanup(srv.Close)
		r, err := NewBitbucketServerReader(srv.URL, testToken, srv.Client())
		require.NoError(t, err)
		_, err = r.Head(context.Background(), "PROJ/api", "main")
		assert.ErrorContains(t, err, "not a full commit id", id)
	}
}
