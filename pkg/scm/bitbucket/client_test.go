package bitbucket

import (
	"encoding/base64"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/scm"
	"github.com/stepline/stepline/pkg/scm/scmtest"
)

const (
	apiHead  = "c3b1e5d7f9a2c4e6b8d0f1a3c5e7b9d2f4a6c8e0"
	apiBase  = "4e1d7f3a9b2c8d6e5f4a3b2c1d0e9f8a7b6c5d4e"
	apiToken = "ATCTT3xFfGN0-test-token-never-logged"
	diffPath = "/2.0/repositories/acme/widgets/diffstat/" + apiHead + ".." + apiBase
)

// fakeAPI is a Bitbucket Cloud API serving the recorded-shape files of testdata/api.
type fakeAPI struct {
	*scmtest.Server
}

// newFakeAPI serves route(r) as (status, file) and records every request.
func newFakeAPI(t *testing.T, route func(r *http.Request) (int, string)) *fakeAPI {
	t.Helper()
	f := &fakeAPI{}
	f.Server = scmtest.NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, file := route(r)
		body, err := os.ReadFile(filepath.Join("testdata", "api", file))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		s := strings.ReplaceAll(string(body), "{{server}}", f.URL)
		s = strings.ReplaceAll(s, "{{authorization}}", r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(s))
	}))
	return f
}

func (f *fakeAPI) client(opts ...Option) *Client {
	return NewClient(append([]Option{WithBaseURL(f.URL + "/2.0"), WithHTTPClient(f.Client())}, opts...)...)
}

// pages serves the two-page diffstat, page 2 when asked for it.
func pages(r *http.Request) (int, string) {
	if r.URL.Query().Get("page") == "2" {
		return http.StatusOK, "diffstat-page-2.json"
	}
	return http.StatusOK, "diffstat-page-1.json"
}

func TestChangedFilesFollowsNextAcrossPages(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t, pages)
	files, complete, err := api.client(WithToken(apiToken)).ChangedFiles(t.Context(), "acme/widgets", apiBase, apiHead)
	require.NoError(t, err)
	assert.True(t, complete)
	assert.Equal(t, []string{"docs/export.md", "scripts/old.sh", "setup.py", "src/legacy/upload.py", "src/upload.py"}, files,
		"sorted, without duplicates, the old and new side of every entry")

	reqs := api.Requests()
	require.Len(t, reqs, 2)
	first := reqs[0]
	assert.Equal(t, diffPath, first.URL.Path, "Bitbucket's spec puts the new commit first")
	assert.Equal(t, "500", first.URL.Query().Get("pagelen"))
	assert.Equal(t, "true", first.URL.Query().Get("topic"), "the merge-base diff, as the other providers compare, unless asked for a plain diff")
	assert.Equal(t, "application/json", first.Header.Get("Accept"))
	for _, r := range reqs {
		assert.Equal(t, "Bearer "+apiToken, r.Header.Get("Authorization"))
	}
	assert.Equal(t, "2", reqs[1].URL.Query().Get("page"), "the second request is the next link")
}

func TestChangedFilesListsBothPathsOfARename(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t, func(*http.Request) (int, string) { return http.StatusOK, "diffstat-renamed.json" })
	files, complete, err := api.client().ChangedFiles(t.Context(), "acme/widgets", apiBase, apiHead)
	require.NoError(t, err)
	assert.True(t, complete)
	assert.Equal(t, []string{"docs/notes.md", "docs/old-notes.md"}, files)
}

func TestChangedFilesStopsAtThePageCapAndSaysSo(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t, pages)
	files, complete, err := api.client(WithMaxPages(1)).ChangedFiles(t.Context(), "acme/widgets", apiBase, apiHead)
	require.NoError(t, err)
	assert.False(t, complete, "a next link was left unfollowed")
	assert.Equal(t, []string{"docs/export.md", "setup.py"}, files)
	assert.Len(t, api.Requests(), 1)
}

func TestChangedFilesAsksForAPlainDiffWhenTold(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t, func(*http.Request) (int, string) { return http.StatusOK, "diffstat-renamed.json" })
	_, _, err := api.client(WithPlainDiff()).ChangedFiles(t.Context(), "acme/widgets", apiBase, apiHead)
	require.NoError(t, err)
	assert.Equal(t, "false", api.Requests()[0].URL.Query().Get("topic"))
}

func TestChangedFilesSendsBasicAuth(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t, func(*http.Request) (int, string) { return http.StatusOK, "diffstat-renamed.json" })
	_, _, err := api.client(WithBasicAuth("ana@acme.example", apiToken)).ChangedFiles(t.Context(), "acme/widgets", apiBase, apiHead)
	require.NoError(t, err)
	user, pass, ok := api.Requests()[0].BasicAuth()
	require.True(t, ok)
	assert.Equal(t, "ana@acme.example", user)
	assert.Equal(t, apiToken, pass)
}

