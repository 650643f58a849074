package repoadd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	gh "github.com/google/go-github/v81/github"

	"github.com/stepline/stepline/pkg/scm"
)

// hookSpec is the webhook a provider is told about.
type hookSpec struct {
	url, secret string
	events      []string
}

// hookAPI creates and updates one provider's repository webhooks.
type hookAPI interface {
	// create adds the webhook and returns the provider's id of it.
	create(ctx context.Context, repo string, h hookSpec) (string, error)
	// find returns the id of the repository's webhook delivering to u, or "" when there is
	// none. It reads the first page of webhooks (100, or 1000 on Data Center): more on one
	// repository is not a case worth a loop.
	find(ctx context.Context, repo, u string) (string, error)
	// update gives the webhook id h's URL, secret and events.
	update(ctx context.Context, repo, id string, h hookSpec) error
}

// register creates the repository's webhook, or, after a rotation, gives the existing webhook
// with the same URL the new secret (creating one if there is none).
func (r *Registrar) register(ctx context.Context, req Request, res Result) (Registration, error) {
	api, err := r.hookAPI(req)
	if err != nil {
		return Registration{}, err
	}
	spec := hookSpec{url: res.URL, secret: res.WebhookSecret, events: res.Settings.Keys()}
	if res.Rotated {
		id, err := api.find(ctx, req.Repository, res.URL)
		if err != nil {
			return Registration{}, registerError(req, "list the webhooks of", err)
		}
		if id != "" {
			if err := api.update(ctx, req.Repository, id, spec); err != nil {
				return Registration{}, registerError(req, "update the webhook of", err)
			}
			return Registration{ID: id, Updated: true}, nil
		}
	}
	id, err := api.create(ctx, req.Repository, spec)
	if err != nil {
		return Registration{}, registerError(req, "create the webhook of", err)
	}
	return Registration{ID: id}, nil
}

func (r *Registrar) hookAPI(req Request) (hookAPI, error) {
	switch req.Provider {
	case scm.GitHub:
		return newGitHubHooks(r.http, req.APIURL, req.Token)
	case scm.Bitbucket:
		base := req.APIURL
		if base == "" {
			base = DefaultBitbucketURL
		}
		return &bitbucketHooks{rest: rest{http: r.http, base: strings.TrimRight(base, "/"), token: req.Token, name: "bitbucket"}}, nil
	case scm.BitbucketServer:
		return &bitbucketServerHooks{rest: rest{http: r.http, base: strings.TrimRight(req.APIURL, "/"), token: req.Token, name: "bitbucket data center"}}, nil
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownProvider, req.Provider)
}

// permissions says, per provider, what a token needs to manage webhooks.
var permissions = map[string]string{
	scm.GitHub:          "a fine-grained token needs Webhooks: read and write on the repository, a classic token admin:repo_hook",
	scm.Bitbucket:       "an access token needs the webhook scope and admin rights on the repository",
	scm.BitbucketServer: "an HTTP access token needs repository admin permission",
}

// registerError explains a provider's refusal. The providers' messages and these never
// contain the token: it only travels in the Authorization header.
func registerError(req Request, what string, err error) error {
	var ae *scm.APIError
	if !errors.As(err, &ae) {
		return fmt.Errorf("%s %s: %w", what, req.Repository, err)
	}
	var hint string
	switch ae.StatusCode {
	case http.StatusUnauthorized:
		hint = "the token was refused: it is wrong, expired or revoked"
	case http.StatusForbidden:
		hint = "the token may not manage the repository's webhooks (" + permissions[req.Provider] + ")"
	case http.StatusNotFound:
		hint = "the repository does not exist, or the token cannot see it"
	default:
		return fmt.Errorf("%s %s: %w", what, req.Repository, err)
	}
	return fmt.Errorf("%s %s: %s: %w", what, req.Repository, hint, err)
}

// githubHooks manages GitHub webhooks through go-github.
type githubHooks struct{ api *gh.Client }

func newGitHubHooks(hc *http.Client, base, token string) (*githubHooks, error) {
	api := gh.NewClient(hc).WithAuthToken(token)
	if base != "" {
		u, err := url.Parse(base)
		if err != nil {
			return nil, fmt.Errorf("github API URL: %w", err)
		}
		if !strings.HasSuffix(u.Path, "/") {
			u.Path += "/"
		}
		api.BaseURL = u
	}
	return &githubHooks{api: api}, nil
}

