package bitbucket

import (
	"cmp"

	bb "github.com/go-playground/webhooks/v6/bitbucket"

	"github.com/stepline/stepline/pkg/scm"
)

// pullRequestPayload is the one shape the bitbucket package declares four times, for
// pullrequest:created, :updated, :fulfilled and :rejected. The conversions below stop
// compiling if the library ever makes them differ, so decoding all four into this is exact.
type pullRequestPayload bb.PullRequestCreatedPayload

var _ = []pullRequestPayload{
	pullRequestPayload(bb.PullRequestUpdatedPayload{}),
	pullRequestPayload(bb.PullRequestMergedPayload{}),
	pullRequestPayload(bb.PullRequestDeclinedPayload{}),
}

// parsePullRequest turns a pull request delivery into one event. Bitbucket sends the
// commits' hashes as given, often 12-character short hashes; they are kept as they are.
func parsePullRequest(key bb.Event, action, delivery string, body []byte) ([]scm.Event, error) {
	var p pullRequestPayload
	if err := decode(key, body, &p); err != nil {
		return nil, err
	}
	var x pullRequestExtras
	if err := decode(key, body, &x); err != nil {
		return nil, err
	}
	if x.PullRequest == nil {
		return nil, scm.Malformed("%s: no pullrequest object", key)
	}
	pr := p.PullRequest
	src := pr.Source.Branch.Name
	head := pr.Source.Commit.Hash
	switch {
	case pr.ID <= 0:
		return nil, scm.Malformed("%s: pull request id %d is not positive", key, pr.ID)
	case src == "":
		return nil, scm.Malformed("%s: pull request %d has no source branch", key, pr.ID)
	case head == "":
		return nil, scm.Malformed("%s: pull request %d has no source commit", key, pr.ID)
	}

	// The pull request lives in its destination repository, the one the webhook is on: the
	// top-level repository fills what the destination's shorter entity lacks.
	repo := repository(pr.Destination.Repository, x.PullRequest.Destination.Repository)
	if top := repository(p.Repository, x.Repository); repo.FullName == "" || repo.FullName == top.FullName {
		repo.FullName = cmp.Or(repo.FullName, top.FullName)
		repo.CloneURL = cmp.Or(repo.CloneURL, top.CloneURL)
		repo.DefaultBranch = cmp.Or(repo.DefaultBranch, top.DefaultBranch)
	}
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
			Draft:        x.PullRequest.Draft,
		},
		Sender: account(p.Actor),
	}}, nil
}
