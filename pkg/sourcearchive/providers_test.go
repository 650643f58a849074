package sourcearchive

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/reposecret"
	"github.com/stepline/stepline/pkg/scm"
)

// provider describes how one provider is asked for an archive, as its documentation says.
type provider struct {
	name   string
	repo   string
	path   string // the request's escaped path, after the base's own path
	query  string
	prefix string // the top-level directory its archives carry
	topDir bool
	// errorBody is the provider's error answer shape, holding msg.
	errorBody func(msg string) string
}

func providers() []provider {
	return []provider{
		{name: scm.GitHub, repo: "octo/app", path: "/repos/octo/app/tarball/" + commit, prefix: "octo-app-7fd1a60/", topDir: true,
			errorBody: func(m string) string {
				return fmt.Sprintf(`{"message":%q,"documentation_url":"https://docs.github.com/rest","status":"404"}`, m)
			}},
		{name: scm.Bitbucket, repo: "team/app", path: "/team/app/get/" + commit + ".tar.gz", prefix: "team-app-7fd1a60b01f9/", topDir: true,
			errorBody: func(m string) string { return fmt.Sprintf(`{"type":"error","error":{"message":%q}}`, m) }},
		{name: scm.BitbucketServer, repo: "PROJ/app", path: "/bitbucket/rest/api/latest/projects/PROJ/repos/app/archive", query: "at=" + commit + "&format=tgz",
			errorBody: func(m string) string {
				return fmt.Sprintf(`{"errors":[{"context":null,"message":%q,"exceptionName":"com.atlassian.bitbucket.repository.NoSuchRepositoryException"}]}`, m)
			}},
	}
}

// serve answers the provider's archive request with handler, and returns an Archiver built
// from a repository secret, as the source function builds it.
func serve(t *testing.T, p provider, handler http.HandlerFunc) Archiver {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	secret := reposecret.Secret{Provider: p.name, Repository: p.repo, Token: token}
	ps := Providers{GitHubURL: srv.URL, BitbucketURL: srv.URL}
	if p.name == scm.BitbucketServer {
		secret.APIURL = srv.URL + "/bitbucket/"
	}
	a, err := ps.For(secret)
	require.NoError(t, err)
	return a
}

func TestEachProviderIsAskedForTheCommitsTarGz(t *testing.T) {
	t.Parallel()
	for _, p := range providers() {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			tree := sourceTree()
			archive := gitArchive(t, p.prefix, tree)
			// GitHub answers the API call with a redirect to codeload, another host.
			codeload := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				assert.Empty(t, r.Header.Get("Authorization"), "the token is not sent to the redirect's host")
				_, _ = w.Write(archive)
			}))
			t.Cleanup(codeload.Close)
			var asked atomic.Int32
			a := serve(t, p, func(w http.ResponseWriter, r *http.Request) {
				asked.Add(1)
				assert.Equal(t, http.MethodGet, r.Method)
				assert.Equal(t, p.path, r.URL.EscapedPath())
				assert.Equal(t, p.query, r.URL.RawQuery)
				assert.Equal(t, "Bearer "+token, r.Header.Get("Authorization"))
				assert.Empty(t, r.Header.Get("Accept-Encoding"), "a .tar.gz must arrive as it is")
				if p.name == scm.GitHub {
					assert.Equal(t, "2022-11-28", r.Header.Get("X-GitHub-Api-Version"))
					// localhost, not 127.0.0.1: another host, as codeload.github.com is.
					http.Redirect(w, r, strings.Replace(codeload.URL, "127.0.0.1", "localhost", 1)+"/octo/app/legacy.tar.gz/refs/heads/main?token=signed", http.StatusFound)
					return
				}
				w.Header().Set("Content-Type", "application/x-gzip")
				_, _ = w.Write(archive)
			})

			arc, err := a.Open(context.Background(), p.repo, commit)
			require.NoError(t, err)
			defer arc.Body.Close()
			assert.Equal(t, p.topDir, arc.TopDir)
			zipped := &strings.Builder{}
			_, err = Convert(context.Background(), zipped, arc.Body, arc.TopDir)
			require.NoError(t, err)
			assert.Equal(t, tree, extracted(t, []byte(zipped.String())))
			assert.EqualValues(t, 1, asked.Load())
		})
	}
}

