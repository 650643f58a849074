package bitbucketserver

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/scm"
	"github.com/stepline/stepline/pkg/scm/scmtest"
)

const testToken = "BBDC-Nzk2ODQ1NjI0NzE0OnRva2VuLXNlY3JldC12YWx1ZQ"

// newFakeServer is a Data Center stand-in answering with answer, mostly from testdata/api;
// it records the requests it saw and is closed with the test.
func newFakeServer(t *testing.T, answer func(w http.ResponseWriter, r *http.Request)) *scmtest.Server {
	t.Helper()
	return scmtest.NewServer(t, http.HandlerFunc(answer))
}

// serveFile answers with a recorded body from testdata/api.
func serveFile(t *testing.T, w http.ResponseWriter, status int, name string) {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", "api", name))
	if err != nil {
		t.Errorf("read %s: %v", name, err)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// pagedChanges serves the two recorded pages by their start parameter.
func pagedChanges(t *testing.T) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("start") {
		case "0":
			serveFile(t, w, http.StatusOK, "changes-page-1.json")
		case "2":
			serveFile(t, w, http.StatusOK, "changes-page-2.json")
		default:
			t.Errorf("unexpected start %q", r.URL.Query().Get("start"))
			w.WriteHeader(http.StatusBadRequest)
		}
	}
}

func newTestClient(t *testing.T, f *scmtest.Server, opts ...Option) *Client {
	t.Helper()
	c, err := NewClient(f.URL+"/bitbucket/", append([]Option{WithHTTPClient(f.Client()), WithToken(testToken)}, opts...)...)
	require.NoError(t, err)
	return c
}

func TestChangedFilesReadsEveryPage(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, pagedChanges(t))
	files, complete, err := newTestClient(t, f, WithPageLimit(2)).ChangedFiles(context.Background(), "PROJ/repository", shaC, shaB)
	require.NoError(t, err)
	assert.True(t, complete)
	assert.Equal(t, []string{
		"docs/auth.md", "docs/login.md", // a move counts at both paths
		"src/login/handler.go", "src/login/handler_test.go", "src/login/legacy.go",
		"src/login/template.html", // a copy's source is unchanged
	}, files)

	reqs := f.Requests()
	require.Len(t, reqs, 2)
	for i, r := range reqs {
		assert.Equal(t, http.MethodGet, r.Method)
		assert.Equal(t, "/bitbucket/rest/api/latest/projects/PROJ/repos/repository/compare/changes", r.URL.Path)
		q := r.URL.Query()
		assert.Equal(t, shaB, q.Get("from"), "from is the head: the changes it has")
		assert.Equal(t, shaC, q.Get("to"), "to is the base: the changes it lacks")
		assert.Equal(t, "2", q.Get("limit"))
		assert.Equal(t, []string{"0", "2"}[i], q.Get("start"))
		assert.Equal(t, "Bearer "+testToken, r.Header.Get("Authorization"))
		assert.Equal(t, "application/json", r.Header.Get("Accept"))
	}
}

func TestChangedFilesStopsAtThePageCapAsIncomplete(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, pagedChanges(t))
	files, complete, err := newTestClient(t, f, WithPageLimit(2), WithMaxPages(1)).ChangedFiles(context.Background(), "PROJ/repository", shaC, shaB)
	require.NoError(t, err)
	assert.False(t, complete)
	assert.Equal(t, []string{"src/login/handler.go", "src/login/handler_test.go"}, files)
	assert.Len(t, f.Requests(), 1)
}

func TestChangedFilesErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		status  int
		file    string
		is      error
		message string
	}{
		{"a missing commit is not found with Data Center's message", http.StatusNotFound, "error-404.json", scm.ErrNotFound, "does not exist in repository"},
		{"a rejected token is unauthorized", http.StatusUnauthorized, "error-401.json", scm.ErrUnauthorized, "Authentication failed"},
		{"a token without read permission is unauthorized", http.StatusForbidden, "error-401.json", scm.ErrUnauthorized, "403 Forbidden"},
		{"a server error is neither", http.StatusInternalServerError, "error-404.json", nil, "500 Internal Server Error"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeServer(t, func(w http.ResponseWriter, _ *http.Request) { serveFile(t, w, c.status, c.file) })
			files, complete, err := newTestClient(t, f).ChangedFiles(context.Background(), "PROJ/repository", shaC, shaB)
			require.Error(t, err)
			assert.Nil(t, files)
			assert.False(t, complete)
			var api *scm.APIError
			require.ErrorAs(t, err, &api)
			assert.Equal(t, c.status, api.StatusCode)
			assert.Equal(t, "bitbucket data center", api.Provider)
			if c.is != nil {
				assert.ErrorIs(t, err, c.is)
			} else {
				assert.NotErrorIs(t, err, scm.ErrNotFound)
				assert.NotErrorIs(t, err, scm.ErrUnauthorized)
			}
			assert.Contains(t, err.Error(), c.message)
			assert.Contains(t, err.Error(), "PROJ/repository", "the error says which repository")
			assert.NotContains(t, err.Error(), testToken)
		})
	}
}

