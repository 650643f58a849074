package bitbucket

import (
	"cmp"
	"fmt"
	"math"

	"github.com/stepline/stepline/pkg/scm"
)

// prStates names the state Bitbucket sends a pull request in under each key Parse handles
// (pullrequest.state: OPEN, MERGED or DECLINED; a draft is OPEN with draft set). X-Event-Key
// is not signed, so the signed body must agree with it: a merged pull request's delivery
// resent as pullrequest:created must not open it again, nor an opened one's resent as
// pullrequest:fulfilled merge it. created and updated share OPEN, and nothing else in the
// body tells them apart; both build the same head.
var prStates = map[string]string{
	keyPRCreated:   "OPEN",
	keyPRUpdated:   "OPEN",
	keyPRFulfilled: "MERGED",
	keyPRRejected:  "DECLINED",
}

// parsePullRequest turns a pull request delivery into one event. Bitbucket sends the
// commits' hashes as given, often 12-character short hashes; they are kept as they are.
func parsePullRequest(key, action, delivery string, body []byte) ([]scm.Event, error) {
	var p prPayload
	if err := decode(key, body, &p); err != nil {
		return nil, err
	}
	if p.PullRequest == nil {
		return nil, scm.Malformed("%s: no pullrequest object", key)
	}
	if f := p.foreign(); f != "" {
		return nil, scm.Malformed("%s: the body carries a top-level %q, so it is another event's delivery", key, f)
	}
	pr := p.PullRequest
	if want := prStates[key]; pr.State != want {
		return nil, scm.Malformed("%s: pull request %d is in state %s, not %s", key, pr.ID, quote(pr.State), want)
	}
	src := pr.Source.Branch.Name
	head := pr.Source.Commit.Hash
	switch {
	case pr.ID <= 0 || pr.ID > math.MaxInt32:
		return nil, scm.Malformed("%s: pull request id %d is not a positive 32-bit number", key, pr.ID)
	case src == "":
		return nil, scm.Malformed("%s: pull request %d has no source branch", key, pr.ID)
	case head == "":
		return nil, scm.Malformed("%s: pull request %d has no source commit", key, pr.ID)
	}

	// The pull request lives in its destination repository, the one the webhook is on: the
	// top-level repository fills what the destination's shorter entity lacks.
	repo := pr.Destination.Repository.normalise()
	if top := p.Repository.normalise(); repo.FullName == "" || repo.FullName == top.FullName {
		repo.FullName = cmp.Or(repo.FullName, top.FullName)
		repo.CloneURL = cmp.Or(repo.CloneURL, top.CloneURL)
		repo.DefaultBranch = cmp.Or(repo.DefaultBranch, top.DefaultBranch)
	}
	// Bitbucket Cloud serves no pull request ref: the ref stays the source branch's, and Fork
	// says when that branch is not in this repository.
	return []scm.Event{{
		Provider:   scm.Bitbucket,
		Kind:       scm.KindPullRequest,
		Delivery:   delivery,
		Repository: repo,
		Ref:        scm.BranchRef(src),
		Branch:     src,
		After:      head,
		PullRequest: &scm.PullRequest{
			Number:       int(pr.ID),
			Action:       action,
			SourceBranch: src,
			TargetBranch: pr.Destination.Branch.Name,
			HeadSHA:      head,
			BaseSHA:      pr.Destination.Commit.Hash,
			Title:        pr.Title,
			Draft:        pr.Draft,
			Fork:         isFork(pr.Source.Repository.FullName, repo.FullName),
		},
		Sender: p.Actor.name(),
	}}, nil
}

// isFork reports whether the source branch lives in another repository than the destination.
// A source that names no repository is taken for a fork: only a source that names the
// destination is trusted as its own.
func isFork(source, destination string) bool {
	return source == "" || source != destination
}

// quote quotes a value from the body for a one-line reason, cut to a readable length.
func quote(s string) string {
	const maxLen = 80
	if len(s) > maxLen {
		s = s[:maxLen] + "…"
	}
	return fmt.Sprintf("%q", s)
}
