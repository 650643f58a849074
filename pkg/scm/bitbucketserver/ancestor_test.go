package bitbucketserver

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/scm"
)

func TestIsAncestorAsksForTheCommitsTheDescendantLacks(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		file     string
		ancestor bool
	}{
		{"no commit of the ancestor missing from the descendant means an ancestor", "commits-none.json", true},
		{"a commit of the old head missing from the new one means a rewrite", "commits-one.json", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeServer(t, func(w http.ResponseWriter, _ *http.Request) { serveFile(t, w, http.StatusOK, c.file) })
			got, err := newTestClient(t, f).IsAncestor(context.Background(), "PROJ/repository", shaA, shaB)
			require.NoError(t, err)
			assert.Equal(t, c.ancestor, got)

			reqs := f.Requests()
			require.Len(t, reqs, 1)
			r := reqs[0]
			assert.Equal(t, http.MethodGet, r.Method)
			assert.Equal(t, "/bitbucket/rest/api/latest/projects/PROJ/repos/repository/commits", r.URL.Path)
			q := r.URL.Query()
			assert.Equal(t, shaB, q.Get("since"), "since is the descendant: its history is left out")
			assert.Equal(t, shaA, q.Get("until"), "until is the ancestor: what of its history is left")
			assert.Equal(t, "1", q.Get("limit"), "one commit settles it")
			assert.Equal(t, "Bearer "+testToken, r.Header.Get("Authorization"))
			assert.Equal(t, "application/json", r.Header.Get("Accept"))
		})
	}
}

func TestIsAncestorErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		status  int
		file    string
		is      error
		message string
	}{
		{"a commit the repository lacks is not found, with Data Center's message", http.StatusNotFound, "error-404.json", scm.ErrNotFound, "does not exist in repository"},
		{"a rejected token is unauthorized", http.StatusUnauthorized, "error-401.json", scm.ErrUnauthorized, "Authentication failed"},
		{"a server error is neither", http.StatusInternalServerError, "error-404.json", nil, "500 Internal Server Error"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeServer(t, func(w http.ResponseWriter, _ *http.Request) { serveFile(t, w, c.status, c.file) })
			got, err := newTestClient(t, f).IsAncestor(context.Background(), "PROJ/repository", shaA, shaB)
			require.Error(t, err)
			assert.False(t, got, "an error never says ancestor")
			var api *scm.APIError
			require.ErrorAs(t, err, &api)
			assert.Equal(t, c.status, api.StatusCode)
			if c.is != nil {
				assert.ErrorIs(t, err, c.is)
			} else {
				assert.NotErrorIs(t, err, scm.ErrNotFound)
				assert.NotErrorIs(t, err, scm.ErrUnauthorized)
			}
			assert.Contains(t, err.Error(), c.message)
			assert.Contains(t, err.Error(), "is 178864a7d521 an ancestor of ef8755f06ee4 in PROJ/repository")
			assert.NotContains(t, err.Error(), testToken)
		})
	}
}

func TestIsAncestorRefusesAnAnswerThatIsNotAPageOfCommits(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"a login page":       `<html>login</html>`,
		"an object, no page": `{"errors": []}`,
		"null values":        `{"values": null, "isLastPage": true}`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFakeServer(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(body)) })
			got, err := newTestClient(t, f).IsAncestor(context.Background(), "PROJ/repository", shaA, shaB)
			require.Error(t, err)
			assert.False(t, got)
			assert.Contains(t, err.Error(), "in PROJ/repository")
		})
	}
}

func TestIsAncestorWithoutTwoCommitsAsksNothing(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, func(w http.ResponseWriter, _ *http.Request) { serveFile(t, w, http.StatusOK, "commits-none.json") })
	c := newTestClient(t, f)
	for _, pair := range [][3]string{
		{"PROJ/repository", scm.ZeroSHA, shaB},
		{"PROJ/repository", shaA, ""},
		{"PROJ/a/b", shaA, shaB},
		{"repository", shaA, shaB},
	} {
		got, err := c.IsAncestor(context.Background(), pair[0], pair[1], pair[2])
		assert.Error(t, err, "%v", pair)
		assert.False(t, got)
	}
	assert.Empty(t, f.Requests())
}

func TestIsAncestorHonoursTheContext(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, func(w http.ResponseWriter, _ *http.Request) { serveFile(t, w, http.StatusOK, "commits-none.json") })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	got, err := newTestClient(t, f).IsAncestor(ctx, "PROJ/repository", shaA, shaB)
	assert.True(t, errors.Is(err, context.Canceled), "got %v", err)
	assert.False(t, got)
}
