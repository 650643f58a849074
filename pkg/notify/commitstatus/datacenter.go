package commitstatus

import (
	"context"
	"errors"
	"net/http"
)

// DataCenter posts build statuses through Bitbucket Data Center's repository builds
// resource, the one current versions document in "Updating build status for commits"
// (https://developer.atlassian.com/server/bitbucket/how-tos/updating-build-status-for-commits/):
// POST {base}/rest/api/latest/projects/{projectKey}/repos/{repositorySlug}/commits/{commitId}/builds
// with key, state (INPROGRESS, SUCCESSFUL, FAILED, CANCELLED, UNKNOWN), url (all three
// required), name, description, ref, buildNumber and duration. The older
// /rest/build-status/1.0/commits/{commitId} is deprecated since 7.14 and knows no CANCELLED.
type DataCenter struct{ p *poster }

var _ Poster = (*DataCenter)(nil)

// NewDataCenter returns a Poster for the Data Center instance at baseURL, its address as
// users browse it, context path included; token is an HTTP access token sent as Bearer.
func NewDataCenter(baseURL, token string, opts ...Option) (*DataCenter, error) {
	if baseURL == "" {
		return nil, errors.New("bitbucket data center: the repository secret has no api_url")
	}
	p, err := newPoster("bitbucket data center", baseURL, token, needServer, http.Header{"Accept": {"application/json"}}, opts)
	if err != nil {
		return nil, err
	}
	return &DataCenter{p: p}, nil
}

// dataCenterStatus is the request body of the builds resource. Data Center limits every
// field to 255 characters but the url (450).
type dataCenterStatus struct {
	Key         string `json:"key"`
	State       string `json:"state"`
	URL         string `json:"url"`
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	Ref         string `json:"ref,omitempty"`
	BuildNumber string `json:"buildNumber,omitempty"`
	// Duration is in milliseconds.
	Duration int64 `json:"duration,omitempty"`
}

func dataCenterState(s State) string {
	switch s {
	case InProgress:
		return "INPROGRESS"
	case Succeeded:
		return "SUCCESSFUL"
	case Failed:
		return "FAILED"
	}
	return "CANCELLED"
}

// Post stores the status; Data Center answers 204 No Content.
func (d *DataCenter) Post(ctx context.Context, s Status) error {
	project, slug, err := check(d.p.api, s, true)
	if err != nil {
		return err
	}
	body := dataCenterStatus{Key: clip(s.Key, 255), State: dataCenterState(s.State), URL: s.URL, Name: clip(s.Name, 255),
		Description: clip(s.Description, maxDescription), BuildNumber: s.Number, Duration: s.Duration.Milliseconds()}
	if s.Branch != "" {
		body.Ref = "refs/heads/" + s.Branch
	}
	return d.p.post(ctx, s.Repository,
		[]string{"rest", "api", "latest", "projects", project, "repos", slug, "commits", s.Commit, "builds"}, body)
}
