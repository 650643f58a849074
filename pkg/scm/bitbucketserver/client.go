package bitbucketserver

import (
	"context"
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

// apiName names Data Center in an *scm.APIError, the error of an answer other than 200,
// which scm.ErrNotFound and scm.ErrUnauthorized match.
const apiName = "bitbucket data center"

// Defaults of a Client: Data Center's page size is capped server-side (page.max.changes),
// so a larger limit only means fewer round trips where the server allows it.
const (
	DefaultPageLimit = 500
	DefaultMaxPages  = 20
	defaultTimeout   = 30 * time.Second
	maxPageBytes     = 16 << 20
)

// Client lists changed files through the Bitbucket Data Center REST API. It implements
// scm.FileLister for repositories named "PROJECT/slug".
type Client struct {
	base     *url.URL
	http     *http.Client
	token    string
	limit    int
	maxPages int
}

var _ scm.FileLister = (*Client)(nil)

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client (default: one with a 30 s timeout).
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.http = hc
		}
	}
}

// WithToken authenticates with a Data Center HTTP access token or personal access token,
// sent as "Authorization: Bearer"; it needs repository read permission.
func WithToken(token string) Option { return func(c *Client) { c.token = token } }

// WithPageLimit sets how many changes a page asks for (default DefaultPageLimit).
func WithPageLimit(n int) Option {
	return func(c *Client) {
		if n > 0 {
			c.limit = n
		}
	}
}

// WithMaxPages caps the pages one ChangedFiles call reads (default DefaultMaxPages); past
// the cap the list is returned incomplete.
func WithMaxPages(n int) Option {
	return func(c *Client) {
		if n > 0 {
			c.maxPages = n
		}
	}
}

// NewClient returns a client of the Data Center server at baseURL, its address as users
// browse it, context path included (https://bitbucket.example.com/bitbucket): Data Center
// has no fixed host. Credentials go in WithToken, never in the URL.
func NewClient(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("bitbucket data center base URL must be an absolute http(s) URL")
	}
	if u.User != nil {
		return nil, fmt.Errorf("bitbucket data center base URL %s carries credentials; pass a token with WithToken", u.Redacted())
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath, u.RawQuery, u.Fragment = "", "", ""
	c := &Client{base: u, http: &http.Client{Timeout: defaultTimeout}, limit: DefaultPageLimit, maxPages: DefaultMaxPages}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// ChangedFiles lists the paths changed on head since it left base, through
// GET /rest/api/latest/projects/{key}/repos/{slug}/compare/changes?from=head&to=base: the
// changes head has and base lacks, as in a pull request's diff. base and head are commit
// ids or ref names. A moved file counts at both its paths; a copy's source is unchanged.
// complete is false when the page cap cut the list short, and an answer other than 200 is
// an *scm.APIError. An all-zero base or head (a created or deleted ref) has no diff: nil,
// false and no error, so a path filter may match.
func (c *Client) ChangedFiles(ctx context.Context, repo, base, head string) ([]string, bool, error) {
	project, slug, err := splitRepo(repo)
	if err != nil {
		return nil, false, err
	}
	if scm.IsZero(base) || scm.IsZero(head) {
		return nil, false, nil
	}
	endpoint := c.base.JoinPath("rest", "api", "latest", "projects", project, "repos", slug, "compare", "changes")
	var files []string
	start := 0
	for range c.maxPages {
		page, err := c.changesPage(ctx, endpoint, base, head, start)
		if err != nil {
			return nil, false, fmt.Errorf("compare %s %.12s...%.12s: %w", repo, base, head, err)
		}
		for _, ch := range page.Values {
			files = append(files, ch.Path.String())
			if ch.Type == "MOVE" {
				files = append(files, ch.SrcPath.String())
			}
		}
		if page.IsLastPage {
			return scm.Files(files), true, nil
		}
		if page.NextPageStart == nil || *page.NextPageStart <= start {
			return nil, false, fmt.Errorf("compare %s %.12s...%.12s: the page at %d is not the last but names no later page", repo, base, head, start)
		}
		start = *page.NextPageStart
	}
	return scm.Files(files), false, nil
}

// changesPage is one page of Data Center's compare/changes answer.
type changesPage struct {
	Values        []fileChange `json:"values"`
	IsLastPage    bool         `json:"isLastPage"`
	NextPageStart *int         `json:"nextPageStart"`
}

// fileChange is one entry of a changes page; srcPath is set for moves and copies.
type fileChange struct {
	Type    string   `json:"type"`
	Path    restPath `json:"path"`
	SrcPath restPath `json:"srcPath"`
}

// restPath is Data Center's path object.
type restPath struct {
	Components []string `json:"components"`
	ToString   string   `json:"toString"`
}

// String returns the path, from its components when toString is missing.
func (p restPath) String() string {
	if p.ToString != "" {
		return p.ToString
	}
	return strings.Join(p.Components, "/")
}

// changesPage fetches the page of changes starting at start.
func (c *Client) changesPage(ctx context.Context, endpoint *url.URL, base, head string, start int) (*changesPage, error) {
	u := *endpoint
	u.RawQuery = url.Values{
		"from":  {head},
		"to":    {base},
		"start": {strconv.Itoa(start)},
		"limit": {strconv.Itoa(c.limit)},
	}.Encode()
	body, err := c.get(ctx, &u)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	var page changesPage
	if err := json.NewDecoder(body).Decode(&page); err != nil {
		return nil, fmt.Errorf("decode the page at %d: %w", start, err)
	}
	return &page, nil
}

// get sends an authenticated GET for JSON to u and returns the body of a 200 answer, cut at
// maxPageBytes; the caller closes it. Any other answer is an *scm.APIError.
func (c *Client) get(ctx context.Context, u *url.URL) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, c.apiError(resp.StatusCode, io.LimitReader(resp.Body, maxPageBytes))
	}
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(resp.Body, maxPageBytes), resp.Body}, nil
}

// apiError reads Data Center's error body. The message is cut short and scrubbed of the
// token, since a proxy in between may echo the request.
func (c *Client) apiError(status int, body io.Reader) *scm.APIError {
	raw, _ := io.ReadAll(io.LimitReader(body, 64<<10))
	msg := scm.ErrorMessage(raw)
	if c.token != "" {
		msg = strings.ReplaceAll(msg, c.token, "[token]")
	}
	return &scm.APIError{Provider: apiName, StatusCode: status, Message: msg}
}

// splitRepo splits "PROJECT/slug" into segments safe to put in a URL path.
func splitRepo(repo string) (project, slug string, err error) {
	project, slug, ok := strings.Cut(repo, "/")
	bad := func(s string) bool { return s == "" || s == "." || s == ".." || strings.Contains(s, "/") }
	if !ok || bad(project) || bad(slug) {
		return "", "", fmt.Errorf("repository %s is not PROJECT/slug", quote(repo))
	}
	return project, slug, nil
}
