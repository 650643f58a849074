package github

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	gh "github.com/google/go-github/v81/github"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/scm"
	"github.com/stepline/stepline/pkg/scm/scmtest"
)

const (
	testToken = "ghs_16C7e42F292c6912E7710c838347Ae178B4a"
	baseSHA   = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
	headSHA   = "0328041d1152db8ae77652d1618a02e57f745f17"
)

// apiPage is one answer of the fake API: its status, body and whether a next page follows.
type apiPage struct {
	status int
	body   []byte
	next   bool
}

// fakeAPI serves compare pages by their page query parameter.
type fakeAPI []apiPage

func (f fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := 1
	if p := r.URL.Query().Get("page"); p != "" {
		n, _ = strconv.Atoi(p)
	}
	if n < 1 || n > len(f) {
		http.Error(w, `{"message":"no such page"}`, http.StatusInternalServerError)
		return
	}
	pg := f[n-1]
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if pg.next {
		u := *r.URL
		q := u.Query()
		q.Set("page", strconv.Itoa(n+1))
		u.RawQuery = q.Encode()
		w.Header().Set("Link", fmt.Sprintf(`<http://%s%s>; rel="next"`, r.Host, u.String()))
	}
	w.WriteHeader(pg.status)
	_, _ = w.Write(pg.body)
}

// serve starts a fake API, which records the requests, and a Client pointed at it.
func serve(t *testing.T, pages ...apiPage) (*Client, *scmtest.Server) {
	t.Helper()
	srv := scmtest.NewServer(t, fakeAPI(pages))
	c, err := NewClient(testToken, WithBaseURL(srv.URL), WithHTTPClient(srv.Client()))
	require.NoError(t, err)
	return c, srv
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "api", name))
	require.NoError(t, err)
	return b
}

// withFiles returns the recorded comparison with its files replaced by n copies of its first
// file entry, renamed prefix0000.txt and on, so a page can be as full as GitHub's cap.
func withFiles(t *testing.T, n int, prefix string) []byte {
	t.Helper()
	var cmp map[string]any
	require.NoError(t, json.Unmarshal(fixture(t, "compare-ahead.json"), &cmp))
	first := cmp["files"].([]any)[0].(map[string]any)
	files := make([]any, n)
	for i := range files {
		e := map[string]any{}
		for k, v := range first {
			e[k] = v
		}
		e["filename"] = fmt.Sprintf("%s%04d.txt", prefix, i)
		files[i] = e
	}
	cmp["files"] = files
	b, err := json.Marshal(cmp)
	require.NoError(t, err)
	return b
}

func TestChangedFilesThroughTheCompareAPI(t *testing.T) {
	t.Parallel()
	ok := func(body []byte, next bool) apiPage { return apiPage{http.StatusOK, body, next} }
	tenFull := make([]apiPage, 11)
	for i := range tenFull {
		tenFull[i] = ok(withFiles(t, compareFileCap, fmt.Sprintf("p%02d/", i)), true)
	}
	cases := []struct {
		name     string
		pages    []apiPage
		files    int
		complete bool
		requests int
	}{
		{"a small comparison lists every path in one request", []apiPage{ok(fixture(t, "compare-ahead.json"), false)}, 5, true, 1},
		{"300 files on the only page may be GitHub's cap", []apiPage{ok(withFiles(t, 300, "a/"), false)}, 300, false, 1},
		{"300 files followed by a page without files are GitHub's cap", []apiPage{
			ok(withFiles(t, 300, "a/"), true), ok(fixture(t, "compare-page-2.json"), false),
		}, 300, false, 2},
		{"a later page that lists more files extends the list", []apiPage{
			ok(withFiles(t, 300, "a/"), true), ok(withFiles(t, 5, "b/"), false),
		}, 305, true, 2},
		{"3000 files over ten pages reach the total cap and stop the paging", tenFull, 3000, false, 10},
		{"299 files are whole", []apiPage{ok(withFiles(t, 299, "a/"), true)}, 299, true, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			client, api := serve(t, c.pages...)
			files, complete, err := client.ChangedFiles(context.Background(), "octocat/Hello-World", baseSHA, headSHA)
			require.NoError(t, err)
			assert.Len(t, files, c.files)
			assert.Equal(t, c.complete, complete)
			assert.Len(t, api.Requests(), c.requests)
		})
	}
}