func (g *githubHooks) config(h hookSpec) *gh.HookConfig {
	return &gh.HookConfig{URL: gh.Ptr(h.url), ContentType: gh.Ptr("json"), Secret: gh.Ptr(h.secret), InsecureSSL: gh.Ptr("0")}
}

func (g *githubHooks) create(ctx context.Context, repo string, h hookSpec) (string, error) {
	owner, name, _ := strings.Cut(repo, "/")
	// A repository webhook is named "web", as go-github's CreateHook names it.
	create := g.hook(h)
	create.Name = gh.Ptr("web")
	var hook githubHook
	if err := g.call(ctx, http.MethodPost, fmt.Sprintf("repos/%s/%s/hooks", owner, name), create, &hook); err != nil {
		return "", err
	}
	return strconv.FormatInt(hook.ID, 10), nil
}

func (g *githubHooks) find(ctx context.Context, repo, u string) (string, error) {
	owner, name, _ := strings.Cut(repo, "/")
	var hooks []githubHook
	if err := g.call(ctx, http.MethodGet, fmt.Sprintf("repos/%s/%s/hooks?per_page=100", owner, name), nil, &hooks); err != nil {
		return "", err
	}
	for _, h := range hooks {
		if h.Config.URL == u {
			return strconv.FormatInt(h.ID, 10), nil
		}
	}
	return "", nil
}

func (g *githubHooks) update(ctx context.Context, repo, id string, h hookSpec) error {
	owner, name, _ := strings.Cut(repo, "/")
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return fmt.Errorf("github webhook id %q is not a number", id)
	}
	return g.call(ctx, http.MethodPatch, fmt.Sprintf("repos/%s/%s/hooks/%d", owner, name, n), g.hook(h), nil)
}

// githubHook is what repo add reads of GitHub's hook object: its id and URL. Its dates, last
// response, flags and events are not decoded, whatever their type.
type githubHook struct {
	ID     int64 `json:"id"`
	Config struct {
		URL string `json:"url"`
	} `json:"config"`
}

// hook is the hook repo add creates or edits.
func (g *githubHooks) hook(h hookSpec) *gh.Hook {
	return &gh.Hook{Config: g.config(h), Events: h.events, Active: gh.Ptr(true)}
}

// call sends one request through go-github's client (authentication, error types) and
// decodes the answer into out, one of the types above rather than go-github's Hook, which
// decodes every field.
func (g *githubHooks) call(ctx context.Context, method, path string, body, out any) error {
	req, err := g.api.NewRequest(method, path, body)
	if err != nil {
		return err
	}
	_, err = g.api.Do(ctx, req, out)
	return githubError(err)
}

// githubError turns go-github's refusal into an *scm.APIError, as pkg/scm/github does, so
// the status can be explained the same way for every provider.
func githubError(err error) error {
	var er *gh.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		msg := strings.Join(strings.Fields(er.Message), " ")
		for _, e := range er.Errors {
			if e.Message != "" {
				msg += "; " + strings.Join(strings.Fields(e.Message), " ")
			}
		}
		return &scm.APIError{Provider: "github", StatusCode: er.Response.StatusCode, Message: msg, Err: err}
	}
	return err
}

// rest is a JSON client of one Bitbucket API, authenticated with a Bearer token.
type rest struct {
	http  *http.Client
	base  string
	token string
	name  string
}

// maxBody caps an answer: a webhook or a page of them is a few kilobytes.
const maxBody = 4 << 20

func (c rest) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return c.scrub(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return c.scrub(fmt.Errorf("read the answer: %w", err))
	}
	if resp.StatusCode/100 != 2 {
		return &scm.APIError{Provider: c.name, StatusCode: resp.StatusCode, Message: c.redact(scm.ErrorMessage(b))}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s: decode the answer to %s %s: %w", c.name, method, path, err)
	}
	return nil
}

func (c rest) redact(s string) string {
	if c.token == "" {
		return s
	}
	return strings.ReplaceAll(s, c.token, "[redacted]")
}

// scrub keeps the token out of a transport error, should anything echo it.
func (c rest) scrub(err error) error {
	if s := c.redact(err.Error()); s != err.Error() {
		return errors.New(s)
	}
	return err
}

