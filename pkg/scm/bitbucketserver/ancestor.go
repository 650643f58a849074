package bitbucketserver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"

	"github.com/stepline/stepline/pkg/scm"
)

// IsAncestor reports whether ancestor is an ancestor of descendant in repo ("PROJECT/slug"),
// a commit counting as its own. Data Center never says whether a push was forced, so this
// is how a caller learns it: a push whose before is no ancestor of its after rewrote
// history, and the files Data Center compares from the merge base may miss some.
//
// It asks GET /rest/api/latest/projects/{key}/repos/{slug}/commits?since=descendant
// &until=ancestor&limit=1: the commits reachable from until and not from since (git's
// descendant..ancestor). None means every commit of ancestor is in descendant's history.
// Both are commit ids or ref names. A commit the repository does not have is an
// *scm.APIError that scm.ErrNotFound matches (after a force push and a garbage collection,
// the old head may be gone), a refused token one that scm.ErrUnauthorized matches; a caller
// should take any error for "not known to be an ancestor".
func (c *Client) IsAncestor(ctx context.Context, repo, ancestor, descendant string) (bool, error) {
	project, slug, err := splitRepo(repo)
	if err != nil {
		return false, err
	}
	what := fmt.Sprintf("is %.12s an ancestor of %.12s in %s", ancestor, descendant, repo)
	if scm.IsZero(ancestor) || scm.IsZero(descendant) {
		return false, fmt.Errorf("%s: ancestry needs two commits, and a created or deleted ref has only one", what)
	}
	u := c.base.JoinPath("rest", "api", "latest", "projects", project, "repos", slug, "commits")
	u.RawQuery = url.Values{
		"since": {descendant},
		"until": {ancestor},
		"limit": {"1"},
	}.Encode()
	body, err := c.get(ctx, u)
	if err != nil {
		return false, fmt.Errorf("%s: %w", what, err)
	}
	defer body.Close()
	var page struct {
		// Values stays raw: only whether there is one matters, not what a commit holds.
		Values *[]json.RawMessage `json:"values"`
	}
	if err := json.NewDecoder(body).Decode(&page); err != nil {
		return false, fmt.Errorf("%s: decode the commits page: %w", what, err)
	}
	if page.Values == nil {
		return false, fmt.Errorf("%s: the answer is not a page of commits", what)
	}
	return len(*page.Values) == 0, nil
}