func TestChangedFilesListsRenamesUnderBothPathsSorted(t *testing.T) {
	t.Parallel()
	client, _ := serve(t, apiPage{http.StatusOK, fixture(t, "compare-ahead.json"), false})
	files, complete, err := client.ChangedFiles(context.Background(), "octocat/Hello-World", baseSHA, headSHA)
	require.NoError(t, err)
	assert.True(t, complete)
	assert.Equal(t, []string{"README-guide.md", "docs/guide.md", "file1.txt", "scripts/old.sh", "src/hello.go"}, files)
}

func TestChangedFilesSendsTheTokenAndPagesTheComparison(t *testing.T) {
	t.Parallel()
	srv := scmtest.NewServer(t, http.StripPrefix("/api/v3", fakeAPI{
		{http.StatusOK, withFiles(t, 300, "a/"), true},
		{http.StatusOK, fixture(t, "compare-page-2.json"), false},
	}))
	client, err := NewClient(testToken, WithBaseURL(srv.URL+"/api/v3"))
	require.NoError(t, err)
	_, _, err = client.ChangedFiles(context.Background(), "octocat/Hello-World", baseSHA, headSHA)
	require.NoError(t, err)
	reqs := srv.Requests()
	require.Len(t, reqs, 2)
	for i, r := range reqs {
		assert.Equal(t, http.MethodGet, r.Method)
		assert.Equal(t, "/api/v3/repos/octocat/Hello-World/compare/"+baseSHA+"..."+headSHA, r.URL.Path)
		assert.Equal(t, "Bearer "+testToken, r.Header.Get("Authorization"))
		assert.NotEmpty(t, r.Header.Get("X-GitHub-Api-Version"))
		assert.Equal(t, "100", r.URL.Query().Get("per_page"))
		if i > 0 {
			assert.Equal(t, strconv.Itoa(i+1), r.URL.Query().Get("page"))
		}
	}
}

func TestChangedFilesWithoutATokenSendsNoAuthorization(t *testing.T) {
	t.Parallel()
	srv := scmtest.NewServer(t, fakeAPI{{http.StatusOK, fixture(t, "compare-ahead.json"), false}})
	client, err := NewClient("", WithBaseURL(srv.URL))
	require.NoError(t, err)
	_, _, err = client.ChangedFiles(context.Background(), "octocat/Hello-World", baseSHA, headSHA)
	require.NoError(t, err)
	assert.Empty(t, srv.Requests()[0].Header.Get("Authorization"))
}

func TestChangedFilesErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		page apiPage
		want error // a sentinel in the chain, or nil for none
	}{
		{"a 404 is not found", apiPage{http.StatusNotFound, fixture(t, "not-found.json"), false}, scm.ErrNotFound},
		{"a 401 is a refused token", apiPage{http.StatusUnauthorized, fixture(t, "bad-credentials.json"), false}, scm.ErrUnauthorized},
		{"a 403 is a token without the permission", apiPage{http.StatusForbidden, []byte(`{"message":"Resource not accessible by personal access token","documentation_url":"https://docs.github.com/rest/commits/commits#compare-two-commits","status":"403"}`), false}, scm.ErrUnauthorized},
		{"a 502 is neither", apiPage{http.StatusBadGateway, []byte(`{"message":"Server Error"}`), false}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			client, _ := serve(t, c.page)
			files, complete, err := client.ChangedFiles(context.Background(), "octocat/Hello-World", baseSHA, headSHA)
			require.Error(t, err)
			assert.Nil(t, files)
			assert.False(t, complete)
			var er *gh.ErrorResponse
			require.True(t, errors.As(err, &er), "go-github's error stays in the chain: %T", err)
			assert.Equal(t, c.page.status, er.Response.StatusCode)
			for _, s := range []error{scm.ErrNotFound, scm.ErrUnauthorized} {
				assert.Equal(t, s == c.want, errors.Is(err, s), "errors.Is(%v)", s)
			}
			var apiErr *scm.APIError
			if assert.Equal(t, c.want != nil, errors.As(err, &apiErr), "a 404, 401 or 403 is an *scm.APIError") && apiErr != nil {
				assert.Equal(t, c.page.status, apiErr.StatusCode)
				assert.Equal(t, "github", apiErr.Provider)
				assert.Contains(t, err.Error(), "github answered "+strconv.Itoa(c.page.status))
			}
			assert.Contains(t, err.Error(), "compare octocat/Hello-World 6dcb09b5b578...0328041d1152")
			assert.NotContains(t, err.Error(), testToken)
		})
	}
}

