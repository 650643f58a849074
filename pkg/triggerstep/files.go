package triggerstep

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	gh "github.com/google/go-github/v81/github"

	"github.com/stepline/stepline/pkg/reposecret"
	"github.com/stepline/stepline/pkg/scm"
	"github.com/stepline/stepline/pkg/scm/bitbucket"
	"github.com/stepline/stepline/pkg/scm/bitbucketserver"
	"github.com/stepline/stepline/pkg/scm/github"
)

// MaxFileBytes bounds the pipeline file the trigger reads: a pipeline file is a few KiB, and
// a pushed file must not make the function run out of memory.
const MaxFileBytes = 1 << 20

// ErrTooLarge means the file is over MaxFileBytes (or over GitHub's 1 MB contents limit).
var ErrTooLarge = errors.New("file too large")

// FileReader reads one file of a repository at a commit through a provider's API. A missing
// file (or repository, or commit) is an *scm.APIError that scm.ErrNotFound matches.
type FileReader interface {
	ReadFile(ctx context.Context, repo, commit, path string) ([]byte, error)
}

// Providers builds the API clients of a registered repository from its secret: the zero
// value talks to api.github.com and api.bitbucket.org with a 30-second timeout.
type Providers struct {
	// GitHubURL is the REST API root used when the secret names none; a secret's api_url
	// (GitHub Enterprise Server) wins over it.
	GitHubURL string
	// BitbucketURL is Bitbucket Cloud's 2.0 API root (default bitbucket.DefaultBaseURL).
	BitbucketURL string
	// HTTPClient carries the API calls.
	HTTPClient *http.Client
}

// For returns the file reader and the changed-file lister of secret's provider,
// authenticated with its token. Bitbucket Data Center needs the secret's api_url.
func (p Providers) For(s reposecret.Secret) (FileReader, scm.FileLister, error) {
	hc := p.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	switch s.Provider {
	case scm.GitHub:
		base := s.APIURL
		if base == "" {
			base = p.GitHubURL
		}
		var opts []github.Option
		if base != "" {
			opts = append(opts, github.WithBaseURL(base))
		}
		lister, err := github.NewClient(s.Token, append(opts, github.WithHTTPClient(hc))...)
		if err != nil {
			return nil, nil, err
		}
		reader, err := NewGitHubReader(base, s.Token, hc)
		if err != nil {
			return nil, nil, err
		}
		return reader, lister, nil
	case scm.Bitbucket:
		base := p.BitbucketURL
		if base == "" {
			base = bitbucket.DefaultBaseURL
		}
		lister := bitbucket.NewClient(bitbucket.WithBaseURL(base), bitbucket.WithToken(s.Token), bitbucket.WithHTTPClient(hc))
		reader, err := NewBitbucketReader(base, s.Token, hc)
		if err != nil {
			return nil, nil, err
		}
		return reader, lister, nil
	case scm.BitbucketServer:
		if s.APIURL == "" {
			return nil, nil, errors.New("bitbucket data center: the repository secret has no api_url")
		}
		lister, err := bitbucketserver.NewClient(s.APIURL, bitbucketserver.WithToken(s.Token), bitbucketserver.WithHTTPClient(hc))
		if err != nil {
			return nil, nil, err
		}
		reader, err := NewBitbucketServerReader(s.APIURL, s.Token, hc)
		if err != nil {
			return nil, nil, err
		}
		return reader, lister, nil
	}
	return nil, nil, fmt.Errorf("provider %q has no file API", s.Provider)
}

// GitHubReader reads files through GitHub's "Get repository content" endpoint.
type GitHubReader struct {
	api *gh.Client
}

// NewGitHubReader returns a reader of the GitHub API at baseURL ("" for api.github.com),
// authenticated with token (contents:read; empty for public repositories only).
func NewGitHubReader(baseURL, token string, hc *http.Client) (*GitHubReader, error) {
	api := gh.NewClient(hc)
	if token != "" {
		api = api.WithAuthToken(token)
	}
	if baseURL != "" {
		u, err := parseBase("github", baseURL)
		if err != nil {
			return nil, err
		}
		u.Path = strings.TrimSuffix(u.Path, "/") + "/"
		api.BaseURL = u
	}
	return &GitHubReader{api: api}, nil
}

