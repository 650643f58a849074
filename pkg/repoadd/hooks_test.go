package repoadd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/scm"
)

const token = "tok_7h1s-is-s3cret"

// request is one call a fake provider received.
type request struct {
	Method, Path, Query, Auth, ContentType string
	Body                                   map[string]any
}

// provider is a fake provider API: it records every request and answers with answer.
type provider struct {
	mu     sync.Mutex
	reqs   []request
	answer func(r request) (int, string)
}

func newProvider(t *testing.T, answer func(r request) (int, string)) (*provider, string) {
	t.Helper()
	p := &provider{answer: answer}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rq := request{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Auth: r.Header.Get("Authorization"), ContentType: r.Header.Get("Content-Type")}
		if len(b) > 0 {
			require.NoError(t, json.Unmarshal(b, &rq.Body), string(b))
		}
		p.mu.Lock()
		p.reqs = append(p.reqs, rq)
		p.mu.Unlock()
		status, body := p.answer(rq)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return p, srv.URL
}

func (p *provider) requests() []request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]request(nil), p.reqs...)
}

// JSON round-trips v into the shape the fake provider decodes bodies into.
func asJSON(t *testing.T, v string) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(v), &m))
	return m
}

func TestRegisterCreatesTheWebhookThroughEachProvidersAPI(t *testing.T) {
	for _, tc := range []struct {
		name, provider, repo, answer, wantID, wantPath string
		body                                           func(url, secret string) string
	}{
		{
			name: "github", provider: "github", repo: "octo/app",
			answer: `{"id": 12345678, "type": "Repository", "name": "web", "active": true}`, wantID: "12345678",
			wantPath: "/repos/octo/app/hooks",
			body: func(url, secret string) string {
				return `{"name": "web", "active": true, "events": ["push", "pull_request"],
					"config": {"url": "` + url + `", "content_type": "json", "secret": "` + secret + `", "insecure_ssl": "0"}}`
			},
		},
		{
			name: "bitbucket cloud", provider: "bitbucket", repo: "team/app",
			answer: `{"uuid": "{6f1a6a3c-7a2e-4b8e-9f0a-1c2d3e4f5a6b}", "url": "x", "active": true}`, wantID: "{6f1a6a3c-7a2e-4b8e-9f0a-1c2d3e4f5a6b}",
			wantPath: "/2.0/repositories/team/app/hooks",
			body: func(url, secret string) string {
				return `{"url": "` + url + `", "description": "stepline", "active": true, "secret": "` + secret + `",
					"events": ["repo:push", "pullrequest:created", "pullrequest:updated", "pullrequest:fulfilled", "pullrequest:rejected"]}`
			},
		},
		{
			name: "bitbucket data center", provider: "bitbucket-server", repo: "PROJ/app",
			answer: `{"id": 10, "name": "stepline", "active": true}`, wantID: "10",
			wantPath: "/bitbucket/rest/api/1.0/projects/PROJ/repos/app/webhooks",
			body: func(url, secret string) string {
				return `{"name": "stepline", "url": "` + url + `", "active": true,
					"events": ["repo:refs_changed", "pr:opened", "pr:from_ref_updated", "pr:modified", "pr:merged", "pr:declined", "pr:deleted"],
					"configuration": {"secret": "` + secret + `"}}`
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake, base := newProvider(t, func(request) (int, string) { return http.StatusCreated, tc.answer })
			api := base
			switch tc.provider {
			case "bitbucket":
				api += "/2.0"
			case "bitbucket-server":
				api += "/bitbucket"
			}
			res, err := New(newSM(t)).Add(context.Background(), Request{Provider: tc.provider, Repository: tc.repo, WebhookURL: webhookURL,
				SecretPrefix: newPrefix(), Token: token, APIURL: api, Register: true})
			require.NoError(t, err)
			require.NotNil(t, res.Registered)
			assert.Equal(t, tc.wantID, res.Registered.ID)
			assert.False(t, res.Registered.Updated)

			reqs := fake.requests()
			require.Len(t, reqs, 1)
			assert.Equal(t, http.MethodPost, reqs[0].Method)
			assert.Equal(t, tc.wantPath, reqs[0].Path)
			assert.Equal(t, "Bearer "+token, reqs[0].Auth)
			assert.Equal(t, "application/json", reqs[0].ContentType)
			assert.Equal(t, asJSON(t, tc.body(res.URL, res.WebhookSecret)), reqs[0].Body)
		})
	}
}

