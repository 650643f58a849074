package bitbucketserver

import (
	"fmt"
	"math"

	"github.com/stepline/stepline/pkg/scm"
)

// parsePullRequest yields the one event of a pull request delivery whose key always starts
// a build. The five keys share one payload shape; pr:from_ref_updated adds previousFromHash.
func parsePullRequest(key, action, delivery string, body []byte) ([]scm.Event, error) {
	var p prPayload
	if err := decode(key, body, &p); err != nil {
		return nil, err
	}
	if err := sameKey(key, p.EventKey); err != nil {
		return nil, err
	}
	before := ""
	if key == keyPRFromUpdated {
		if p.PreviousFromHash == "" {
			return nil, scm.Malformed("%s: the delivery names no previousFromHash", key)
		}
		before = p.PreviousFromHash
	}
	return pullRequestEvent(key, p, action, before, delivery)
}

// parseModified yields an updated pull request when pr:modified retargets it, and ignores
// every other modification. A new target changes the diff a build checks and which
// target-branch filters match, as a push to the source does; a new title or description
// changes neither.
func parseModified(delivery string, body []byte) ([]scm.Event, error) {
	const key = keyPRModified
	var p prPayload
	if err := decode(key, body, &p); err != nil {
		return nil, err
	}
	if err := sameKey(key, p.EventKey); err != nil {
		return nil, err
	}
	previous := p.PreviousTarget.ID
	if previous == "" || previous == p.PullRequest.ToRef.ID {
		return nil, scm.Ignored("event %q changed the pull request but not its target branch, which starts nothing", key)
	}
	return pullRequestEvent(key, p, scm.PRUpdated, p.PullRequest.FromRef.LatestCommit, delivery)
}

// pullRequestEvent checks a decoded pull request delivery and builds its event. The event
// belongs to the target repository, where the pull request lives. Its ref is
// refs/pull-requests/<id>/from, the ref Data Center keeps in the target repository for the
// source's head, so a fork's branch called main never passes for the target's refs/heads/main;
// Branch keeps the source branch's name for people to read.
func pullRequestEvent(key string, p prPayload, action, before, delivery string) ([]scm.Event, error) {
	pr, from, to := p.PullRequest, p.PullRequest.FromRef, p.PullRequest.ToRef
	switch {
	case pr.ID <= 0 || pr.ID > math.MaxInt32:
		return nil, scm.Malformed("%s: the pull request has no valid id", key)
	case from.ID == "" || to.ID == "":
		return nil, scm.Malformed("%s: the pull request names no fromRef or toRef id", key)
	case from.LatestCommit == "":
		return nil, scm.Malformed("%s: the pull request's fromRef has no latestCommit", key)
	}
	repo, err := to.Repository.normalise(key)
	if err != nil {
		return nil, err
	}
	source, target := displayName(from), displayName(to)
	return []scm.Event{{
		Provider:   scm.BitbucketServer,
		Kind:       scm.KindPullRequest,
		Delivery:   delivery,
		Repository: repo,
		Ref:        fmt.Sprintf("refs/pull-requests/%d/from", pr.ID),
		Branch:     source,
		Before:     before,
		After:      from.LatestCommit,
		PullRequest: &scm.PullRequest{
			Number:       int(pr.ID),
			Action:       action,
			SourceBranch: source,
			TargetBranch: target,
			HeadSHA:      from.LatestCommit,
			BaseSHA:      to.LatestCommit,
			Title:        pr.Title,
			Draft:        pr.Draft,
			Fork:         isFork(from.Repository, to.Repository),
		},
		Sender: p.Actor.login(),
	}}, nil
}

// displayName is the branch name Data Center shows for a ref, else the ref's short name.
func displayName(r prRef) string {
	if r.DisplayID != "" {
		return r.DisplayID
	}
	branch, tag := scm.ShortRef(r.ID)
	return branch + tag
}

// isFork reports whether the source branch lives in another repository than the target,
// each named by project key and slug. A source that names no repository is taken for a
// fork: only a source that names the target is trusted as its own.
func isFork(from, to repository) bool {
	if from.Project.Key == "" || from.Slug == "" {
		return true
	}
	return from.Project.Key != to.Project.Key || from.Slug != to.Slug
}
