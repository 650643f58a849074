package bitbucketserver

import (
	"fmt"
	"math"

	bbs "github.com/go-playground/webhooks/v6/bitbucket-server"

	"github.com/stepline/stepline/pkg/scm"
)

// prDelivery is what the pull request payloads share once decoded.
type prDelivery struct {
	key     bbs.Event
	bodyKey bbs.Event // the body's eventKey, to check against key
	actor   bbs.User
	pr      bbs.PullRequest
	before  string // the source branch's commit before the event, if known
}

// parsePullRequest yields the one event of a pull request delivery whose key always starts
// a build. Each key is decoded into the library's type for it, though the five share one
// shape, so the code reads as the library documents the payloads.
func parsePullRequest(key bbs.Event, action, delivery string, body []byte) ([]scm.Event, error) {
	d := prDelivery{key: key}
	var err error
	switch key {
	case bbs.PullRequestOpenedEvent:
		var p bbs.PullRequestOpenedPayload
		err = decode(key, body, &p)
		d.bodyKey, d.actor, d.pr = p.EventKey, p.Actor, p.PullRequest
	case bbs.PullRequestFromReferenceUpdatedEvent:
		var p bbs.PullRequestFromReferenceUpdatedPayload
		err = decode(key, body, &p)
		d.bodyKey, d.actor, d.pr, d.before = p.EventKey, p.Actor, p.PullRequest, p.PreviousFromHash
	case bbs.PullRequestMergedEvent:
		var p bbs.PullRequestMergedPayload
		err = decode(key, body, &p)
		d.bodyKey, d.actor, d.pr = p.EventKey, p.Actor, p.PullRequest
	case bbs.PullRequestDeclinedEvent:
		var p bbs.PullRequestDeclinedPayload
		err = decode(key, body, &p)
		d.bodyKey, d.actor, d.pr = p.EventKey, p.Actor, p.PullRequest
	case bbs.PullRequestDeletedEvent:
		var p bbs.PullRequestDeletedPayload
		err = decode(key, body, &p)
		d.bodyKey, d.actor, d.pr = p.EventKey, p.Actor, p.PullRequest
	}
	if err != nil {
		return nil, err
	}
	if err := sameKey(key, d.bodyKey); err != nil {
		return nil, err
	}
	if key == bbs.PullRequestFromReferenceUpdatedEvent && d.before == "" {
		return nil, scm.Malformed("%s: the delivery names no previousFromHash", key)
	}
	return pullRequestEvent(d, action, delivery, body)
}

// parseModified yields an updated pull request when pr:modified retargets it, and ignores
// every other modification. A new target changes the diff a build checks and which
// target-branch filters match, as a push to the source does; a new title or description
// changes neither.
func parseModified(delivery string, body []byte) ([]scm.Event, error) {
	key := bbs.PullRequestModifiedEvent
	var p bbs.PullRequestModifiedPayload
	if err := decode(key, body, &p); err != nil {
		return nil, err
	}
	if err := sameKey(key, p.EventKey); err != nil {
		return nil, err
	}
	// previousTarget is untyped in the library; Data Center sends a ref object.
	previous, _ := p.PreviousTarget["id"].(string)
	if previous == "" || previous == p.PullRequest.ToRef.ID {
		return nil, scm.Ignored("event %q changed the pull request but not its target branch, which starts nothing", string(key))
	}
	d := prDelivery{key: key, actor: p.Actor, pr: p.PullRequest, before: p.PullRequest.FromRef.LatestCommit}
	return pullRequestEvent(d, scm.PRUpdated, delivery, body)
}

// pullRequestEvent checks a decoded pull request delivery and builds its event. The event
// belongs to the target repository, where the pull request lives. Its ref is
// refs/pull-requests/<id>/from, the ref Data Center keeps in the target repository for the
// source's head, so a fork's branch called main never passes for the target's refs/heads/main;
// Branch keeps the source branch's name for people to read.
func pullRequestEvent(d prDelivery, action, delivery string, body []byte) ([]scm.Event, error) {
	var x extras
	if err := decode(d.key, body, &x); err != nil {
		return nil, err
	}
	pr, from, to := d.pr, d.pr.FromRef, d.pr.ToRef
	switch {
	case pr.ID == 0 || pr.ID > math.MaxInt32:
		return nil, scm.Malformed("%s: the pull request has no valid id", d.key)
	case from.ID == "" || to.ID == "":
		return nil, scm.Malformed("%s: the pull request names no fromRef or toRef id", d.key)
	case from.LatestCommit == "":
		return nil, scm.Malformed("%s: the pull request's fromRef has no latestCommit", d.key)
	}
	repo, err := repository(d.key, to.Repository, x.PullRequest.ToRef.Repository)
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
		Before:     d.before,
		After:      from.LatestCommit,
		PullRequest: &scm.PullRequest{
			Number:       int(pr.ID),
			Action:       action,
			SourceBranch: source,
			TargetBranch: target,
			HeadSHA:      from.LatestCommit,
			BaseSHA:      to.LatestCommit,
			Title:        pr.Title,
			Draft:        x.PullRequest.Draft,
			Fork:         isFork(from.Repository, to.Repository),
		},
		Sender: sender(d.actor),
	}}, nil
}

// displayName is the branch name Data Center shows for a ref, else the ref's short name.
func displayName(r bbs.RepositoryReference) string {
	if r.DisplayID != "" {
		return r.DisplayID
	}
	branch, tag := scm.ShortRef(r.ID)
	return branch + tag
}

// isFork reports whether the source branch lives in another repository than the target,
// each named by project key and slug. A source that names no repository is taken for a
// fork: only a source that names the target is trusted as its own.
func isFork(from, to bbs.Repository) bool {
	if from.Project.Key == "" || from.Slug == "" {
		return true
	}
	return from.Project.Key != to.Project.Key || from.Slug != to.Slug
}