func TestRotateWithATokenGivesTheExistingWebhookTheNewSecret(t *testing.T) {
	sm := newSM(t)
	p := newPrefix()
	first, err := New(sm).Add(context.Background(), Request{Provider: "bitbucket-server", Repository: "PROJ/app", WebhookURL: webhookURL,
		SecretPrefix: p, APIURL: "https://bitbucket.invalid"})
	require.NoError(t, err)

	fake, base := newProvider(t, func(r request) (int, string) {
		if r.Method == http.MethodGet {
			return http.StatusOK, `{"size": 2, "isLastPage": true, "values": [
				{"id": 3, "name": "jenkins", "url": "https://jenkins.example.com/hook", "active": true},
				{"id": 7, "name": "stepline", "url": "` + first.URL + `", "active": true}]}`
		}
		return http.StatusOK, `{"id": 7}`
	})
	res, err := New(sm).Add(context.Background(), Request{Provider: "bitbucket-server", Repository: "PROJ/app", WebhookURL: webhookURL,
		SecretPrefix: p, APIURL: base, Token: token, Register: true, Rotate: true})
	require.NoError(t, err)
	require.NotNil(t, res.Registered)
	assert.Equal(t, Registration{ID: "7", Updated: true}, *res.Registered)

	reqs := fake.requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, "/rest/api/1.0/projects/PROJ/repos/app/webhooks", reqs[0].Path)
	assert.Equal(t, http.MethodPut, reqs[1].Method)
	assert.Equal(t, "/rest/api/1.0/projects/PROJ/repos/app/webhooks/7", reqs[1].Path)
	assert.Equal(t, map[string]any{"secret": res.WebhookSecret}, reqs[1].Body["configuration"])
}

func TestRotateWithATokenOnGitHubEditsTheHookWithTheSameURL(t *testing.T) {
	sm := newSM(t)
	p := newPrefix()
	first, err := New(sm).Add(context.Background(), Request{Provider: "github", Repository: "octo/app", WebhookURL: webhookURL, SecretPrefix: p})
	require.NoError(t, err)
	fake, base := newProvider(t, func(r request) (int, string) {
		if r.Method == http.MethodGet {
			return http.StatusOK, `[{"id": 1, "config": {"url": "https://other.example.com"}}, {"id": 42, "config": {"url": "` + first.URL + `"}}]`
		}
		return http.StatusOK, `{"id": 42}`
	})
	res, err := New(sm).Add(context.Background(), Request{Provider: "github", Repository: "octo/app", WebhookURL: webhookURL,
		SecretPrefix: p, APIURL: base, Token: token, Register: true, Rotate: true})
	require.NoError(t, err)
	assert.Equal(t, Registration{ID: "42", Updated: true}, *res.Registered)
	reqs := fake.requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, "per_page=100", reqs[0].Query)
	assert.Equal(t, http.MethodPatch, reqs[1].Method)
	assert.Equal(t, "/repos/octo/app/hooks/42", reqs[1].Path)
	assert.Equal(t, res.WebhookSecret, reqs[1].Body["config"].(map[string]any)["secret"])
}