func TestChangedFilesScrubsTheTokenFromAnEchoedMessage(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"errors":[{"message":"bad header ` + r.Header.Get("Authorization") + `"}]}`))
	})
	_, _, err := newTestClient(t, f).ChangedFiles(context.Background(), "PROJ/repository", shaC, shaB)
	require.ErrorIs(t, err, scm.ErrUnauthorized)
	assert.NotContains(t, err.Error(), testToken)
	assert.Contains(t, err.Error(), "bad header Bearer [token]")
}

func TestChangedFilesRefusesAPageWithoutALaterOne(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"values":[],"isLastPage":false,"start":0,"nextPageStart":0}`))
	})
	_, complete, err := newTestClient(t, f).ChangedFiles(context.Background(), "PROJ/repository", shaC, shaB)
	require.ErrorContains(t, err, "names no later page")
	assert.False(t, complete)
	assert.Len(t, f.Requests(), 1, "the client does not loop on the same page")
}

func TestChangedFilesRefusesABodyThatIsNotAPage(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`<html>login</html>`)) })
	_, _, err := newTestClient(t, f).ChangedFiles(context.Background(), "PROJ/repository", shaC, shaB)
	require.ErrorContains(t, err, "decode the page at 0")
}

func TestChangedFilesWithoutARangeAsksNothing(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, pagedChanges(t))
	c := newTestClient(t, f)
	for _, pair := range [][2]string{{scm.ZeroSHA, shaB}, {shaA, scm.ZeroSHA}, {"", shaB}} {
		files, complete, err := c.ChangedFiles(context.Background(), "PROJ/repository", pair[0], pair[1])
		require.NoError(t, err)
		assert.Nil(t, files)
		assert.False(t, complete, "an unknown list is incomplete, so path filters may match")
	}
	assert.Empty(t, f.Requests())
}

func TestChangedFilesRefusesARepositoryNotNamedProjectSlash(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, pagedChanges(t))
	c := newTestClient(t, f)
	for _, repo := range []string{"", "repository", "PROJ/", "/repository", "PROJ/a/b", "PROJ/.."} {
		_, _, err := c.ChangedFiles(context.Background(), repo, shaC, shaB)
		assert.ErrorContains(t, err, "is not PROJECT/slug", repo)
	}
	assert.Empty(t, f.Requests())
}

func TestChangedFilesOfAPersonalRepositoryWithoutAToken(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, pagedChanges(t))
	c, err := NewClient(f.URL, WithHTTPClient(f.Client()), WithPageLimit(2))
	require.NoError(t, err)
	_, complete, err := c.ChangedFiles(context.Background(), "~jdoe/dotfiles", "main", "feature/x")
	require.NoError(t, err)
	assert.True(t, complete)
	reqs := f.Requests()
	require.NotEmpty(t, reqs)
	assert.Equal(t, "/rest/api/latest/projects/~jdoe/repos/dotfiles/compare/changes", reqs[0].URL.Path)
	assert.Equal(t, "feature/x", reqs[0].URL.Query().Get("from"), "branch names pass as refs")
	assert.Empty(t, reqs[0].Header.Get("Authorization"))
}

func TestChangedFilesHonoursTheContext(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, pagedChanges(t))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := newTestClient(t, f).ChangedFiles(ctx, "PROJ/repository", shaC, shaB)
	assert.True(t, errors.Is(err, context.Canceled), "got %v", err)
}

func TestNewClientRefusesABaseURL(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, url, says string }{
		{"an empty one", "", "absolute http(s) URL"},
		{"one without a scheme", "bitbucket.example.com", "absolute http(s) URL"},
		{"one of another scheme", "ssh://git@bitbucket.example.com:7999", "absolute http(s) URL"},
		{"one that does not parse", "https://bitbucket.example.com/%zz", "absolute http(s) URL"},
		{"one with credentials, without echoing them", "https://ci:hunter2@bitbucket.example.com", "pass a token with WithToken"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewClient(c.url)
			require.ErrorContains(t, err, c.says)
			assert.NotContains(t, err.Error(), "hunter2")
		})
	}
}
