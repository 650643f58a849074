package bitbucket

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/stepline/stepline/pkg/scm"
)

// DefaultBaseURL is the root of Bitbucket Cloud's REST API 2.0.
const DefaultBaseURL = "https://api.bitbucket.org/2.0"

const (
	// pageLen is the largest page the diffstat endpoint serves.
	pageLen = 500
	// DefaultMaxPages caps the diffstat pages one ChangedFiles call reads: 10,000 entries.
	DefaultMaxPages = 20
	// maxPageBytes caps one response body, far above a 500-entry page.
	maxPageBytes = 16 << 20
)

// ErrNoBase means there is no base commit to compare with, as for a created ref. Bitbucket's
// own refusals are *scm.APIError, which scm.ErrNotFound and scm.ErrUnauthorized match.
var ErrNoBase = errors.New("no base commit to compare with")

// apiName names Bitbucket Cloud in an *scm.APIError.
const apiName = "bitbucket"

// Client lists the files changed between two commits through Bitbucket Cloud's diffstat
// endpoint. It is safe for concurrent use.
type Client struct {
	baseURL   string
	http      *http.Client
	authz     string   // the Authorization header value, or ""
	secrets   []string // every form of the credentials, scrubbed from error messages
	maxPages  int
	mergeBase bool
}

var _ scm.FileLister = (*Client)(nil)

// Option configures a Client.
type Option func(*Client)

// WithBaseURL points the client at another API root, such as a test server; the default is
// DefaultBaseURL. Pagination links are followed only on the same scheme and host.
func WithBaseURL(u string) Option { return func(c *Client) { c.baseURL = strings.TrimSuffix(u, "/") } }

// WithHTTPClient sets the HTTP client; the default has a 30-second timeout.
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// WithToken authenticates with an access token (repository, project or workspace access
// token, or OAuth 2 access token) sent as a Bearer token. An empty token changes nothing.
func WithToken(token string) Option {
	return func(c *Client) {
		if token == "" {
			return
		}
		c.authz = "Bearer " + token
		c.secrets = []string{token}
	}
}

// WithBasicAuth authenticates with HTTP Basic: a username and app password, or an Atlassian
// account email and API token, which replace app passwords.
func WithBasicAuth(username, password string) Option {
	return func(c *Client) {
		cred := base64.StdEncoding.EncodeToString([]byte(username + ":" + password))
		c.authz = "Basic " + cred
		c.secrets = []string{password, cred}
	}
}

// WithMaxPages caps the diffstat pages one call reads (default DefaultMaxPages); past it the
// list is returned incomplete.
func WithMaxPages(n int) Option { return func(c *Client) { c.maxPages = max(n, 1) } }

// WithPlainDiff compares head with base itself (Bitbucket's topic=false) instead of with the
// merge base of the two (topic=true, the default, what its pull request view shows and what
// GitHub's compare and Data Center's compare/changes return). Both agree when base is an
// ancestor of head, as for a push that is not forced.
func WithPlainDiff() Option { return func(c *Client) { c.mergeBase = false } }