func TestProviderRefusalsAreAPIErrorsWithoutTheToken(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		status int
		header map[string]string
		is     []error
		isNot  []error
	}{
		{"a missing repository or commit is not found", 404, nil, []error{scm.ErrNotFound}, []error{scm.ErrUnauthorized, ErrRateLimited}},
		{"refused credentials are unauthorized", 401, nil, []error{scm.ErrUnauthorized}, []error{scm.ErrNotFound, ErrRateLimited}},
		{"a token without read access is unauthorized", 403, nil, []error{scm.ErrUnauthorized}, []error{ErrRateLimited}},
		{"GitHub's exhausted rate limit is a rate limit", 403, map[string]string{"X-RateLimit-Remaining": "0"}, []error{ErrRateLimited}, nil},
		{"a secondary rate limit with Retry-After is a rate limit", 403, map[string]string{"Retry-After": "60"}, []error{ErrRateLimited}, nil},
		{"too many requests is a rate limit", 429, nil, []error{ErrRateLimited}, []error{scm.ErrUnauthorized}},
		{"a server error is only an API error", 502, nil, nil, []error{scm.ErrNotFound, scm.ErrUnauthorized, ErrRateLimited}},
	}
	for _, p := range providers() {
		for _, c := range cases {
			t.Run(p.name+": "+c.name, func(t *testing.T) {
				t.Parallel()
				a := serve(t, p, func(w http.ResponseWriter, r *http.Request) {
					for k, v := range c.header {
						w.Header().Set(k, v)
					}
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(c.status)
					// A server that echoes the credential it refused.
					_, _ = io.WriteString(w, p.errorBody("Repository not found for Bearer "+token))
				})
				_, err := a.Open(context.Background(), p.repo, commit)
				require.Error(t, err)
				var apiErr *scm.APIError
				require.ErrorAs(t, err, &apiErr)
				assert.Equal(t, c.status, apiErr.StatusCode)
				assert.Contains(t, apiErr.Message, "Repository not found for Bearer ***", "the provider's message, scrubbed")
				assert.NotContains(t, err.Error(), token)
				assert.Contains(t, err.Error(), p.repo)
				for _, target := range c.is {
					assert.ErrorIs(t, err, target)
				}
				for _, target := range c.isNot {
					assert.NotErrorIs(t, err, target)
				}
			})
		}
	}
}

func TestBitbucketsRedirectToItsSignInPageIsUnauthorized(t *testing.T) {
	t.Parallel()
	p := providers()[1]
	a := serve(t, p, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://id.atlassian.com/login?continue=https%3A%2F%2Fbitbucket.org%2Fteam%2Fapp&sig="+token, http.StatusFound)
	})
	_, err := a.Open(context.Background(), p.repo, commit)
	require.Error(t, err)
	assert.ErrorIs(t, err, scm.ErrUnauthorized)
	var apiErr *scm.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusFound, apiErr.StatusCode)
	assert.Contains(t, err.Error(), "id.atlassian.com/login")
	assert.NotContains(t, err.Error(), "sig=", "the redirect's query may be signed: it is left out")
	assert.NotContains(t, err.Error(), token)
}

func TestMalformedRepositoriesAndCommitsAreRefusedBeforeAnyRequest(t *testing.T) {
	t.Parallel()
	for _, p := range providers() {
		var asked atomic.Int32
		a := serve(t, p, func(http.ResponseWriter, *http.Request) { asked.Add(1) })
		for _, c := range []struct{ repo, commit string }{
			{"../../admin", commit},
			{"octo/app/extra", commit},
			{"octo/..", commit},
			{"octo", commit},
			{p.repo, "main"},
			{p.repo, "7fd1a60"},
			{p.repo, strings.ToUpper(commit)},
		} {
			_, err := a.Open(context.Background(), c.repo, c.commit)
			assert.Error(t, err, "%s %q at %q", p.name, c.repo, c.commit)
		}
		assert.Zero(t, asked.Load(), p.name)
	}
}

func TestProvidersBuildsAnArchiverOnlyForWhatItCanArchive(t *testing.T) {
	t.Parallel()
	_, err := Providers{}.For(reposecret.Secret{Provider: "codecommit", Repository: "app"})
	assert.ErrorIs(t, err, ErrUnsupportedProvider, "CodeCommit has no archive API")
	_, err = Providers{}.For(reposecret.Secret{Provider: "gitlab", Repository: "a/b"})
	assert.ErrorIs(t, err, ErrUnsupportedProvider)
	_, err = Providers{}.For(reposecret.Secret{Provider: scm.BitbucketServer, Repository: "P/r", Token: "t"})
	assert.ErrorContains(t, err, "api_url")
	_, err = Providers{}.For(reposecret.Secret{Provider: scm.BitbucketServer, Repository: "P/r", APIURL: "https://user:pw@bb.example.com"})
	assert.ErrorContains(t, err, "carries credentials")
	assert.NotContains(t, fmt.Sprint(err), "pw@")
	a, err := Providers{}.For(reposecret.Secret{Provider: scm.GitHub, Repository: "o/r", APIURL: "https://ghe.example.com/api/v3/"})
	require.NoError(t, err)
	assert.Equal(t, "https://ghe.example.com/api/v3", a.(*GitHub).d.url.String(), "a secret's api_url selects GitHub Enterprise Server")
}
