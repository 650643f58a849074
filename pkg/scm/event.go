// Package scm turns webhook deliveries from source-code hosts into stepline's normalised
// source event (DESIGN.md section 5): it verifies signatures, names the providers and their
// headers, and defines the Event every provider parser yields. The provider packages
// (scm/github, scm/bitbucket, scm/bitbucketserver) do the parsing and the API calls.
package scm

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
)

// Provider names, as they appear in Event.Provider, in webhook routes and on the command line.
const (
	GitHub          = "github"
	Bitbucket       = "bitbucket"
	BitbucketServer = "bitbucket-server"
	CodeCommit      = "codecommit"
	ECR             = "ecr"
	S3              = "s3"
)

// Event kinds.
const (
	KindPush        = "push"
	KindTag         = "tag"
	KindPullRequest = "pull_request"
	KindPing        = "ping"
	KindImage       = "image"
	KindObject      = "object"
)

// Pull request actions, the normalised names of what happened to a pull request. They match
// the events a pipeline's pull_request trigger lists.
const (
	PROpened  = "opened"
	PRUpdated = "updated"
	PRClosed  = "closed"
	PRMerged  = "merged"
)

// ZeroSHA is the all-zero commit id providers use for the missing side of a created or
// deleted ref.
const ZeroSHA = "0000000000000000000000000000000000000000"

// Event is one normalised source event: what happened to one ref of one repository. A
// delivery can yield several (a Bitbucket push of three refs is three events).
type Event struct {
	Provider string `json:"provider"`
	Kind     string `json:"kind"`
	// Delivery is the provider's id of the delivery (GitHub X-GitHub-Delivery, Bitbucket Cloud
	// X-Request-UUID, Bitbucket Data Center X-Request-Id): the same on a redelivery.
	Delivery   string     `json:"delivery"`
	Repository Repository `json:"repository"`
	// Ref is the full ref name (refs/heads/main, refs/tags/v1); for pull requests the
	// provider's pull request ref (GitHub refs/pull/N/head, Data Center
	// refs/pull-requests/N/from), or the source branch's ref on Bitbucket Cloud, which has none.
	Ref    string `json:"ref"`
	Branch string `json:"branch"`
	Tag    string `json:"tag"`
	// Before and After are the ref's commit before and after the change; ZeroSHA (or empty,
	// when the provider gives nothing) for the missing side of a created or deleted ref.
	Before string `json:"before"`
	After  string `json:"after"`
	// HeadCommit is the commit to build when After is not one: an annotated tag's After is
	// the tag object, and the commit it points at is here. Empty when After is the commit.
	HeadCommit string `json:"head_commit,omitempty"`
	Created    bool   `json:"created"`
	Deleted    bool   `json:"deleted"`
	Forced     bool   `json:"forced"`
	// Commits are the pushed commits, oldest first, as far as the delivery lists them (Bitbucket
	// Cloud and Data Center list five at most; CodeCommit none). HeadMessage finds the head
	// among them by id.
	Commits []Commit `json:"commits"`
	// ChangedFiles are the paths changed between Before and After (for pull requests: between
	// the target branch and the head), sorted, without duplicates.
	ChangedFiles []string `json:"changed_files"`
	// FilesComplete is true only when ChangedFiles is known to be every changed path. Trigger
	// matching treats an incomplete list as "may match", so a path filter never drops a build
	// for lack of information.
	FilesComplete bool         `json:"files_complete"`
	PullRequest   *PullRequest `json:"pull_request,omitempty"`
	// Object is the created S3 object of an object event (Kind KindObject, Provider S3).
	Object *Object `json:"object,omitempty"`
	// Sender is the login (or account name) of whoever caused the event.
	Sender string `json:"sender"`
}

// Repository names the repository an event happened in.
type Repository struct {
	// FullName is owner/repo (Bitbucket Data Center: PROJECT/repo).
	FullName      string `json:"full_name"`
	CloneURL      string `json:"clone_url"`
	DefaultBranch string `json:"default_branch"`
}

// Object is an S3 object whose creation is the event: not a commit, so the event's commit
// fields stay empty.
type Object struct {
	Bucket string `json:"bucket"`
	Key    string `json:"key"`
	// Version is the object's version id; empty in a bucket without versioning.
	Version string `json:"version,omitempty"`
	ETag    string `json:"etag,omitempty"`
	Size    int64  `json:"size"`
}

// Commit is one commit named by a delivery.
type Commit struct {
	ID      string `json:"id"`
	Message string `json:"message"`
	Author  string `json:"author"`
}

// PullRequest describes the pull request of a pull_request event.
type PullRequest struct {
	Number int `json:"number"`
	// Action is one of PROpened, PRUpdated, PRClosed (closed without merging), PRMerged.
	Action       string `json:"action"`
	SourceBranch string `json:"source_branch"`
	TargetBranch string `json:"target_branch"`
	HeadSHA      string `json:"head_sha"`
	// BaseSHA is the target branch's commit the pull request was compared with, when known.
	BaseSHA string `json:"base_sha,omitempty"`
	Title   string `json:"title,omitempty"`
	Draft   bool   `json:"draft,omitempty"`
	// Fork is true when the source branch lives in another repository than the target: its
	// branch name says nothing about this repository (a fork's "main" is not ours), so a
	// fork's pull request never gets a branch's environment.
	Fork bool `json:"fork,omitempty"`
}