func TestRefusalsOfTheProviderAreExplainedWithoutTheToken(t *testing.T) {
	for _, tc := range []struct {
		name, provider, body string
		status               int
		is                   error
		says                 string
	}{
		{"github answering 401 says the token was refused", "github", `{"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}`,
			401, scm.ErrUnauthorized, "the token was refused"},
		{"github answering 403 names the permission", "github", `{"message": "Resource not accessible by personal access token"}`,
			403, scm.ErrUnauthorized, "Webhooks: read and write"},
		{"github answering 404 says the repository is not visible", "github", `{"message": "Not Found"}`,
			404, scm.ErrNotFound, "does not exist, or the token cannot see it"},
		{"bitbucket answering 401 says the token was refused", "bitbucket", `{"type": "error", "error": {"message": "Token is invalid: ` + token + `"}}`,
			401, scm.ErrUnauthorized, "the token was refused"},
		{"bitbucket data center answering 403 names the permission", "bitbucket-server", `{"errors": [{"message": "You are not permitted to access this resource"}]}`,
			403, scm.ErrUnauthorized, "repository admin permission"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, base := newProvider(t, func(request) (int, string) { return tc.status, tc.body })
			res, err := New(newSM(t)).Add(context.Background(), Request{Provider: tc.provider, Repository: "PROJ/app", WebhookURL: webhookURL,
				SecretPrefix: newPrefix(), Token: token, APIURL: base, Register: true})
			require.ErrorIs(t, err, tc.is)
			assert.Contains(t, err.Error(), tc.says)
			assert.NotContains(t, err.Error(), token)
			assert.NotEmpty(t, res.SecretName, "the secret exists, so the caller can show what to paste by hand")
			assert.Nil(t, res.Registered)
		})
	}
}

// TestGitHubHookAnswersAreReadForIdAndURLOnly: GitHub's hook objects carry dates, the last
// response and flags that repo add does not read; none of them, whatever its type, may fail
// the registration.
func TestGitHubHookAnswersAreReadForIdAndURLOnly(t *testing.T) {
	sm := newSM(t)
	p := newPrefix()
	first, err := New(sm).Add(context.Background(), Request{Provider: "github", Repository: "octo/app", WebhookURL: webhookURL, SecretPrefix: p})
	require.NoError(t, err)
	unread := `"created_at": "yesterday", "updated_at": 1714557600, "last_response": "ok", "active": "yes", "events": "push", "type": 3`
	_, base := newProvider(t, func(r request) (int, string) {
		if r.Method == http.MethodGet {
			return http.StatusOK, `[{"id": 42, ` + unread + `, "config": {"url": "` + first.URL + `", "insecure_ssl": 0}}]`
		}
		return http.StatusOK, `{"id": 42, ` + unread + `}`
	})
	res, err := New(sm).Add(context.Background(), Request{Provider: "github", Repository: "octo/app", WebhookURL: webhookURL,
		SecretPrefix: p, APIURL: base, Token: token, Register: true, Rotate: true})
	require.NoError(t, err)
	assert.Equal(t, Registration{ID: "42", Updated: true}, *res.Registered)
}

// TestBitbucketHookAnswersAreReadForIdAndURLOnly: both Bitbucket APIs answer hooks with
// dates, flags, events and configuration repo add does not read, whatever their type.
func TestBitbucketHookAnswersAreReadForIdAndURLOnly(t *testing.T) {
	for _, c := range []struct{ provider, repo, list, id string }{
		{"bitbucket-server", "PROJ/app", `{"isLastPage": true, "values": [{"id": 7, "url": %q, "active": "true", "events": "all",
			"configuration": "none", "createdDate": "2026-03-01T09:37:14Z", "updatedDate": 1772357834000, "statistics": []}]}`, "7"},
		{"bitbucket", "team/app", `{"pagelen": "100", "values": [{"uuid": "{b0c1}", "url": %q, "active": "yes", "events": {},
			"description": 5, "created_at": "yesterday", "skip_cert_verification": "no", "subject": "repo"}]}`, "{b0c1}"},
	} {
		t.Run(c.provider, func(t *testing.T) {
			sm := newSM(t)
			p := newPrefix()
			first, err := New(sm).Add(context.Background(), Request{Provider: c.provider, Repository: c.repo, WebhookURL: webhookURL,
				SecretPrefix: p, APIURL: "https://bitbucket.invalid"})
			require.NoError(t, err)
			_, base := newProvider(t, func(r request) (int, string) {
				if r.Method == http.MethodGet {
					return http.StatusOK, fmt.Sprintf(c.list, first.URL)
				}
				return http.StatusOK, `{}`
			})
			res, err := New(sm).Add(context.Background(), Request{Provider: c.provider, Repository: c.repo, WebhookURL: webhookURL,
				SecretPrefix: p, APIURL: base, Token: token, Register: true, Rotate: true})
			require.NoError(t, err)
			assert.Equal(t, Registration{ID: c.id, Updated: true}, *res.Registered)
		})
	}
}
