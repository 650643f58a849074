package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/scm"
)

const statusToken = "ghp_localStatusToken0123456789abcdefABCDEF"

// statusAPI is GitHub's commit statuses endpoint
// (https://docs.github.com/en/rest/commits/statuses#create-a-commit-status): POST
// /repos/{owner}/{repo}/statuses/{sha} with a Bearer token and a JSON body of state,
// target_url, description and context, answered 201; code replaces the answer.
type statusAPI struct {
	srv  *httptest.Server
	mu   sync.Mutex
	code int
	got  []postedStatus
}

type postedStatus struct {
	Path, Auth                             string
	State, TargetURL, Description, Context string
}

func newStatusAPI(t *testing.T, code int) *statusAPI {
	t.Helper()
	a := &statusAPI{code: code}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			State       string `json:"state"`
			TargetURL   string `json:"target_url"`
			Description string `json:"description"`
			Context     string `json:"context"`
		}
		b, _ := io.ReadAll(r.Body)
		assert.NoError(t, json.Unmarshal(b, &body), "%s", b)
		assert.Equal(t, http.MethodPost, r.Method)
		a.mu.Lock()
		a.got = append(a.got, postedStatus{Path: r.URL.Path, Auth: r.Header.Get("Authorization"), State: body.State,
			TargetURL: body.TargetURL, Description: body.Description, Context: body.Context})
		a.mu.Unlock()
		w.WriteHeader(a.code)
		io.WriteString(w, `{"message":"Bad credentials"}`)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *statusAPI) posted() []postedStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]postedStatus(nil), a.got...)
}

const statusPipeline = `version: 1
pipelines:
  - name: app
    stages:
      - name: Build
        actions:
          - {name: Build, provider: codebuild, buildspec: build.yml, inputs: [source]}
`

func TestRunPostsTheCommitStatusOfEachPipelineChange(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, buildspec string
		code            int
		last, desc      string
	}{
		{"a run that succeeds goes from pending to success", "version: 0.2\nphases:\n  build:\n    commands:\n      - echo ok\n",
			ExitOK, "success", "Succeeded"},
		{"a run that fails goes from pending to failure, naming the action", "version: 0.2\nphases:\n  build:\n    commands:\n      - exit 3\n",
			ExitFailed, "failure", "Failed in Build/Build: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			api := newStatusAPI(t, http.StatusCreated)
			r := newRepo(t, map[string]string{".stepline.yml": statusPipeline, "build.yml": tc.buildspec})
			res := r.stepline("", "run", "--plain", "--status-token", statusToken, "--status-provider", "github",
				"--status-repo", "acme/app", "--status-api-url", api.srv.URL, "--status-link", "https://ci.example.com/runs/{run}")
			require.Equal(t, tc.code, res.code, "stdout:\n%s\nstderr:\n%s", res.out, res.err)
			id := r.runID("app-1")
			head := r.git("rev-parse", "HEAD")
			got := api.posted()
			require.Len(t, got, 2, "%+v", got)
			for i, state := range []string{"pending", tc.last} {
				assert.Equal(t, "/repos/acme/app/statuses/"+head, got[i].Path)
				assert.Equal(t, "Bearer "+statusToken, got[i].Auth)
				assert.Equal(t, state, got[i].State)
				assert.Equal(t, "app", got[i].Context, "the key is the pipeline's name")
				assert.Equal(t, "https://ci.example.com/runs/"+id, got[i].TargetURL)
			}
			assert.Equal(t, "Running", got[0].Description)
			assert.True(t, strings.HasPrefix(got[1].Description, tc.desc), "description %q", got[1].Description)
			assert.NotContains(t, res.err, "warning")
		})
	}
}

// A run whose environment has a url (here from the build's exported variable) links its
// succeeded status there; the pending one still links to the run.
func TestRunLinksASucceededStatusToItsEnvironmentsURL(t *testing.T) {
	t.Parallel()
	api := newStatusAPI(t, http.StatusCreated)
	r := newRepo(t, map[string]string{".stepline.yml": `version: 1
pipelines:
  - name: app
    environments:
      - {branches: ["**"], name: preview, url: "https://#{build.HOST}/#{pipeline.run_number}"}
    stages:
      - name: Build
        actions:
          - {name: Build, provider: codebuild, buildspec: build.yml, inputs: [source], namespace: build}
`, "build.yml": "version: 0.2\nenv:\n  exported-variables: [HOST]\nphases:\n  build:\n    commands:\n      - HOST=pr-7.preview.example.com\n"})
	res := r.stepline("", "run", "--plain", "--status-token", statusToken, "--status-provider", "github",
		"--status-repo", "acme/app", "--status-api-url", api.srv.URL, "--status-link", "https://ci.example.com/runs/{run}")
	require.Equal(t, ExitOK, res.code, "stdout:\n%s\nstderr:\n%s", res.out, res.err)
	got := api.posted()
	require.Len(t, got, 2, "%+v", got)
	assert.Equal(t, "https://ci.example.com/runs/"+r.runID("app-1"), got[0].TargetURL)
	assert.Equal(t, "success", got[1].State)
	assert.Equal(t, "https://pr-7.preview.example.com/1", got[1].TargetURL)
	assert.Equal(t, "app/preview", got[1].Context)
}

