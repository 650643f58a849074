package bitbucketserver

import (
	"encoding/json"

	"github.com/stepline/stepline/pkg/scm"
)

// The types below hold only what Parse reads of a Data Center payload. Everything else
// (dates, ids, display names, flags, links other than clone links) is left undecoded
// whatever its type: Data Center changes such fields between versions (10.x sends a pull
// request's createdDate, updatedDate and closedDate as ISO-8601 strings where 9.x sent epoch
// milliseconds) and never retries a delivery it was refused. What is read is decoded
// strictly: a value of the wrong type there makes the delivery malformed.

// pushPayload is what Parse reads of repo:refs_changed.
type pushPayload struct {
	EventKey   string      `json:"eventKey"`
	Actor      user        `json:"actor"`
	Repository repository  `json:"repository"`
	Changes    []refChange `json:"changes"`
	// Commits are the pushed commits Data Center 9 and 10 list for the whole delivery (five by
	// default, the most recent), tied to no one change.
	Commits []commit `json:"commits"`
}

// refChange is one entry of repo:refs_changed's changes. refId is the older form of ref.id.
type refChange struct {
	Ref struct {
		ID        string `json:"id"`
		DisplayID string `json:"displayId"`
		Type      string `json:"type"`
	} `json:"ref"`
	RefID    string `json:"refId"`
	FromHash string `json:"fromHash"`
	ToHash   string `json:"toHash"`
	Type     string `json:"type"`
}

// commit is one entry of repo:refs_changed's commits: its author is a Data Center user when
// the address matches one, else git's name and address; either way name is set.
type commit struct {
	ID      string `json:"id"`
	Message string `json:"message"`
	Author  user   `json:"author"`
	Parents []struct {
		ID string `json:"id"`
	} `json:"parents"`
}

// prPayload is what Parse reads of a pull request event: the five keys that always start a
// build and pr:modified share it.
type prPayload struct {
	EventKey    string   `json:"eventKey"`
	Actor       user     `json:"actor"`
	PullRequest prEntity `json:"pullRequest"`
	// PreviousFromHash is pr:from_ref_updated's source commit before the update.
	PreviousFromHash string `json:"previousFromHash"`
	// PreviousTarget is pr:modified's target before the modification.
	PreviousTarget struct {
		ID string `json:"id"`
	} `json:"previousTarget"`
}

// prEntity is what Parse reads of Data Center's pull request entity. The id is an int64
// so that a negative or oversized one is refused by a check that names it, not by the
// decoder.
type prEntity struct {
	ID    int64  `json:"id"`
	Title string `json:"title"`
	// Draft is Data Center 8.18's draft flag; older versions leave it out.
	Draft   bool  `json:"draft"`
	FromRef prRef `json:"fromRef"`
	ToRef   prRef `json:"toRef"`
}

// prRef is a pull request's source or target: a branch of a repository at a commit.
type prRef struct {
	ID           string     `json:"id"`
	DisplayID    string     `json:"displayId"`
	LatestCommit string     `json:"latestCommit"`
	Repository   repository `json:"repository"`
}

// user is a Data Center user (name is the login slug) or a commit's git identity (name is
// git's author name).
type user struct {
	Name        string `json:"name"`
	DisplayName string `json:"displayName"`
}

// login names a user by user name, else display name.
func (u user) login() string {
	if u.Name != "" {
		return u.Name
	}
	return u.DisplayName
}

// repository is what Parse reads of Data Center's repository entity. Links stays untyped:
// Data Center leaves links out of some payloads (and out of all when its base URL is unset),
// and a clone link of an unexpected shape only costs the clone URL. defaultBranch stays raw
// because Data Center's REST API names a branch either by its name or as a branch object,
// and payloads normally leave it out.
type repository struct {
	Slug    string `json:"slug"`
	Project struct {
		Key string `json:"key"`
	} `json:"project"`
	Links         map[string]any  `json:"links"`
	DefaultBranch json.RawMessage `json:"defaultBranch"`
}

// defaultBranch returns the default branch's name, or "" when the payload does not say.
func (r repository) defaultBranch() string {
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

// normalise returns the scm.Repository of a Data Center repository, whose full name is
// PROJECT/slug.
func (r repository) normalise(key string) (scm.Repository, error) {
	if r.Project.Key == "" || r.Slug == "" {
		return scm.Repository{}, scm.Malformed("%s: the repository names no project key or slug", key)
	}
	return scm.Repository{
		FullName:      r.Project.Key + "/" + r.Slug,
		CloneURL:      cloneURL(r.Links),
		DefaultBranch: r.defaultBranch(),
	}, nil
}

// cloneURL returns the repository's HTTP(S) clone link, or "" when the payload has none.
// Links are untyped, so every step is checked.
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
