package github

import "encoding/json"

// The types below hold only what Parse reads of a GitHub delivery. Everything else (ids,
// dates such as pushed_at, which GitHub sends as epoch seconds in a push and as an ISO-8601
// string elsewhere, counts, flags, labels, milestones, owners, …) is left undecoded whatever
// its type: a refused delivery starts nothing. What is read is decoded strictly: a value of
// the wrong JSON type there makes the delivery malformed. The field names are those of
// GitHub's "Webhook events and payloads" page.

// pushPayload is what Parse reads of a push.
type pushPayload struct {
	Ref        string      `json:"ref"`
	Before     string      `json:"before"`
	After      string      `json:"after"`
	Created    bool        `json:"created"`
	Deleted    bool        `json:"deleted"`
	Forced     bool        `json:"forced"`
	Commits    []*commit   `json:"commits"`
	HeadCommit *commit     `json:"head_commit"`
	Repository *repository `json:"repository"`
	Pusher     *struct {
		Name string `json:"name"`
	} `json:"pusher"`
	Sender *user `json:"sender"`
}

// commit is a pushed commit. A nil file list is one the payload left out (GitHub Actions'
// copy of the payload drops them), which an empty list is not.
type commit struct {
	ID      string `json:"id"`
	Message string `json:"message"`
	Author  *struct {
		Name     string `json:"name"`
		Username string `json:"username"`
	} `json:"author"`
	Added    []string `json:"added"`
	Modified []string `json:"modified"`
	Removed  []string `json:"removed"`
}

// repository is what Parse reads of a repository. master_branch is the default branch in
// older payloads and in a create.
type repository struct {
	FullName      string `json:"full_name"`
	CloneURL      string `json:"clone_url"`
	DefaultBranch string `json:"default_branch"`
	MasterBranch  string `json:"master_branch"`
}

// user is an account as Parse reads it.
type user struct {
	Login string `json:"login"`
}

// pullRequestPayload is what Parse reads of a pull_request delivery.
type pullRequestPayload struct {
	Action      string       `json:"action"`
	Number      int          `json:"number"`
	PullRequest *pullRequest `json:"pull_request"`
	// Changes is an edit's list of what changed; only whether it names the base is read.
	Changes *struct {
		Base json.RawMessage `json:"base"`
	} `json:"changes"`
	Repository *repository `json:"repository"`
	Sender     *user       `json:"sender"`
}

// pullRequest is what Parse reads of a pull request.
type pullRequest struct {
	Number int          `json:"number"`
	Title  string       `json:"title"`
	Draft  bool         `json:"draft"`
	Merged bool         `json:"merged"`
	Head   *branchAtSHA `json:"head"`
	Base   *branchAtSHA `json:"base"`
}

// branchAtSHA is a pull request's head or base: a branch of a repository at a commit. The
// repository is null when the head's fork was deleted.
type branchAtSHA struct {
	Ref  string      `json:"ref"`
	SHA  string      `json:"sha"`
	Repo *repository `json:"repo"`
}

// refPayload is what Parse reads of a create or a delete.
type refPayload struct {
	Ref          string      `json:"ref"`
	RefType      string      `json:"ref_type"`
	MasterBranch string      `json:"master_branch"`
	Repository   *repository `json:"repository"`
	Sender       *user       `json:"sender"`
}

// pingPayload is what Parse reads of a ping. The hook's content is not read, only whether
// it is there.
type pingPayload struct {
	HookID     json.RawMessage `json:"hook_id"`
	Hook       json.RawMessage `json:"hook"`
	Repository *repository     `json:"repository"`
	Sender     *user           `json:"sender"`
}

// login returns the user's login, "" for a nil user.
func (u *user) login() string {
	if u == nil {
		return ""
	}
	return u.Login
}