func TestRunFindsTheStatusRepositoryInTheOriginRemote(t *testing.T) {
	t.Parallel()
	api := newStatusAPI(t, http.StatusCreated)
	r := newRepo(t, map[string]string{".stepline.yml": statusPipeline,
		"build.yml": "version: 0.2\nphases:\n  build:\n    commands:\n      - echo ok\n"})
	r.git("remote", "add", "origin", "git@github.com:acme/from-origin.git")
	res := r.stepline("", "run", "--plain", "--status-token", statusToken, "--status-api-url", api.srv.URL)
	require.Equal(t, ExitOK, res.code, "stderr:\n%s", res.err)
	got := api.posted()
	require.Len(t, got, 2)
	assert.Equal(t, "/repos/acme/from-origin/statuses/"+r.git("rev-parse", "HEAD"), got[0].Path)
}

func TestARefusedStatusTokenIsOneWarningAndTheRunGoesOn(t *testing.T) {
	t.Parallel()
	api := newStatusAPI(t, http.StatusUnauthorized)
	r := newRepo(t, map[string]string{".stepline.yml": statusPipeline,
		"build.yml": "version: 0.2\nphases:\n  build:\n    commands:\n      - echo ok\n"})
	res := r.stepline("", "run", "--plain", "--status-token", statusToken, "--status-provider", "github",
		"--status-repo", "acme/app", "--status-api-url", api.srv.URL)
	require.Equal(t, ExitOK, res.code, "a status that cannot be posted never fails the run:\n%s", res.err)
	assert.Equal(t, 1, strings.Count(res.err, "warning:"), "stderr:\n%s", res.err)
	assert.Contains(t, res.err, "the commit status of app on github acme/app was not posted")
	assert.Len(t, api.posted(), 1, "a refused token stops the posting")
	assert.NotContains(t, res.out+res.err, statusToken)
}

func TestARunWithATokenButNoRepositoryWarnsAndRuns(t *testing.T) {
	t.Parallel()
	r := newRepo(t, map[string]string{".stepline.yml": statusPipeline,
		"build.yml": "version: 0.2\nphases:\n  build:\n    commands:\n      - echo ok\n"})
	res := r.stepline("", "run", "--plain", "--status-token", statusToken)
	require.Equal(t, ExitOK, res.code, res.err)
	assert.Contains(t, res.err, "warning: commit statuses: the repository is unknown")
}

func TestTheProviderAndRepositoryOfARemote(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, provider, repo string }{
		{"https://github.com/acme/api.git", scm.GitHub, "acme/api"},
		{"https://github.com/acme/api", scm.GitHub, "acme/api"},
		{"git@github.com:acme/api.git", scm.GitHub, "acme/api"},
		{"ssh://git@ssh.github.com:443/acme/api.git", scm.GitHub, "acme/api"},
		{"https://jane@bitbucket.org/acme/api.git", scm.Bitbucket, "acme/api"},
		{"git@bitbucket.org:acme/api.git", scm.Bitbucket, "acme/api"},
		{"https://git.example.com/acme/api.git", "", ""},
		{"/srv/git/api.git", "", ""},
		{"", "", ""},
	} {
		p, r, ok := parseRemote(tc.in)
		assert.Equal(t, tc.provider != "", ok, tc.in)
		assert.Equal(t, tc.provider, p, tc.in)
		assert.Equal(t, tc.repo, r, tc.in)
	}
}

func TestServePostsTheStatusesOfARunOnTheDeliverysRepository(t *testing.T) {
	t.Parallel()
	api := newStatusAPI(t, http.StatusCreated)
	r := newRepo(t, map[string]string{
		".stepline.yml": `version: 1
pipelines:
  - name: web
    triggers:
      - on: push
        branches: [main]
    environments:
      - {branches: [main], name: prod, url: "https://web.example.com/#{source.short_commit_id}"}
    stages:
      - name: Build
        actions:
          - {name: Build, provider: codebuild, buildspec: build.yml, inputs: [source]}
`,
		"build.yml": "version: 0.2\nphases:\n  build:\n    commands:\n      - echo built\n",
	})
	r.commit("change the page", map[string]string{"index.html": "<h1>hi</h1>\n"})
	body := pushFile(t, r, "main")
	url, out, stop := startServe(t, r, "--secret", "topsecret", "--status-token", statusToken, "--status-api-url", api.srv.URL, "--status-link", "https://ci.example.com/runs/{run}")
	var o, e bytes.Buffer
	code := Main(context.Background(), []string{"webhook", "send", "--provider", "github", "--event", "push",
		"--secret", "topsecret", "--delivery", "delivery-1", "--url", url, body}, IO{Out: &o, Err: &e})
	require.Equal(t, ExitOK, code, o.String()+e.String())
	waitForMatch(t, out, regexp.MustCompile(`SUCCEEDED pipeline web run`))
	stop()
	got := api.posted()
	require.Len(t, got, 2, "%+v\n%s", got, out)
	head := r.git("rev-parse", "HEAD")
	for i, state := range []string{"pending", "success"} {
		assert.Equal(t, "/repos/Codertocat/Hello-World/statuses/"+head, got[i].Path, "the delivery's repository")
		assert.Equal(t, state, got[i].State)
		assert.Equal(t, "web/prod", got[i].Context)
	}
	assert.Equal(t, "https://web.example.com/"+head[:7], got[1].TargetURL, "the succeeded status links to the environment's url")
	assert.NotContains(t, out.String(), statusToken)
}