func TestChangedFilesEscapesAWorkspaceUUID(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t, func(*http.Request) (int, string) { return http.StatusOK, "diffstat-renamed.json" })
	_, _, err := api.client().ChangedFiles(t.Context(), "{0c1d2e3f-4a5b}/widgets", apiBase, apiHead)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(api.Requests()[0].URL.EscapedPath(), "/2.0/repositories/%7B0c1d2e3f-4a5b%7D/widgets/diffstat/"))
}

func TestChangedFilesErrors(t *testing.T) {
	t.Parallel()
	basic := base64.StdEncoding.EncodeToString([]byte("ana@acme.example:" + apiToken))
	cases := []struct {
		name   string
		status int
		file   string
		auth   Option
		want   error
		says   string
	}{
		{"a 404 is scm.ErrNotFound with Bitbucket's message", http.StatusNotFound, "error-not-found.json", WithToken(apiToken), scm.ErrNotFound, "404 Not Found: Commit not found"},
		{"a 401 is scm.ErrUnauthorized and never shows the token", http.StatusUnauthorized, "error-unauthorized.json", WithToken(apiToken), scm.ErrUnauthorized, "401 Unauthorized"},
		{"a 401 never shows basic credentials either", http.StatusUnauthorized, "error-unauthorized.json", WithBasicAuth("ana@acme.example", apiToken), scm.ErrUnauthorized, "[redacted]"},
		{"a 403 is scm.ErrUnauthorized too", http.StatusForbidden, "error-not-found.json", WithToken(apiToken), scm.ErrUnauthorized, "403 Forbidden"},
		{"a 500 is neither", http.StatusInternalServerError, "error-not-found.json", WithToken(apiToken), nil, "500 Internal Server Error"},
		{"a 200 whose body is not a diffstat page is an error", http.StatusOK, "error-not-found.json", WithToken(apiToken), nil, "not a diffstat page"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			api := newFakeAPI(t, func(*http.Request) (int, string) { return c.status, c.file })
			files, complete, err := api.client(c.auth).ChangedFiles(t.Context(), "acme/widgets", apiBase, apiHead)
			require.Error(t, err)
			assert.Nil(t, files)
			assert.False(t, complete)
			if c.want != nil {
				assert.ErrorIs(t, err, c.want)
			} else {
				assert.NotErrorIs(t, err, scm.ErrNotFound)
				assert.NotErrorIs(t, err, scm.ErrUnauthorized)
			}
			var apiErr *scm.APIError
			if assert.Equal(t, c.status != http.StatusOK, errors.As(err, &apiErr), "an answer other than 200 is an *scm.APIError") && apiErr != nil {
				assert.Equal(t, c.status, apiErr.StatusCode)
				assert.Equal(t, "bitbucket", apiErr.Provider)
			}
			msg := err.Error()
			assert.Contains(t, msg, c.says)
			assert.Contains(t, msg, "acme/widgets", "the error names the repository")
			assert.Contains(t, msg, apiHead, "the error names the commits")
			assert.NotContains(t, msg, apiToken)
			assert.NotContains(t, msg, basic)
		})
	}
}

func TestChangedFilesRefusesANextLinkToAnotherHost(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t, pages)
	// The client knows the fake as localhost; its next link names it 127.0.0.1, another host
	// as far as credentials go.
	base := strings.Replace(api.URL, "127.0.0.1", "localhost", 1) + "/2.0"
	_, _, err := NewClient(WithBaseURL(base), WithHTTPClient(api.Client()), WithToken(apiToken)).
		ChangedFiles(t.Context(), "acme/widgets", apiBase, apiHead)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "leaves localhost")
	assert.Len(t, api.Requests(), 1, "the token went nowhere else")
}

func TestChangedFilesRefusesWhatItCannotAsk(t *testing.T) {
	t.Parallel()
	api := newFakeAPI(t, pages)
	c := api.client(WithToken(apiToken))
	cases := []struct {
		name             string
		repo, base, head string
		want             error
	}{
		{"a created ref has no base to compare with", "acme/widgets", "", apiHead, ErrNoBase},
		{"an all-zero base is no base either", "acme/widgets", "0000000000000000000000000000000000000000", apiHead, ErrNoBase},
		{"a repository without a workspace is refused", "widgets", apiBase, apiHead, nil},
		{"a repository with a nested path is refused", "acme/widgets/extra", apiBase, apiHead, nil},
		{"an empty head is refused", "acme/widgets", apiBase, "", nil},
		{"a commit that is itself a range is refused", "acme/widgets", apiBase, "main..dev", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := c.ChangedFiles(t.Context(), tc.repo, tc.base, tc.head)
			require.Error(t, err)
			if tc.want != nil {
				assert.True(t, errors.Is(err, tc.want), "got %v", err)
			}
		})
	}
	assert.Empty(t, api.Requests(), "nothing was asked of the API")
}

func TestNewClientDefaultsToBitbucketCloud(t *testing.T) {
	t.Parallel()
	c := NewClient()
	assert.Equal(t, "https://api.bitbucket.org/2.0", c.baseURL)
	assert.Equal(t, DefaultMaxPages, c.maxPages)
	assert.Empty(t, c.authz, "unauthenticated unless told otherwise")
	assert.NotZero(t, c.http.Timeout)
}