func TestChangedFilesRefusesBadArgumentsWithoutARequest(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, repo, base, head string }{
		{"a repository without an owner", "Hello-World", baseSHA, headSHA},
		{"a repository with a path in it", "octocat/Hello-World/../x", baseSHA, headSHA},
		{"a repository with a query in it", "octocat/x?y=1", baseSHA, headSHA},
		{"an empty base", "octocat/Hello-World", "", headSHA},
		{"an all-zero base", "octocat/Hello-World", scm.ZeroSHA, headSHA},
		{"an all-zero head", "octocat/Hello-World", baseSHA, scm.ZeroSHA},
	}
	for _, c := range cases {
		t.Run(c.name+" is refused", func(t *testing.T) {
			t.Parallel()
			client, api := serve(t, apiPage{http.StatusOK, fixture(t, "compare-ahead.json"), false})
			_, _, err := client.ChangedFiles(context.Background(), c.repo, c.base, c.head)
			require.Error(t, err)
			assert.Empty(t, api.Requests())
		})
	}
}

func TestNewClientRefusesARelativeBaseURL(t *testing.T) {
	t.Parallel()
	_, err := NewClient(testToken, WithBaseURL("api/v3"))
	require.Error(t, err)
	assert.NotContains(t, err.Error(), testToken)
}

// TestChangedFilesReadsOnlyTheFileNames: the comparison carries commits, dates, counts and
// patches stepline does not read; none of them, whatever its type, may fail the list.
func TestChangedFilesReadsOnlyTheFileNames(t *testing.T) {
	t.Parallel()
	var cmp map[string]any
	require.NoError(t, json.Unmarshal(fixture(t, "compare-ahead.json"), &cmp))
	cmp["ahead_by"], cmp["total_commits"], cmp["status"] = "1", "many", 3
	cmp["commits"] = []any{map[string]any{"sha": headSHA, "commit": map[string]any{"author": map[string]any{"date": "yesterday"}}}}
	cmp["merge_base_commit"] = "6dcb09b"
	for _, f := range cmp["files"].([]any) {
		f.(map[string]any)["additions"], f.(map[string]any)["changes"], f.(map[string]any)["patch"] = "3", nil, 7
	}
	body, err := json.Marshal(cmp)
	require.NoError(t, err)
	c, _ := serve(t, apiPage{status: http.StatusOK, body: body})
	files, complete, err := c.ChangedFiles(context.Background(), "octocat/Hello-World", baseSHA, headSHA)
	require.NoError(t, err)
	assert.True(t, complete)
	assert.NotEmpty(t, files)
}

func TestChangedFilesRefusesAFileNameOfAnotherType(t *testing.T) {
	t.Parallel()
	body := []byte(`{"files":[{"filename":42}]}`)
	c, _ := serve(t, apiPage{status: http.StatusOK, body: body})
	_, _, err := c.ChangedFiles(context.Background(), "octocat/Hello-World", baseSHA, headSHA)
	require.Error(t, err)
}
