package github

import (
	"cmp"
	"fmt"

	gh "github.com/google/go-github/v81/github"

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
	var p gh.PullRequestEvent
	if err := decode("pull_request", body, &p); err != nil {
		return scm.Event{}, err
	}
	pr := p.GetPullRequest()
	action := p.GetAction()
	norm := prAction[action]
	switch action {
	case "":
		return scm.Event{}, scm.Malformed("GitHub pull_request delivery names no action")
	case "edited":
		// Retargeting a pull request changes what it merges into, so its checks must run
		// again; a new title or body changes nothing that is built.
		if p.GetChanges().GetBase() == nil {
			return scm.Event{}, scm.Ignored("GitHub pull_request edit that keeps the base branch starts no pipeline")
		}
		norm = scm.PRUpdated
	case "closed":
		norm = scm.PRClosed
		if pr.GetMerged() {
			norm = scm.PRMerged
		}
	}
	if norm == "" {
		return scm.Event{}, scm.Ignored("GitHub pull_request action %q starts no pipeline", clip(action))
	}
	if pr == nil {
		return scm.Event{}, scm.Malformed("GitHub pull_request delivery has no pull_request object")
	}
	number := p.GetNumber()
	if number == 0 {
		number = pr.GetNumber()
	}
	head, base := pr.GetHead(), pr.GetBase()
	switch {
	case number <= 0:
		return scm.Event{}, scm.Malformed("GitHub pull_request delivery names no pull request number")
	case head.GetRef() == "" || head.GetSHA() == "":
		return scm.Event{}, scm.Malformed("GitHub pull_request delivery names no head branch and commit")
	case base.GetRef() == "":
		return scm.Event{}, scm.Malformed("GitHub pull_request delivery names no base branch")
	}
	// The delivery's repository is the base repository, where the hook lives; the base
	// branch's copy of it is the fallback for a trimmed payload.
	repo := repository(p.GetRepo(), "")
	if repo.FullName == "" {
		repo = repository(base.GetRepo(), "")
	}
	if repo.FullName == "" {
		return scm.Event{}, scm.Malformed("GitHub pull_request delivery names no repository")
	}
	return scm.Event{
		Kind:       scm.KindPullRequest,
		Repository: repo,
		Ref:        fmt.Sprintf("refs/pull/%d/head", number),
		Branch:     head.GetRef(),
		After:      head.GetSHA(),
		PullRequest: &scm.PullRequest{
			Number:       number,
			Action:       norm,
			SourceBranch: head.GetRef(),
			TargetBranch: base.GetRef(),
			HeadSHA:      head.GetSHA(),
			BaseSHA:      base.GetSHA(),
			Title:        pr.GetTitle(),
			Draft:        pr.GetDraft(),
			Fork:         isFork(head, base, repo.FullName),
		},
		Sender: p.GetSender().GetLogin(),
	}, nil
}

// isFork reports whether the head branch lives in another repository than the base. A null
// head repository is a fork that was deleted since, and a head repository without a name is
// taken for a fork too: only a head that names the base repository is trusted as its own.
// The base repository falls back to the delivery's, for a trimmed payload.
func isFork(head, base *gh.PullRequestBranch, deliveryRepo string) bool {
	headRepo := head.GetRepo().GetFullName()
	baseRepo := cmp.Or(base.GetRepo().GetFullName(), deliveryRepo)
	return headRepo == "" || headRepo != baseRepo
}
