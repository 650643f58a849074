package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	gh "github.com/google/go-github/v81/github"

	"github.com/stepline/stepline/pkg/scm"
)

// GitHub's documented limits on "Compare two commits": when the results are paged, "the
// list of changed files is only shown on the first page of results, and it includes up to 300
// changed files for the entire comparison". The commit endpoint pages its files instead, 300
// a page up to 3000; ChangedFiles follows a full page in case compare ever does the same, and
// stops at that total.
const (
	compareFileCap  = 300
	compareTotalCap = 3000
	// comparePerPage pages the comparison's commits, which ChangedFiles does not read: a
	// smaller page makes each response lighter.
	comparePerPage = 100
)

// apiName names GitHub in an *scm.APIError.
const apiName = "github"

// Client lists the files changed between two commits through GitHub's REST API.
type Client struct {
	api *gh.Client
}

var _ scm.FileLister = (*Client)(nil)

// Option configures a Client.
type Option func(*options)

type options struct {
	baseURL string
	http    *http.Client
}

// WithBaseURL sets the API root, such as https://ghe.example.com/api/v3/ for GitHub
// Enterprise Server or an httptest server's URL in tests. The default is
// https://api.github.com/.
func WithBaseURL(u string) Option {
	return func(o *options) { o.baseURL = u }
}

// WithHTTPClient sets the HTTP client the API calls go through; the Client does not change
// it. The default has a 30-second timeout.
func WithHTTPClient(c *http.Client) Option {
	return func(o *options) {
		if c != nil {
			o.http = c
		}
	}
}

// NewClient returns a Client that authenticates with token (an installation or personal
// access token needing contents:read; empty for public repositories only). It fails only on a
// base URL that is not absolute.
func NewClient(token string, opts ...Option) (*Client, error) {
	o := options{http: &http.Client{Timeout: 30 * time.Second}}
	for _, opt := range opts {
		opt(&o)
	}
	api := gh.NewClient(o.http)
	if token != "" {
		api = api.WithAuthToken(token)
	}
	if o.baseURL != "" {
		u, err := url.Parse(o.baseURL)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return nil, errors.New("github client: the base URL is not an absolute URL")
		}
		if !strings.HasSuffix(u.Path, "/") {
			u.Path += "/"
		}
		api.BaseURL = u
	}
	return &Client{api: api}, nil
}

// ChangedFiles lists the paths changed between base and head of repo ("owner/name"), sorted:
// a renamed file is listed under its old and its new path, since a path filter on either
// should see the change. complete is false when GitHub may have cut the list: a response
// that lists 300 files with no further files after it, or 3000 in all. A 404 or 401 answer
// is an *scm.APIError, which scm.ErrNotFound or scm.ErrUnauthorized matches; other failures
// are go-github's errors.
//
// GitHub compares from the merge base of base and head ("three dots"), as a pull request
// does. For a forced push (base no ancestor of head) the list is head's side only: paths
// changed just by the commits the push dropped are missing.
func (c *Client) ChangedFiles(ctx context.Context, repo, base, head string) ([]string, bool, error) {
	owner, name, ok := splitRepo(repo)
	if !ok {
		return nil, false, fmt.Errorf("compare in %q: a repository is named owner/name", clip(repo))
	}
	if scm.IsZero(base) || scm.IsZero(head) {
		return nil, false, fmt.Errorf("compare in %s: both a base and a head commit are needed", repo)
	}
	var (
		lists [][]string
		total int
		next  = 1
	)
	for page := 1; ; page++ {
		cmp, resp, err := c.compare(ctx, owner, name, base, head, next)
		if err != nil {
			return nil, false, compareError(repo, base, head, err)
		}
		n := len(cmp.Files)
		total += n
		lists = append(lists, filePaths(cmp.Files))
		if n < compareFileCap {
			// A short page ends the list, unless it is a later page with nothing on it: then
			// the full page before was GitHub's cap, not the end.
			return scm.Files(lists...), page == 1 || n > 0, nil
		}
		if total >= compareTotalCap || resp.NextPage == 0 {
			return scm.Files(lists...), false, nil
		}
		next = resp.NextPage
	}
}

// comparison is what ChangedFiles reads of "Compare two commits": the files' paths. The
// commits, dates, counts and patches beside them are not decoded, whatever their type, so a
// change there cannot fail the list; a path of the wrong type does.
type comparison struct {
	Files []commitFile `json:"files"`
}

// commitFile is one changed file; previous_filename is set for a rename.
type commitFile struct {
	Filename         string `json:"filename"`
	PreviousFilename string `json:"previous_filename"`
}

// compare asks for one page of GET /repos/{owner}/{repo}/compare/{base}...{head} through
// go-github's client (authentication, error and rate-limit types, the Link header's next
// page), decoding the answer into comparison rather than go-github's CommitsComparison,
// which decodes every field.
func (c *Client) compare(ctx context.Context, owner, name, base, head string, page int) (*comparison, *gh.Response, error) {
	q := url.Values{"per_page": {strconv.Itoa(comparePerPage)}}
	if page > 1 {
		q.Set("page", strconv.Itoa(page))
	}
	u := fmt.Sprintf("repos/%s/%s/compare/%s...%s?%s", owner, name, url.QueryEscape(base), url.QueryEscape(head), q.Encode())
	req, err := c.api.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, err
	}
	var cmp comparison
	resp, err := c.api.Do(ctx, req, &cmp)
	if err != nil {
		return nil, resp, err
	}
	return &cmp, resp, nil
}

func filePaths(files []commitFile) []string {
	out := make([]string, 0, 2*len(files))
	for _, f := range files {
		out = append(out, f.Filename, f.PreviousFilename)
	}
	return out
}

// splitRepo splits owner/name. go-github puts both into the request path unescaped, so only
// the characters GitHub allows in account and repository names pass.
func splitRepo(repo string) (owner, name string, ok bool) {
	owner, name, ok = strings.Cut(repo, "/")
	return owner, name, ok && validName(owner) && validName(name)
}

func validName(s string) bool {
	if s == "" || s == "." || s == ".." {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// compareError wraps an API error with the comparison it was for. A 404, 401 or 403 becomes
// an *scm.APIError, which scm.ErrNotFound or scm.ErrUnauthorized matches as for every
// provider, with go-github's *github.ErrorResponse kept in its chain. Rate limits also answer
// 403, but go-github decodes those as *github.RateLimitError or *github.AbuseRateLimitError,
// not *github.ErrorResponse, so they stay themselves. Neither error says the token: it
// travels in a header.
func compareError(repo, base, head string, err error) error {
	what := fmt.Sprintf("compare %s %.12s...%.12s", repo, base, head)
	var er *gh.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		switch status := er.Response.StatusCode; status {
		case http.StatusNotFound, http.StatusUnauthorized, http.StatusForbidden:
			err = &scm.APIError{Provider: apiName, StatusCode: status, Message: strings.Join(strings.Fields(er.Message), " "), Err: err}
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}
