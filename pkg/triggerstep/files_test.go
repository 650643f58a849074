package triggerstep

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/reposecret"
	"github.com/stepline/stepline/pkg/scm"
)

const (
	testCommit = "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
	testToken  = "tok-very-secret"
	testYAML   = "version: 1\npipelines: []\n"
)

// githubContents answers GitHub's "Get repository content" as api.github.com does: the file
// base64-encoded in lines of 60 characters, or the documented 404 body.
func githubContents(t *testing.T, files map[string]string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "Bearer "+testToken, r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		body, ok := files[r.URL.Path+"@"+r.URL.Query().Get("ref")]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"message":"Not Found","documentation_url":"https://docs.github.com/rest/repos/contents#get-repository-content","status":"404"}`)
			return
		}
		enc := base64.StdEncoding.EncodeToString([]byte(body))
		var lines string
		for len(enc) > 60 {
			lines += enc[:60] + "\n"
			enc = enc[60:]
		}
		lines += enc + "\n"
		fmt.Fprintf(w, `{"name":".stepline.yml","path":".stepline.yml","sha":"3d21ec53a331a6f037a91c368710b99387d012c1","size":%d,`+
			`"url":"https://api.github.com/repos/o/r/contents/.stepline.yml?ref=%[2]s","html_url":"https://github.com/o/r/blob/%[2]s/.stepline.yml",`+
			`"git_url":"https://api.github.com/repos/o/r/git/blobs/3d21ec53a331a6f037a91c368710b99387d012c1","download_url":"https://raw.githubusercontent.com/o/r/%[2]s/.stepline.yml",`+
			`"type":"file","content":%[3]q,"encoding":"base64","_links":{"self":"https://api.github.com/repos/o/r/contents/.stepline.yml?ref=%[2]s"}}`,
			len(body), testCommit, lines)
	}
}

func TestEachProviderReaderReadsTheFileAtTheCommit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		secret  func(url string) reposecret.Secret
		bbURL   func(url string) string
		repo    string
		handler http.HandlerFunc
	}{
		{
			name: "github reads the contents API at the commit",
			secret: func(u string) reposecret.Secret {
				return reposecret.Secret{Provider: "github", Token: testToken, APIURL: u + "/api/v3"}
			},
			repo:    "octo/api",
			handler: githubContents(t, map[string]string{"/api/v3/repos/octo/api/contents/.stepline.yml@" + testCommit: testYAML}),
		},
		{
			name:   "bitbucket cloud reads src at the commit",
			secret: func(string) reposecret.Secret { return reposecret.Secret{Provider: "bitbucket", Token: testToken} },
			bbURL:  func(u string) string { return u + "/2.0" },
			repo:   "team/api",
			handler: func(w http.ResponseWriter, r *http.Request) {
				assert.Equal(t, "Bearer "+testToken, r.Header.Get("Authorization"))
				if r.URL.Path != "/2.0/repositories/team/api/src/"+testCommit+"/.stepline.yml" {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusNotFound)
					fmt.Fprint(w, `{"type": "error", "error": {"message": "No such file or directory: .stepline.yml"}}`)
					return
				}
				w.Header().Set("Content-Type", "text/plain")
				fmt.Fprint(w, testYAML)
			},
		},
		{
			name: "bitbucket data center reads raw at the commit",
			secret: func(u string) reposecret.Secret {
				return reposecret.Secret{Provider: "bitbucket-server", Token: testToken, APIURL: u + "/bitbucket"}
			},
			repo: "PROJ/api",
			handler: func(w http.ResponseWriter, r *http.Request) {
				assert.Equal(t, "Bearer "+testToken, r.Header.Get("Authorization"))
				if r.URL.Path != "/bitbucket/rest/api/latest/projects/PROJ/repos/api/raw/.stepline.yml" || r.URL.Query().Get("at") != testCommit {
					w.Header().Set("Content-Type", "application/json;charset=UTF-8")
					w.WriteHeader(http.StatusNotFound)
					fmt.Fprintf(w, `{"errors":[{"context":null,"message":"The path \".stepline.yml\" does not exist at revision \"%s\"","exceptionName":"com.atlassian.bitbucket.content.NoSuchPathException"}]}`, r.URL.Query().Get("at"))
					return
				}
				w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
				fmt.Fprint(w, testYAML)
			},
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
			reader, lister, err := p.For(tc.secret(srv.URL))
			require.NoError(t, err)
			require.NotNil(t, lister)
			ctx := context.Background()

			data, err := reader.ReadFile(ctx, tc.repo, testCommit, ".stepline.yml")
			require.NoError(t, err)
			assert.Equal(t, testYAML, string(data))

			_, err = reader.ReadFile(ctx, tc.repo, "0123456789abcdef0123456789abcdef01234567", ".stepline.yml")
			require.Error(t, err)
			assert.True(t, errors.Is(err, scm.ErrNotFound), "a missing file is scm.ErrNotFound: %v", err)
			assert.False(t, retryable(err))
			assert.NotContains(t, err.Error(), testToken)
		})
	}
}

func TestAServerErrorIsRetryableAndARefusalIsNot(t *testing.T) {
	t.Parallel()
	status := http.StatusBadGateway
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		fmt.Fprint(w, `{"errors":[{"message":"try later"}]}`)
	}))
	t.Cleanup(srv.Close)
	r, err := NewBitbucketServerReader(srv.URL, testToken, srv.Client())
	require.NoError(t, err)
	_, err = r.ReadFile(context.Background(), "PROJ/api", testCommit, ".stepline.yml")
	require.Error(t, err)
	assert.True(t, retryable(err), "%v", err)
	assert.Contains(t, err.Error(), "try later")

	status = http.StatusUnauthorized
	_, err = r.ReadFile(context.Background(), "PROJ/api", testCommit, ".stepline.yml")
	assert.True(t, errors.Is(err, scm.ErrUnauthorized), "%v", err)
	assert.False(t, retryable(err))
}

func TestAFileOverTheLimitIsRefused(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(make([]byte, MaxFileBytes+10))
	}))
	t.Cleanup(srv.Close)
	r, err := NewBitbucketReader(srv.URL, "", srv.Client())
	require.NoError(t, err)
	_, err = r.ReadFile(context.Background(), "team/api", testCommit, ".stepline.yml")
	assert.ErrorIs(t, err, ErrTooLarge)
	assert.False(t, retryable(err))
}

func TestAReaderRefusesAMalformedRepositoryName(t *testing.T) {
	t.Parallel()
	r, err := NewGitHubReader("http://127.0.0.1:1", "", http.DefaultClient)
	require.NoError(t, err)
	_, err = r.ReadFile(context.Background(), "no-slash", testCommit, ".stepline.yml")
	assert.ErrorContains(t, err, "owner/name")
}

func TestExecutionNamesAreValidAndDistinct(t *testing.T) {
	t.Parallel()
	key := scm.Key("bitbucket-server", []byte("body"), 2, 3)
	tests := []struct {
		name, key, pipeline string
		want                string
	}{
		{"a plain name is key-pipeline", "github-abc", "api", "github-abc-api"},
		{"an underscore is kept", "github-abc", "my_api", "github-abc-my_api"},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, ExecutionName(tc.key, tc.pipeline), tc.name)
	}
	seen := map[string]string{}
	for _, p := range []string{"api", "a.b", "a-b", "a b", "ünïcode", "x" + string(make([]byte, 100)), "very-long-pipeline-name-that-goes-on-and-on", "very-long-pipeline-name-that-goes-on-and-on-2"} {
		n := ExecutionName(key, p)
		assert.LessOrEqual(t, len(n), MaxExecutionName, p)
		assert.Regexp(t, `^[A-Za-z0-9_-]+$`, n, p)
		_, dup := seen[n]
		assert.False(t, dup, "%q and %q share %s", p, seen[n], n)
		seen[n] = p
	}
	arn, ok := ExecutionARN("arn:aws:states:us-east-1:123456789012:stateMachine:stepline", "n")
	assert.True(t, ok)
	assert.Equal(t, "arn:aws:states:us-east-1:123456789012:execution:stepline:n", arn)
}

// TestTheGitHubReaderReadsOnlyWhatItUses: "Get repository content" answers links, ids and
// URLs stepline does not read; a type GitHub changes there must not fail the read.
func TestTheGitHubReaderReadsOnlyWhatItUses(t *testing.T) {
	t.Parallel()
	enc := base64.StdEncoding.EncodeToString([]byte(testYAML))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		fmt.Fprintf(w, `{"type":"file","encoding":"base64","size":%d,"content":%q,"name":7,"path":null,"sha":{},`+
			`"url":[],"download_url":false,"_links":"none","submodule_git_url":1}`, len(testYAML), enc)
	}))
	t.Cleanup(srv.Close)
	r, err := NewGitHubReader(srv.URL, testToken, srv.Client())
	require.NoError(t, err)
	got, err := r.ReadFile(context.Background(), "octo/api", testCommit, ".stepline.yml")
	require.NoError(t, err)
	assert.Equal(t, testYAML, string(got))
}
