package commitstatus

import (
	"context"
	"net/http"
)

// DefaultGitHubURL is GitHub's REST API root; GitHub Enterprise Server's is
// https://<host>/api/v3.
const DefaultGitHubURL = "https://api.github.com"

// GitHub posts commit statuses through GitHub's REST API, "Create a commit status"
// (https://docs.github.com/en/rest/commits/statuses#create-a-commit-status):
// POST /repos/{owner}/{repo}/statuses/{sha} with state, target_url, description and context.
type GitHub struct{ p *poster }

var _ Poster = (*GitHub)(nil)

// NewGitHub returns a Poster for the API at baseURL ("" for DefaultGitHubURL), authenticated
// with token (a fine-grained token with "Commit statuses: write", a classic token with
// repo:status, or an installation token).
func NewGitHub(baseURL, token string, opts ...Option) (*GitHub, error) {
	if baseURL == "" {
		baseURL = DefaultGitHubURL
	}
	// The media type and API version GitHub's REST reference sends with every example.
	h := http.Header{"Accept": {"application/vnd.github+json"}, "X-Github-Api-Version": {"2022-11-28"}}
	p, err := newPoster("github", baseURL, token, needGitHub, h, opts)
	if err != nil {
		return nil, err
	}
	return &GitHub{p: p}, nil
}

// githubStatus is the request body of "Create a commit status".
type githubStatus struct {
	State       string `json:"state"`
	TargetURL   string `json:"target_url,omitempty"`
	Description string `json:"description,omitempty"`
	Context     string `json:"context"`
}

// githubState maps a State onto GitHub's four: error, failure, pending, success. GitHub has
// no "stopped": a stopped run (superseded or canceled) is "error", which GitHub shows as a
// check that did not reach a verdict. "failure" would say the commit is bad, which nobody
// found out; "success" would let a commit nobody deployed pass a required check; "pending"
// would never end. The description says why it stopped.
func githubState(s State) string {
	switch s {
	case InProgress:
		return "pending"
	case Succeeded:
		return "success"
	case Failed:
		return "failure"
	}
	return "error"
}

// Post creates the status; GitHub answers 201 Created.
func (g *GitHub) Post(ctx context.Context, s Status) error {
	owner, name, err := check(g.p.api, s, false)
	if err != nil {
		return err
	}
	body := githubStatus{State: githubState(s.State), TargetURL: s.URL,
		Description: clip(s.Description, maxDescription), Context: s.Key}
	return g.p.post(ctx, s.Repository, []string{"repos", owner, name, "statuses", s.Commit}, body)
}
