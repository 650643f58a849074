package sourcearchive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/stepline/stepline/pkg/reposecret"
	"github.com/stepline/stepline/pkg/scm"
)

// Errors an Open or a Stream can be matched against with errors.Is, next to scm.ErrNotFound
// and scm.ErrUnauthorized, which match the *scm.APIError of a provider's refusal.
var (
	// ErrInvalidArchive means the provider's archive cannot become a source zip: not gzip,
	// not tar, an entry outside the tree or of a kind a repository cannot hold.
	ErrInvalidArchive = errors.New("invalid source archive")
	// ErrRateLimited means the provider refused for now because of its rate limit (a 429, or
	// GitHub's 403 with no requests remaining): worth retrying later, unlike a 403 for
	// credentials. The error also matches the *scm.APIError of the answer.
	ErrRateLimited = errors.New("rate limited")
	// ErrUnsupportedProvider means there is no Archiver for the provider.
	ErrUnsupportedProvider = errors.New("unsupported source provider")
)

// Archiver downloads the tar.gz archive of one commit from a provider.
type Archiver interface {
	// Open starts the download of commit in repo ("owner/name", "workspace/slug",
	// "PROJECT/slug"). A refusal by the provider is an *scm.APIError. The caller closes the
	// archive's Body.
	Open(ctx context.Context, repo, commit string) (*Archive, error)
}

// Archive is a download under way.
type Archive struct {
	// Body is the tar.gz stream.
	Body io.ReadCloser
	// TopDir says every entry sits under one top-level directory that the provider adds
	// (GitHub: owner-repo-sha7/; Bitbucket Cloud: workspace-repo-sha12/), to be removed.
	TopDir bool
}

// Defaults of Providers.
const (
	DefaultGitHubURL    = "https://api.github.com"
	DefaultBitbucketURL = "https://bitbucket.org"
)

// Providers builds the Archiver of a registered repository from its secret. The zero value
// talks to github.com and bitbucket.org through DefaultHTTPClient.
type Providers struct {
	// GitHubURL is the REST API root used when the secret names none; a secret's api_url
	// (GitHub Enterprise Server: https://ghe.example.com/api/v3) wins over it.
	GitHubURL string
	// BitbucketURL is Bitbucket Cloud's web root, which serves archives (the 2.0 REST API
	// has no archive endpoint).
	BitbucketURL string
	// HTTPClient carries the downloads.
	HTTPClient *http.Client
}

// For returns the Archiver of secret's provider, authenticated with its token. Bitbucket
// Data Center needs the secret's api_url. CodeCommit (which has no archive API and no
// secret: see CodeCommit and StreamTree) and any other provider are ErrUnsupportedProvider.
func (p Providers) For(s reposecret.Secret) (Archiver, error) {
	hc := orDefault(p.HTTPClient)
	switch s.Provider {
	case scm.GitHub:
		base := s.APIURL
		if base == "" {
			base = or(p.GitHubURL, DefaultGitHubURL)
		}
		return NewGitHub(base, s.Token, hc)
	case scm.Bitbucket:
		return NewBitbucket(or(p.BitbucketURL, DefaultBitbucketURL), s.Token, hc)
	case scm.BitbucketServer:
		if s.APIURL == "" {
			return nil, errors.New("bitbucket data center: the repository secret has no api_url")
		}
		return NewBitbucketServer(s.APIURL, s.Token, hc)
	case scm.CodeCommit:
		return nil, fmt.Errorf("%w: codecommit has no archive API; its commits are read as a Tree", ErrUnsupportedProvider)
	}
	return nil, fmt.Errorf("%w: %q", ErrUnsupportedProvider, s.Provider)
}

func or(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

func orDefault(hc *http.Client) *http.Client {
	if hc == nil {
		return DefaultHTTPClient()
	}
	return hc
}

// DefaultHTTPClient returns the client downloads use by default. It has no overall timeout,
// since a large archive takes as long as it takes (the caller's context bounds it), but
// gives up on a server that does not start answering within a minute. It never asks for
// Content-Encoding: gzip, so a .tar.gz arrives as it is.
func DefaultHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = time.Minute
	t.DisableCompression = true
	return &http.Client{Transport: t}
}