// ReadFile returns path of repo ("owner/name") at commit: GET /repos/{owner}/{repo}/contents/{path}?ref={commit}.
func (r *GitHubReader) ReadFile(ctx context.Context, repo, commit, path string) ([]byte, error) {
	owner, name, ok := strings.Cut(repo, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return nil, fmt.Errorf("read %s: a github repository is named owner/name, not %q", path, repo)
	}
	file, resp, err := r.contents(ctx, owner, name, path, commit)
	if err != nil {
		var er *gh.ErrorResponse
		if errors.As(err, &er) && er.Response != nil {
			return nil, fmt.Errorf("read %s of %s at %.12s: %w", path, repo, commit,
				&scm.APIError{Provider: "github", StatusCode: er.Response.StatusCode, Message: er.Message, Err: err})
		}
		if resp != nil && resp.StatusCode >= 400 {
			return nil, fmt.Errorf("read %s of %s at %.12s: %w", path, repo, commit, &scm.APIError{Provider: "github", StatusCode: resp.StatusCode, Err: err})
		}
		return nil, fmt.Errorf("read %s of %s at %.12s: %w", path, repo, commit, err)
	}
	if file == nil {
		// A directory answers a list: there is no file at path.
		return nil, fmt.Errorf("read %s of %s at %.12s: %w", path, repo, commit,
			&scm.APIError{Provider: "github", StatusCode: http.StatusNotFound, Message: path + " is a directory"})
	}
	// GitHub leaves the content out (encoding "none") of a file over 1 MB.
	if file.Encoding == "none" || file.Size > MaxFileBytes {
		return nil, fmt.Errorf("read %s of %s at %.12s: %d bytes: %w", path, repo, commit, file.Size, ErrTooLarge)
	}
	switch file.Encoding {
	case "base64":
		b, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(file.Content, "\n", ""))
		if err != nil {
			return nil, fmt.Errorf("read %s of %s at %.12s: the content is not base64: %w", path, repo, commit, err)
		}
		return b, nil
	case "":
		return []byte(file.Content), nil
	}
	return nil, fmt.Errorf("read %s of %s at %.12s: unknown content encoding %q", path, repo, commit, clip(file.Encoding))
}

// repoFile is what ReadFile reads of "Get repository content": the encoded content and its
// size. Names, shas, URLs and links beside them are not decoded, whatever their type.
type repoFile struct {
	Encoding string `json:"encoding"`
	Size     int64  `json:"size"`
	Content  string `json:"content"`
}

// contents asks GET /repos/{owner}/{repo}/contents/{path}?ref={commit} through go-github's
// client (authentication, error types), decoding the answer into repoFile rather than
// go-github's RepositoryContent, which decodes every field. A directory answers a list of
// entries: file is then nil.
func (r *GitHubReader) contents(ctx context.Context, owner, name, path, commit string) (*repoFile, *gh.Response, error) {
	escaped := (&url.URL{Path: strings.TrimSuffix(path, "/")}).String()
	u := fmt.Sprintf("repos/%s/%s/contents/%s?%s", owner, name, escaped, url.Values{"ref": {commit}}.Encode())
	req, err := r.api.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, err
	}
	var raw json.RawMessage
	resp, err := r.api.Do(ctx, req, &raw)
	if err != nil {
		return nil, resp, err
	}
	if trimmed := bytes.TrimLeft(raw, " \t\r\n"); len(trimmed) > 0 && trimmed[0] == '[' {
		return nil, resp, nil
	}
	var f repoFile
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, resp, fmt.Errorf("the answer is not a file's contents: %w", err)
	}
	return &f, resp, nil
}

// BitbucketReader reads files through Bitbucket Cloud's 2.0 API.
type BitbucketReader struct {
	base  *url.URL
	token string
	http  *http.Client
}

