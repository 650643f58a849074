package github

import (
	"cmp"
	"fmt"

	"github.com/stepline/stepline/pkg/scm"
)

// prAction maps a pull_request action to its normalised name, or "" for an action that
// changes nothing a pipeline builds. "edited" and "closed" depend on the payload and are
// decided in parsePullRequest.
var prAction = map[string]string{
	"opened":           scm.PROpened,
	"reopened":         scm.PROpened,
	"synchronize":      scm.PRUpdated,
	"ready_for_review": scm.PRUpdated,
}

// parsePullRequest normalises a pull_request delivery. The event's ref is
// refs/pull/<n>/head, which GitHub serves in the base repository for every pull request, its
// own or a fork's: the head branch's name is kept in Branch for people to read, but a fork's
// branch called "main" must never pass for this repository's refs/heads/main.
func parsePullRequest(body []byte) (scm.Event, error) {
	var p pullRequestPayload
	if err := decode("pull_request", body, &p); err != nil {
		return scm.Event{}, err
	}
	pr := p.PullRequest
	action := p.Action
	norm := prAction[action]
	switch action {
	case "":
		return scm.Event{}, scm.Malformed("GitHub pull_request delivery names no action")
	case "edited":
		// Retargeting a pull request changes what it merges into, so its checks must run
		// again; a new title or body changes nothing that is built.
		if p.Changes == nil || !present(p.Changes.Base) {
			return scm.Event{}, scm.Ignored("GitHub pull_request edit that keeps the base branch starts no pipeline")
		}
		norm = scm.PRUpdated
	case "closed":
		norm = scm.PRClosed
		if pr != nil && pr.Merged {
			norm = scm.PRMerged
		}
	}
	if norm == "" {
		return scm.Event{}, scm.Ignored("GitHub pull_request action %q starts no pipeline", clip(action))
	}
	if pr == nil {
		return scm.Event{}, scm.Malformed("GitHub pull_request delivery has no pull_request object")
	}
	number := p.Number
	if number == 0 {
		number = pr.Number
	}
	head, base := pr.Head, pr.Base
	if head == nil {
		head = &branchAtSHA{}
	}
	if base == nil {
		base = &branchAtSHA{}
	}
	switch {
	case number <= 0:
		return scm.Event{}, scm.Malformed("GitHub pull_request delivery names no pull request number")
	case head.Ref == "" || head.SHA == "":
		return scm.Event{}, scm.Malformed("GitHub pull_request delivery names no head branch and commit")
	case base.Ref == "":
		return scm.Event{}, scm.Malformed("GitHub pull_request delivery names no base branch")
	}
	// The delivery's repository is the base repository, where the hook lives; the base
	// branch's copy of it is the fallback for a trimmed payload.
	repo := normalise(p.Repository, "")
	if repo.FullName == "" {
		repo = normalise(base.Repo, "")
	}
	if repo.FullName == "" {
		return scm.Event{}, scm.Malformed("GitHub pull_request delivery names no repository")
	}
	return scm.Event{
		Kind:       scm.KindPullRequest,
		Repository: repo,
		Ref:        fmt.Sprintf("refs/pull/%d/head", number),
		Branch:     head.Ref,
		After:      head.SHA,
		PullRequest: &scm.PullRequest{
			Number:       number,
			Action:       norm,
			SourceBranch: head.Ref,
			TargetBranch: base.Ref,
			HeadSHA:      head.SHA,
			BaseSHA:      base.SHA,
			Title:        pr.Title,
			Draft:        pr.Draft,
			Fork:         isFork(head, base, repo.FullName),
		},
		Sender: p.Sender.login(),
	}, nil
}

// isFork reports whether the head branch lives in another repository than the base. A null
// head repository is a fork that was deleted since, and a head repository without a name is
// taken for a fork too: only a head that names the base repository is trusted as its own.
// The base repository falls back to the delivery's, for a trimmed payload.
func isFork(head, base *branchAtSHA, deliveryRepo string) bool {
	headRepo := normalise(head.Repo, "").FullName
	baseRepo := cmp.Or(normalise(base.Repo, "").FullName, deliveryRepo)
	return headRepo == "" || headRepo != baseRepo
}