// parseBase parses and checks a provider root: absolute http(s), no credentials in it.
func parseBase(api, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s: the base URL must be an absolute http(s) URL", api)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%s: the base URL %s carries credentials; the token goes in the secret", api, u.Redacted())
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath, u.RawQuery, u.Fragment = "", "", ""
	return u, nil
}

// repoName splits "owner/name"; both parts are single path segments.
var repoName = regexp.MustCompile(`^([A-Za-z0-9_.~-]+)/([A-Za-z0-9_.-]+)$`)

// ValidRepository reports whether repo has the shape every Archiver accepts: two path
// segments, "owner/name", of letters, digits and . _ - (and ~ in the first, for Data Center's
// personal projects), neither of them "." or "..".
func ValidRepository(repo string) bool {
	_, _, ok := splitRepo(repo)
	return ok
}

func splitRepo(repo string) (string, string, bool) {
	m := repoName.FindStringSubmatch(repo)
	if m == nil || m[1] == "." || m[1] == ".." || m[2] == "." || m[2] == ".." {
		return "", "", false
	}
	return m[1], m[2], true
}

// repoParts splits repo for a download, or says why it cannot.
func repoParts(api, repo string) (string, string, error) {
	owner, name, ok := splitRepo(repo)
	if !ok {
		return "", "", fmt.Errorf("%s: repository %q is not owner/name", api, clip(repo))
	}
	return owner, name, nil
}

// ValidCommit reports whether id is a full commit id, SHA-1 or SHA-256, in git's lower case
// (scm.CheckCommit): archives are asked for by commit, never by branch, so a run gets exactly
// the commit that triggered it.
func ValidCommit(id string) bool { return scm.CheckCommit(id) == nil }

func checkCommit(api, commit string) error {
	if !ValidCommit(commit) {
		return fmt.Errorf("%s: %q is not a full commit id", api, clip(commit))
	}
	return nil
}

// download is one GET of an archive.
type download struct {
	api    string // names the provider in errors
	client *http.Client
	url    *url.URL
	header http.Header
	token  string // scrubbed from error messages
}

// get sends the request and returns the body of a 200; any other answer is an *scm.APIError.
func (d download) get(ctx context.Context) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.url.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.api, err)
	}
	req.Header = d.header.Clone()
	req.Header.Set("User-Agent", "stepline")
	resp, err := d.client.Do(req)
	if err != nil {
		// A *url.Error names the URL, which never carries the token.
		return nil, fmt.Errorf("%s: %w", d.api, err)
	}
	if resp.StatusCode == http.StatusOK {
		return resp.Body, nil
	}
	defer resp.Body.Close()
	return nil, d.refusal(resp)
}

// maxErrorBody caps how much of an error answer is read for its message.
const maxErrorBody = 64 << 10

// refusal turns an answer other than 200 into an *scm.APIError carrying the provider's own
// message, scrubbed of the token, and marks rate limits.
func (d download) refusal(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := &scm.APIError{Provider: d.api, StatusCode: resp.StatusCode, Message: d.scrub(scm.ErrorMessage(body))}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests,
		resp.StatusCode == http.StatusForbidden && (resp.Header.Get("X-RateLimit-Remaining") == "0" || resp.Header.Get("Retry-After") != ""):
		return fmt.Errorf("%w (%w)", e, ErrRateLimited)
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		// Only Bitbucket Cloud's downloads stop at a redirect: it sends a caller whose
		// credentials it does not take to its sign-in page.
		e.Message = "redirected to " + d.scrub(where(resp.Header.Get("Location"))) + " instead of serving the archive: the credentials were not accepted"
		return fmt.Errorf("%w (%w)", e, scm.ErrUnauthorized)
	}
	return e
}

// where is a redirect target without its query, which may carry a signed token.
func where(location string) string {
	u, err := url.Parse(location)
	if err != nil || location == "" {
		return "another page"
	}
	return u.Host + u.Path
}

func (d download) scrub(s string) string {
	if d.token != "" {
		s = strings.ReplaceAll(s, d.token, "***")
	}
	return s
}

// clip shortens s for an error message.
func clip(s string) string {
	if r := []rune(s); len(r) > 200 {
		return string(r[:200]) + "…"
	}
	return s
}