// NewBitbucketReader returns a reader of the Bitbucket Cloud API at baseURL
// (https://api.bitbucket.org/2.0), authenticated with an access token sent as Bearer.
func NewBitbucketReader(baseURL, token string, hc *http.Client) (*BitbucketReader, error) {
	u, err := parseBase("bitbucket", baseURL)
	if err != nil {
		return nil, err
	}
	return &BitbucketReader{base: u, token: token, http: hc}, nil
}

// ReadFile returns path of repo ("workspace/slug") at commit:
// GET /repositories/{workspace}/{slug}/src/{commit}/{path}, which answers the raw file.
func (r *BitbucketReader) ReadFile(ctx context.Context, repo, commit, path string) ([]byte, error) {
	ws, slug, ok := strings.Cut(repo, "/")
	if !ok || ws == "" || slug == "" || strings.Contains(slug, "/") {
		return nil, fmt.Errorf("read %s: a bitbucket repository is named workspace/slug, not %q", path, repo)
	}
	u := r.base.JoinPath("repositories", ws, slug, "src", commit, path)
	return get(ctx, r.http, "bitbucket", u.String(), r.token, fmt.Sprintf("%s of %s at %.12s", path, repo, commit))
}

// BitbucketServerReader reads files through Bitbucket Data Center's REST API.
type BitbucketServerReader struct {
	base  *url.URL
	token string
	http  *http.Client
}

// NewBitbucketServerReader returns a reader of the Data Center server at baseURL, its
// address as users browse it, context path included; token is an HTTP access token.
func NewBitbucketServerReader(baseURL, token string, hc *http.Client) (*BitbucketServerReader, error) {
	u, err := parseBase("bitbucket data center", baseURL)
	if err != nil {
		return nil, err
	}
	return &BitbucketServerReader{base: u, token: token, http: hc}, nil
}

// ReadFile returns path of repo ("PROJECT/slug") at commit:
// GET /rest/api/latest/projects/{key}/repos/{slug}/raw/{path}?at={commit}.
func (r *BitbucketServerReader) ReadFile(ctx context.Context, repo, commit, path string) ([]byte, error) {
	key, slug, ok := strings.Cut(repo, "/")
	if !ok || key == "" || slug == "" || strings.Contains(slug, "/") {
		return nil, fmt.Errorf("read %s: a bitbucket data center repository is named PROJECT/slug, not %q", path, repo)
	}
	u := r.base.JoinPath("rest", "api", "latest", "projects", key, "repos", slug, "raw", path)
	u.RawQuery = url.Values{"at": {commit}}.Encode()
	return get(ctx, r.http, "bitbucket data center", u.String(), r.token, fmt.Sprintf("%s of %s at %.12s", path, repo, commit))
}

func parseBase(provider, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s: the API URL is not an absolute http(s) URL", provider)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%s: the API URL carries credentials; they belong in the token", provider)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath, u.RawQuery, u.Fragment = "", "", ""
	return u, nil
}

// get fetches a raw file, at most MaxFileBytes of it; an answer other than 200 is an
// *scm.APIError carrying the provider's message.
func get(ctx context.Context, hc *http.Client, provider, u, token, what string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, scrub(err, token))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("read %s: %w", what, &scm.APIError{Provider: provider, StatusCode: resp.StatusCode, Message: scrubText(scm.ErrorMessage(body), token)})
	}
	if len(body) > MaxFileBytes {
		return nil, fmt.Errorf("read %s: over %d bytes: %w", what, MaxFileBytes, ErrTooLarge)
	}
	return body, nil
}

// scrub removes the token from a transport error's text, in case a proxy or URL echoed it.
func scrub(err error, token string) error {
	if token == "" || !strings.Contains(err.Error(), token) {
		return err
	}
	return errors.New(scrubText(err.Error(), token))
}

// scrubText removes the token from a text: a provider's error body may echo the request.
func scrubText(s, token string) string {
	if token == "" {
		return s
	}
	return strings.ReplaceAll(s, token, "[token]")
}
