package bitbucketserver

import (
	"encoding/json"

	bbs "github.com/go-playground/webhooks/v6/bitbucket-server"

	"github.com/stepline/stepline/pkg/scm"
)

// extras holds what the library's payload types lack, decoded from the same body: the
// pull request's draft flag (Data Center 8.18 and later) and the repositories'
// defaultBranch, which Data Center payloads normally leave out.
type extras struct {
	Repository  repoExtras `json:"repository"`
	PullRequest struct {
		Draft bool `json:"draft"`
		ToRef struct {
			Repository repoExtras `json:"repository"`
		} `json:"toRef"`
	} `json:"pullRequest"`
}

// repoExtras is the part of a repository the library does not decode. defaultBranch stays
// raw because Data Center's REST API names a branch either by its name or as a branch
// object, and an unexpected form must not make a delivery malformed.
type repoExtras struct {
	DefaultBranch json.RawMessage `json:"defaultBranch"`
}

// defaultBranch returns the default branch's name, or "" when the payload does not say.
func (r repoExtras) defaultBranch() string {
	var name string
	if json.Unmarshal(r.DefaultBranch, &name) == nil {
		branch, _ := scm.ShortRef(name)
		return branch
	}
	var obj struct {
		ID        string `json:"id"`
		DisplayID string `json:"displayId"`
	}
	if json.Unmarshal(r.DefaultBranch, &obj) != nil {
		return ""
	}
	if obj.DisplayID != "" {
		return obj.DisplayID
	}
	branch, _ := scm.ShortRef(obj.ID)
	return branch
}

// repository normalises a Data Center repository, whose full name is PROJECT/slug.
func repository(key bbs.Event, r bbs.Repository, x repoExtras) (scm.Repository, error) {
	if r.Project.Key == "" || r.Slug == "" {
		return scm.Repository{}, scm.Malformed("%s: the repository names no project key or slug", key)
	}
	return scm.Repository{
		FullName:      r.Project.Key + "/" + r.Slug,
		CloneURL:      cloneURL(r.Links),
		DefaultBranch: x.defaultBranch(),
	}, nil
}

// cloneURL returns the repository's HTTP(S) clone link, or "" when the payload has none
// (Data Center leaves links out of some payloads, and of all when the base URL is unset).
// The library keeps links as untyped JSON, so every step is checked.
func cloneURL(links map[string]any) string {
	clones, _ := links["clone"].([]any)
	for _, c := range clones {
		link, _ := c.(map[string]any)
		if name, _ := link["name"].(string); name != "http" {
			continue
		}
		if href, _ := link["href"].(string); href != "" {
			return href
		}
	}
	return ""
}
