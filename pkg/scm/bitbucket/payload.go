package bitbucket

import (
	"cmp"
	"encoding/json"
	"strings"

	"github.com/stepline/stepline/pkg/scm"
)

// The types below hold only what Parse reads of a Bitbucket Cloud payload. Everything else
// (dates, uuids, counts, flags, links other than the repository's web address, reviewers, …)
// is left undecoded whatever its type: a provider changes such fields between versions, and
// a refused delivery starts nothing. What is read is decoded strictly: a value of the wrong
// JSON type there makes the delivery malformed.

// pushPayload is what Parse reads of repo:push.
type pushPayload struct {
	Actor      account    `json:"actor"`
	Repository repository `json:"repository"`
	// Push is nil when the body has no push object: then it is another event's body.
	Push *struct {
		Changes []refChange `json:"changes"`
	} `json:"push"`
	// PullRequest is set when the body carries a pull request: a push body never does, so
	// such a body is another event's, resent under repo:push. RawMessage keeps a null, so a
	// key that is there reads as there.
	PullRequest json.RawMessage `json:"pullrequest"`
}

// refChange is one entry of push.changes. New is nil for a deleted ref and Old for a created
// one.
type refChange struct {
	New     *refState `json:"new"`
	Old     *refState `json:"old"`
	Created bool      `json:"created"`
	Closed  bool      `json:"closed"`
	Forced  bool      `json:"forced"`
	// Commits are at most five, newest first.
	Commits []commit `json:"commits"`
}

// refState is one side of a change: a branch or tag and the commit it points at (for an
// annotated tag too, the commit, not the tag object).
type refState struct {
	Type   string `json:"type"`
	Name   string `json:"name"`
	Target commit `json:"target"`
}

// commit is a commit as a push names it.
type commit struct {
	Hash    string       `json:"hash"`
	Message string       `json:"message"`
	Author  commitAuthor `json:"author"`
}

// commitAuthor is a commit's author as Bitbucket sends it: the raw git author and, when
// Bitbucket could match it, the account. Older payloads (and go-playground/webhooks'
// recorded fixtures) put the account's names straight under author.
type commitAuthor struct {
	Raw         string   `json:"raw"`
	User        *account `json:"user"`
	NickName    string   `json:"nickname"`
	DisplayName string   `json:"display_name"`
}

// name names a commit's author: the linked account, else the name part of the raw git
// author, else the names straight under author.
func (a commitAuthor) name() string {
	if a.User != nil {
		if s := cmp.Or(a.User.NickName, a.User.DisplayName); s != "" {
			return s
		}
	}
	if s := rawName(a.Raw); s != "" {
		return s
	}
	return cmp.Or(a.NickName, a.DisplayName)
}

// account is a Bitbucket account as Parse reads it.
type account struct {
	NickName    string `json:"nickname"`
	DisplayName string `json:"display_name"`
	AccountID   string `json:"account_id"`
}

// name names an account by nickname, else display name, else account id: usernames are
// gone from Bitbucket Cloud since 2019, and the nickname is what its web pages show.
func (a account) name() string {
	return cmp.Or(a.NickName, a.DisplayName, a.AccountID)
}

// repository is what Parse reads of Bitbucket's repository entity.
type repository struct {
	FullName string `json:"full_name"`
	Links    struct {
		HTML struct {
			Href string `json:"href"`
		} `json:"html"`
	} `json:"links"`
	MainBranch *struct {
		Name string `json:"name"`
	} `json:"mainbranch"`
}

// normalise returns the scm.Repository of a repository entity. Bitbucket's webhook entity
// carries no clone link, but its web address plus ".git" is the HTTPS clone address.
func (r repository) normalise() scm.Repository {
	out := scm.Repository{FullName: r.FullName}
	if href := strings.TrimSuffix(r.Links.HTML.Href, "/"); href != "" {
		out.CloneURL = href + ".git"
	}
	if r.MainBranch != nil {
		out.DefaultBranch = r.MainBranch.Name
	}
	return out
}

// prPayload is what Parse reads of the four pull request events it handles, which share one
// shape.
type prPayload struct {
	Actor       account    `json:"actor"`
	Repository  repository `json:"repository"`
	PullRequest *prEntity  `json:"pullrequest"`
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
func (p prPayload) foreign() string {
	switch {
	case p.Comment != nil:
		return "comment"
	case p.Approval != nil:
		return "approval"
	case p.ChangesRequest != nil:
		return "changes_request"
	case p.Push != nil:
		return "push"
	}
	return ""
}

// prEntity is what Parse reads of Bitbucket's pull request entity.
type prEntity struct {
	ID          int64  `json:"id"`
	Title       string `json:"title"`
	State       string `json:"state"`
	Draft       bool   `json:"draft"`
	Source      prSide `json:"source"`
	Destination prSide `json:"destination"`
}

// prSide is a pull request's source or destination: a branch of a repository at a commit.
type prSide struct {
	Branch struct {
		Name string `json:"name"`
	} `json:"branch"`
	Commit struct {
		Hash string `json:"hash"`
	} `json:"commit"`
	Repository repository `json:"repository"`
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