// NewClient returns a client of Bitbucket Cloud's public API, unauthenticated unless an
// option gives credentials.
func NewClient(opts ...Option) *Client {
	c := &Client{
		baseURL:   DefaultBaseURL,
		http:      &http.Client{Timeout: 30 * time.Second},
		maxPages:  DefaultMaxPages,
		mergeBase: true,
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// ChangedFiles lists the paths changed from base to head in repo ("workspace/repo_slug"),
// sorted and without duplicates; a rename counts both its old and its new path. complete is
// false when the list stopped at the page cap. It reads
// GET /repositories/{workspace}/{repo_slug}/diffstat/{head}..{base} page by page; an answer
// other than 200 is an *scm.APIError, and a missing base is ErrNoBase.
func (c *Client) ChangedFiles(ctx context.Context, repo, base, head string) ([]string, bool, error) {
	files, complete, err := c.changedFiles(ctx, repo, base, head)
	if err != nil {
		return nil, false, fmt.Errorf("list files changed in %s from %s to %s: %w", repo, base, head, err)
	}
	return files, complete, nil
}

// diffstatPage is one page of GET /repositories/{workspace}/{repo_slug}/diffstat/{spec}.
// Whatever an entry's status (added, removed, modified, renamed, merge conflict, …), the
// paths it touches are its old and new sides, either of which is null when absent.
type diffstatPage struct {
	// Values is nil when the body has none: then it is no diffstat page, not an empty one.
	Values *[]struct {
		Old *filePath `json:"old"`
		New *filePath `json:"new"`
	} `json:"values"`
	Next string `json:"next"`
}

type filePath struct {
	Path string `json:"path"`
}

func (c *Client) changedFiles(ctx context.Context, repo, base, head string) ([]string, bool, error) {
	workspace, slug, ok := strings.Cut(repo, "/")
	if !ok || workspace == "" || slug == "" || strings.Contains(slug, "/") {
		return nil, false, errors.New("repository is not workspace/repo_slug")
	}
	if base == "" || scm.IsZero(base) {
		return nil, false, ErrNoBase
	}
	if head == "" || strings.Contains(head, "..") || strings.Contains(base, "..") {
		return nil, false, errors.New("commits must be non-empty and contain no \"..\"")
	}
	root, err := url.Parse(c.baseURL)
	if err != nil || root.Scheme == "" || root.Host == "" {
		return nil, false, fmt.Errorf("base URL %q is not an absolute URL", c.baseURL)
	}
	// Bitbucket's spec names the commit with the changes first, the opposite of git diff.
	q := url.Values{"pagelen": {strconv.Itoa(pageLen)}, "topic": {strconv.FormatBool(c.mergeBase)}}
	next := c.baseURL + "/repositories/" + url.PathEscape(workspace) + "/" + url.PathEscape(slug) +
		"/diffstat/" + url.PathEscape(head) + ".." + url.PathEscape(base) + "?" + q.Encode()

	var files []string
	for page := 1; next != ""; page++ {
		if page > c.maxPages {
			return scm.Files(files), false, nil
		}
		u, err := url.Parse(next)
		if err != nil || u.Scheme != root.Scheme || u.Host != root.Host {
			// The credentials go with every request, so only to the API's own host.
			return nil, false, fmt.Errorf("page %d: next link %q leaves %s", page, next, root.Host)
		}
		var p diffstatPage
		if err := c.get(ctx, u.String(), &p); err != nil {
			return nil, false, fmt.Errorf("page %d: %w", page, err)
		}
		if p.Values == nil {
			return nil, false, fmt.Errorf("page %d: the response is not a diffstat page", page)
		}
		for _, v := range *p.Values {
			if v.Old != nil {
				files = append(files, v.Old.Path)
			}
			if v.New != nil {
				files = append(files, v.New.Path)
			}
		}
		next = p.Next
	}
	return scm.Files(files), true, nil
}

// get fetches u and decodes its JSON body into v.
func (c *Client) get(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if c.authz != "" {
		req.Header.Set("Authorization", c.authz)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return c.scrub(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPageBytes+1))
	if err != nil {
		return c.scrub(fmt.Errorf("read response: %w", err))
	}
	if len(body) > maxPageBytes {
		return fmt.Errorf("response is larger than %d bytes", maxPageBytes)
	}
	if resp.StatusCode != http.StatusOK {
		return &scm.APIError{Provider: apiName, StatusCode: resp.StatusCode, Message: c.errorMessage(body)}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("decode response: %w", err)
	}
	return nil
}

// errorMessage returns the message of Bitbucket's error body {"type": "error", "error":
// {"message": …}} in one line, without the credentials should a server echo them.
func (c *Client) errorMessage(body []byte) string {
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	msg := strings.Join(strings.Fields(c.redact(e.Error.Message)), " ")
	if r := []rune(msg); len(r) > 200 {
		msg = string(r[:200]) + "…"
	}
	return msg
}

func (c *Client) redact(s string) string {
	for _, secret := range c.secrets {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
	}
	return s
}

// scrub keeps the credentials out of a transport error's text, which net/http builds from
// the request URL and whatever the transport says.
func (c *Client) scrub(err error) error {
	if s := c.redact(err.Error()); s != err.Error() {
		return errors.New(s)
	}
	return err
}
