package commitstatus

import (
	"context"
	"net/http"
	"strings"
)

// DefaultBitbucketURL is Bitbucket Cloud's REST API 2.0 root.
const DefaultBitbucketURL = "https://api.bitbucket.org/2.0"

// Bitbucket posts commit build statuses through Bitbucket Cloud's REST API, "Create a build
// status for a commit"
// (https://developer.atlassian.com/cloud/bitbucket/rest/api-group-commit-statuses/):
// POST /repositories/{workspace}/{repo_slug}/commit/{commit}/statuses/build with key, state
// (INPROGRESS, SUCCESSFUL, FAILED, STOPPED), name, url, description and refname. A status
// with the key of an existing one replaces it.
type Bitbucket struct{ p *poster }

var _ Poster = (*Bitbucket)(nil)

// NewBitbucket returns a Poster for the API at baseURL ("" for DefaultBitbucketURL),
// authenticated with an access token sent as Bearer.
func NewBitbucket(baseURL, token string, opts ...Option) (*Bitbucket, error) {
	if baseURL == "" {
		baseURL = DefaultBitbucketURL
	}
	p, err := newPoster("bitbucket", baseURL, token, needBitbucket, http.Header{"Accept": {"application/json"}}, opts)
	if err != nil {
		return nil, err
	}
	return &Bitbucket{p: p}, nil
}

// bitbucketStatus is the request body of "Create a build status for a commit".
type bitbucketStatus struct {
	Key         string `json:"key"`
	State       string `json:"state"`
	Name        string `json:"name,omitempty"`
	URL         string `json:"url"`
	Description string `json:"description,omitempty"`
	// Refname ties the status to the pull requests from that branch: "To associate a commit
	// status to a pull request, the refname field must be set to the source branch".
	Refname string `json:"refname,omitempty"`
}

func bitbucketState(s State) string {
	switch s {
	case InProgress:
		return "INPROGRESS"
	case Succeeded:
		return "SUCCESSFUL"
	case Failed:
		return "FAILED"
	}
	return "STOPPED"
}

// templateBraces escapes { and }: Bitbucket reads a status URL as a URI template and
// replaces {repository.full_name}-like names in it, which a run link must never trigger.
var templateBraces = strings.NewReplacer("{", "%7B", "}", "%7D")

// Post creates or replaces the status; Bitbucket answers 201 Created (200 when it replaced
// one).
func (b *Bitbucket) Post(ctx context.Context, s Status) error {
	ws, slug, err := check(b.p.api, s, true)
	if err != nil {
		return err
	}
	body := bitbucketStatus{Key: s.Key, State: bitbucketState(s.State), Name: s.Name,
		URL: templateBraces.Replace(s.URL), Description: clip(s.Description, maxDescription), Refname: s.Branch}
	return b.p.post(ctx, s.Repository, []string{"repositories", ws, slug, "commit", s.Commit, "statuses", "build"}, body)
}