// bitbucketHooks manages Bitbucket Cloud webhooks:
// /2.0/repositories/{workspace}/{repo_slug}/hooks[/{uid}].
type bitbucketHooks struct{ rest }

type bitbucketHook struct {
	UUID        string   `json:"uuid,omitempty"`
	URL         string   `json:"url"`
	Description string   `json:"description"`
	Active      bool     `json:"active"`
	Secret      string   `json:"secret,omitempty"`
	Events      []string `json:"events"`
}

func (b *bitbucketHooks) path(repo string) string {
	ws, slug, _ := strings.Cut(repo, "/")
	return "/repositories/" + url.PathEscape(ws) + "/" + url.PathEscape(slug) + "/hooks"
}

func (b *bitbucketHooks) body(h hookSpec) bitbucketHook {
	return bitbucketHook{URL: h.url, Description: HookName, Active: true, Secret: h.secret, Events: h.events}
}

// hookAnswer is what repo add reads of a hook either Bitbucket API answers: its id (Data
// Center) or uuid (Cloud) and its URL. Dates, flags, events and configuration are not
// decoded, whatever their type.
type hookAnswer struct {
	ID   int64  `json:"id"`
	UUID string `json:"uuid"`
	URL  string `json:"url"`
}

func (b *bitbucketHooks) create(ctx context.Context, repo string, h hookSpec) (string, error) {
	var out hookAnswer
	if err := b.do(ctx, http.MethodPost, b.path(repo), b.body(h), &out); err != nil {
		return "", err
	}
	return out.UUID, nil
}

func (b *bitbucketHooks) find(ctx context.Context, repo, u string) (string, error) {
	var page struct {
		Values []hookAnswer `json:"values"`
	}
	if err := b.do(ctx, http.MethodGet, b.path(repo)+"?pagelen=100", nil, &page); err != nil {
		return "", err
	}
	for _, h := range page.Values {
		if h.URL == u {
			return h.UUID, nil
		}
	}
	return "", nil
}

func (b *bitbucketHooks) update(ctx context.Context, repo, id string, h hookSpec) error {
	return b.do(ctx, http.MethodPut, b.path(repo)+"/"+url.PathEscape(id), b.body(h), nil)
}

// bitbucketServerHooks manages Bitbucket Data Center webhooks:
// /rest/api/1.0/projects/{project}/repos/{repo_slug}/webhooks[/{id}].
type bitbucketServerHooks struct{ rest }

type bitbucketServerHook struct {
	ID            int64    `json:"id,omitempty"`
	Name          string   `json:"name"`
	URL           string   `json:"url"`
	Active        bool     `json:"active"`
	Events        []string `json:"events"`
	Configuration struct {
		Secret string `json:"secret,omitempty"`
	} `json:"configuration"`
}

func (b *bitbucketServerHooks) path(repo string) string {
	project, slug, _ := strings.Cut(repo, "/")
	return "/rest/api/1.0/projects/" + url.PathEscape(project) + "/repos/" + url.PathEscape(slug) + "/webhooks"
}

func (b *bitbucketServerHooks) body(h hookSpec) bitbucketServerHook {
	out := bitbucketServerHook{Name: HookName, URL: h.url, Active: true, Events: h.events}
	out.Configuration.Secret = h.secret
	return out
}

func (b *bitbucketServerHooks) create(ctx context.Context, repo string, h hookSpec) (string, error) {
	var out hookAnswer
	if err := b.do(ctx, http.MethodPost, b.path(repo), b.body(h), &out); err != nil {
		return "", err
	}
	return strconv.FormatInt(out.ID, 10), nil
}

func (b *bitbucketServerHooks) find(ctx context.Context, repo, u string) (string, error) {
	var page struct {
		Values []hookAnswer `json:"values"`
	}
	if err := b.do(ctx, http.MethodGet, b.path(repo)+"?limit=1000", nil, &page); err != nil {
		return "", err
	}
	for _, h := range page.Values {
		if h.URL == u {
			return strconv.FormatInt(h.ID, 10), nil
		}
	}
	return "", nil
}

func (b *bitbucketServerHooks) update(ctx context.Context, repo, id string, h hookSpec) error {
	return b.do(ctx, http.MethodPut, b.path(repo)+"/"+url.PathEscape(id), b.body(h), nil)
}
