package bitbucket

import (
	"cmp"
	"encoding/json"
	"strings"

	bb "github.com/go-playground/webhooks/v6/bitbucket"

	"github.com/stepline/stepline/pkg/scm"
)

// The types below hold only what the bitbucket package's payload types lack. Parse decodes a
// body twice, once into the library's type and once into one of these, rather than copying
// the library's types whole.

// pushExtras is what bb.RepoPushPayload lacks.
type pushExtras struct {
	Repository repoExtras `json:"repository"`
	// Push is nil when the body has no push object, which the library cannot tell from an
	// empty one.
	Push *struct {
		Changes []changeExtras `json:"changes"`
	} `json:"push"`
	// PullRequest is set when the body carries a pull request: a push body never does, so
	// such a body is another event's, resent under repo:push.
	PullRequest json.RawMessage `json:"pullrequest"`
}

// changeExtras is what the library lacks of one entry of push.changes.
type changeExtras struct {
	// New is nil for a deleted ref and Old for a created one; the library decodes both into
	// values, so a null side reads as a ref with no name.
	New     *refExtras `json:"new"`
	Old     *struct{}  `json:"old"`
	Commits []struct {
		Author commitAuthor `json:"author"`
	} `json:"commits"`
}

// refExtras is what the library lacks of a change's new side: the raw author of the commit
// it points at.
type refExtras struct {
	Target struct {
		Author commitAuthor `json:"author"`
	} `json:"target"`
}

// commitAuthor is a commit's author as Bitbucket sends it: the raw git author and, when
// Bitbucket could match it, the account. The library reads it as a bb.Owner.
type commitAuthor struct {
	Raw  string    `json:"raw"`
	User *bb.Owner `json:"user"`
}

// repoExtras is what bb.Repository lacks.
type repoExtras struct {
	MainBranch *struct {
		Name string `json:"name"`
	} `json:"mainbranch"`
}

// pullRequestExtras is what the library's pull request payloads lack.
type pullRequestExtras struct {
	Repository  repoExtras `json:"repository"`
	PullRequest *struct {
		Draft       bool `json:"draft"`
		Destination struct {
			Repository repoExtras `json:"repository"`
		} `json:"destination"`
	} `json:"pullrequest"`
	// The objects that make a body another event's. The comment, approval and change request
	// events carry the same pullrequest object as the four keys Parse handles, one of these
	// beside it; a push carries push. RawMessage keeps a null, so a key that is there reads
	// as there.
	Comment        json.RawMessage `json:"comment"`
	Approval       json.RawMessage `json:"approval"`
	ChangesRequest json.RawMessage `json:"changes_request"`
	Push           json.RawMessage `json:"push"`
}

// foreign names the object that makes a pull request body another event's, or "".
func (x pullRequestExtras) foreign() string {
	switch {
	case x.Comment != nil:
		return "comment"
	case x.Approval != nil:
		return "approval"
	case x.ChangesRequest != nil:
		return "changes_request"
	case x.Push != nil:
		return "push"
	}
	return ""
}

// repository normalises a repository entity. Bitbucket's webhook entity carries no clone
// link, but its web address plus ".git" is the HTTPS clone address.
func repository(r bb.Repository, x repoExtras) scm.Repository {
	out := scm.Repository{FullName: r.FullName}
	if href := strings.TrimSuffix(r.Links.HTML.Href, "/"); href != "" {
		out.CloneURL = href + ".git"
	}
	if x.MainBranch != nil {
		out.DefaultBranch = x.MainBranch.Name
	}
	return out
}

// account names an account by nickname, else display name, else account id: usernames are
// gone from Bitbucket Cloud since 2019, and the nickname is what its web pages show.
func account(o bb.Owner) string {
	return cmp.Or(o.NickName, o.DisplayName, o.AccountID)
}

// authorName names a commit's author: the linked account, else the name part of the raw git
// author. lib is the same author as the library decoded it; the library's own fixtures put
// the account straight under "author", so it is the last resort.
func authorName(a commitAuthor, lib bb.Owner) string {
	if a.User != nil {
		if s := cmp.Or(a.User.NickName, a.User.DisplayName); s != "" {
			return s
		}
	}
	if s := rawName(a.Raw); s != "" {
		return s
	}
	return cmp.Or(lib.NickName, lib.DisplayName)
}

// rawName returns the name part of a raw git author "Name <email>", or the address when the
// name is empty.
func rawName(raw string) string {
	name, addr, _ := strings.Cut(raw, "<")
	if name = strings.TrimSpace(name); name != "" {
		return name
	}
	return strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(addr), ">"))
}