// Head returns the commit the event asks to build: the pull request's head, else the
// commit an annotated tag points at, else After.
func (e Event) Head() string {
	if e.PullRequest != nil && e.PullRequest.HeadSHA != "" {
		return e.PullRequest.HeadSHA
	}
	if e.HeadCommit != "" {
		return e.HeadCommit
	}
	return e.After
}

// HeadMessage returns the message of the head commit when the delivery names it, else "".
func (e Event) HeadMessage() string {
	head := e.Head()
	for i := len(e.Commits) - 1; i >= 0; i-- {
		if e.Commits[i].ID == head {
			return e.Commits[i].Message
		}
	}
	return ""
}

// Key is the idempotency key of the i-th of n events of one delivery: the provider and a
// digest of the signed body, plus the event's index when the delivery yields several. A
// redelivery sends the same bytes, so it maps to the same keys; a delivery id header, which
// the signature does not cover, cannot change them. Keys hold only letters, digits and '-'
// and stay under 80 characters, so the trigger step can name Step Functions executions by
// them.
func Key(provider string, body []byte, i, n int) string {
	sum := sha256.Sum256(body)
	k := provider + "-" + hex.EncodeToString(sum[:20])
	if n > 1 {
		k += "-" + strconv.Itoa(i+1)
	}
	return k
}

// BranchRef and TagRef build full ref names; ShortRef splits one into branch or tag.
func BranchRef(b string) string { return "refs/heads/" + b }

// TagRef returns the full ref name of tag t.
func TagRef(t string) string { return "refs/tags/" + t }

// ShortRef splits a full ref name into its branch or tag name; a name that is neither is
// returned as a branch, since providers send bare branch names in some payloads.
func ShortRef(ref string) (branch, tag string) {
	if t, ok := strings.CutPrefix(ref, "refs/tags/"); ok {
		return "", t
	}
	return strings.TrimPrefix(ref, "refs/heads/"), ""
}

// IsZero reports whether sha is empty or all zeros.
func IsZero(sha string) bool {
	return strings.Trim(sha, "0") == ""
}

// Files merges path lists into one sorted list without duplicates or empty names.
func Files(lists ...[]string) []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range lists {
		for _, p := range l {
			if p != "" && !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	slices.Sort(out)
	return out
}

// Check reports the first ref or commit of e that git would refuse (CheckRef, CheckBranch,
// CheckTag, CheckCommit): its ref, branch and tag, the repository's default branch, the pull
// request's branches, and every commit id the event asks stepline to build or compare
// (Before, After, HeadCommit, the pull request's head and base; only a Bitbucket Cloud pull
// request's may be abbreviated, as its payloads are). A field the provider left
// empty is not checked, nor are the listed Commits, which are only shown. Every parser calls
// it, so a delivery naming "a..b" or "HEAD~1" is refused (a webhook answers 400) before
// anything reads a file, starts a run or fills a #{source.*} variable with it.
func (e Event) Check() error {
	if e.Ref != "" {
		if !strings.HasPrefix(e.Ref, "refs/") {
			// A full name, never one git could read as an option or a revision.
			return &RefError{What: "ref", Value: e.Ref, Reason: `it does not begin with "refs/"`}
		}
		if err := CheckRef(e.Ref); err != nil {
			return err
		}
	}
	branches := []string{e.Branch, e.Repository.DefaultBranch}
	commits := []string{e.Before, e.After, e.HeadCommit}
	if pr := e.PullRequest; pr != nil {
		branches = append(branches, pr.SourceBranch, pr.TargetBranch)
		commits = append(commits, pr.HeadSHA, pr.BaseSHA)
	}
	for _, b := range branches {
		if b != "" {
			if err := CheckBranch(b); err != nil {
				return err
			}
		}
	}
	if e.Tag != "" {
		if err := CheckTag(e.Tag); err != nil {
			return err
		}
	}
	short := e.Provider == Bitbucket && e.Kind == KindPullRequest
	for _, c := range commits {
		if c == "" || short && abbreviated(c) {
			continue
		}
		if err := CheckCommit(c); err != nil {
			return err
		}
	}
	return nil
}

// abbreviated reports whether id is an abbreviated commit id: 7 to 39 lowercase hex digits.
// Bitbucket Cloud's pull request payloads give the source and destination commits so
// (https://support.atlassian.com/bitbucket-cloud/docs/event-payloads/#Pull-request-events: a
// commit's "hash", 12 digits in practice): the one place a short id is accepted, being
// neither an option nor a revision expression. What builds from it asks for a full id.
func abbreviated(id string) bool {
	return len(id) >= 7 && len(id) < 40 && CheckCommit(id+strings.Repeat("0", 40-len(id))) == nil
}
