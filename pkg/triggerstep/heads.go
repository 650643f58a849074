package triggerstep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	gh "github.com/google/go-github/v81/github"

	"github.com/stepline/stepline/pkg/scm"
)

// HeadReader returns the commit a branch points at now, through a provider's API: what a
// schedule builds, since no push names a commit. A missing branch (or repository) is an
// *scm.APIError that scm.ErrNotFound matches. The readers Providers.For returns implement it.
type HeadReader interface {
	Head(ctx context.Context, repo, branch string) (string, error)
}

var (
	_ HeadReader = (*GitHubReader)(nil)
	_ HeadReader = (*BitbucketReader)(nil)
	_ HeadReader = (*BitbucketServerReader)(nil)
)

// Head returns the commit branch of repo points at: GET /repos/{owner}/{repo}/commits/{ref}
// with the SHA media type, which answers the bare commit id.
func (r *GitHubReader) Head(ctx context.Context, repo, branch string) (string, error) {
	owner, name, ok := strings.Cut(repo, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") || branch == "" {
		return "", fmt.Errorf("head of %q: a github repository is named owner/name, and a branch is required, not %q", branch, repo)
	}
	sha, resp, err := r.api.Repositories.GetCommitSHA1(ctx, owner, name, scm.BranchRef(branch), "")
	if err != nil {
		var er *gh.ErrorResponse
		if errors.As(err, &er) && er.Response != nil {
			return "", fmt.Errorf("head of %s in %s: %w", branch, repo,
				&scm.APIError{Provider: "github", StatusCode: er.Response.StatusCode, Message: er.Message, Err: err})
		}
		if resp != nil && resp.StatusCode >= 400 {
			return "", fmt.Errorf("head of %s in %s: %w", branch, repo, &scm.APIError{Provider: "github", StatusCode: resp.StatusCode, Err: err})
		}
		return "", fmt.Errorf("head of %s in %s: %w", branch, repo, err)
	}
	return checkSHA("github", repo, branch, strings.TrimSpace(sha))
}

// Head returns the commit branch of repo ("workspace/slug") points at:
// GET /repositories/{workspace}/{slug}/refs/branches/{name}, its target.hash.
func (r *BitbucketReader) Head(ctx context.Context, repo, branch string) (string, error) {
	ws, slug, ok := strings.Cut(repo, "/")
	if !ok || ws == "" || slug == "" || strings.Contains(slug, "/") || branch == "" {
		return "", fmt.Errorf("head of %q: a bitbucket repository is named workspace/slug, and a branch is required, not %q", branch, repo)
	}
	// The branch is one path segment: "feature/x" is sent as feature%2Fx.
	prefix := r.base.JoinPath("repositories", ws, slug, "refs", "branches")
	u := *prefix
	u.Path = prefix.Path + "/" + branch
	u.RawPath = prefix.EscapedPath() + "/" + url.PathEscape(branch)
	body, err := get(ctx, r.http, "bitbucket", u.String(), r.token, fmt.Sprintf("head of %s in %s", branch, repo))
	if err != nil {
		return "", err
	}
	var ref struct {
		Target struct {
			Hash string `json:"hash"`
		} `json:"target"`
	}
	if err := json.Unmarshal(body, &ref); err != nil {
		return "", fmt.Errorf("head of %s in %s: the answer is not a branch: %w", branch, repo, err)
	}
	return checkSHA("bitbucket", repo, branch, ref.Target.Hash)
}

// Head returns the commit branch of repo ("PROJECT/slug") points at:
// GET /rest/api/latest/projects/{key}/repos/{slug}/commits?until=refs/heads/{branch}&limit=1,
// the first commit's id.
func (r *BitbucketServerReader) Head(ctx context.Context, repo, branch string) (string, error) {
	key, slug, ok := strings.Cut(repo, "/")
	if !ok || key == "" || slug == "" || strings.Contains(slug, "/") || branch == "" {
		return "", fmt.Errorf("head of %q: a bitbucket data center repository is named PROJECT/slug, and a branch is required, not %q", branch, repo)
	}
	u := r.base.JoinPath("rest", "api", "latest", "projects", key, "repos", slug, "commits")
	u.RawQuery = url.Values{"until": {scm.BranchRef(branch)}, "limit": {"1"}}.Encode()
	body, err := get(ctx, r.http, "bitbucket data center", u.String(), r.token, fmt.Sprintf("head of %s in %s", branch, repo))
	if err != nil {
		return "", err
	}
	var page struct {
		Values []struct {
			ID string `json:"id"`
		} `json:"values"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		return "", fmt.Errorf("head of %s in %s: the answer is not a page of commits: %w", branch, repo, err)
	}
	if len(page.Values) == 0 {
		return "", fmt.Errorf("head of %s in %s: %w", branch, repo,
			&scm.APIError{Provider: "bitbucket data center", StatusCode: http.StatusNotFound, Message: "the branch has no commits"})
	}
	return checkSHA("bitbucket data center", repo, branch, page.Values[0].ID)
}

// checkSHA refuses an answer that is not a commit id, so a proxy's page or a changed API
// never becomes the commit a run builds.
func checkSHA(provider, repo, branch, sha string) (string, error) {
	if scm.CheckCommit(sha) != nil || scm.IsZero(sha) {
		return "", fmt.Errorf("head of %s in %s: %s answered %q, not a full commit id", branch, repo, provider, clip(sha))
	}
	return sha, nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
