package bitbucket

import (
	"slices"
	"strings"

	"github.com/stepline/stepline/pkg/scm"
)

// Bitbucket's names for the type of a pushed ref.
const (
	refBranch       = "branch"
	refTag          = "tag"
	refAnnotatedTag = "annotated_tag"
)

// ref is one side of a ref change; nil stands for a null side.
type ref struct {
	typ, name, hash string
}

// parsePush turns a repo:push delivery into one event per ref change. A change of a ref that
// is neither a branch nor a tag (Mercurial's named branches and bookmarks, gone from
// Bitbucket since 2020) is skipped; a delivery of nothing else is ignored.
func parsePush(delivery string, body []byte) ([]scm.Event, error) {
	const key = keyPush
	var p pushPayload
	if err := decode(key, body, &p); err != nil {
		return nil, err
	}
	if p.Push == nil {
		return nil, scm.Malformed("%s: no push object", key)
	}
	if p.PullRequest != nil {
		return nil, scm.Malformed("%s: the body carries a top-level \"pullrequest\", so it is another event's delivery", key)
	}
	changes := p.Push.Changes
	if len(changes) == 0 {
		return nil, scm.Ignored("%s lists no ref changes", key)
	}
	repo := p.Repository.normalise()
	sender := p.Actor.name()

	var events []scm.Event
	var skipped []string
	for i, c := range changes {
		var before, after *ref
		if c.Old != nil {
			before = &ref{c.Old.Type, c.Old.Name, c.Old.Target.Hash}
		}
		if c.New != nil {
			after = &ref{c.New.Type, c.New.Name, c.New.Target.Hash}
		}
		side := after
		if side == nil {
			side = before
		}
		switch {
		case side == nil:
			return nil, scm.Malformed("%s: change %d has neither new nor old", key, i)
		case side.name == "":
			return nil, scm.Malformed("%s: change %d names no ref", key, i)
		case before != nil && before.hash == "", after != nil && after.hash == "":
			return nil, scm.Malformed("%s: change %d of %q lacks a target hash", key, i, side.name)
		}

		e := scm.Event{
			Provider:   scm.Bitbucket,
			Delivery:   delivery,
			Repository: repo,
			Created:    before == nil || c.Created,
			Deleted:    after == nil || c.Closed,
			Forced:     c.Forced,
			Sender:     sender,
		}
		switch side.typ {
		case refBranch:
			e.Kind, e.Branch, e.Ref = scm.KindPush, side.name, scm.BranchRef(side.name)
		case refTag, refAnnotatedTag:
			e.Kind, e.Tag, e.Ref = scm.KindTag, side.name, scm.TagRef(side.name)
		default:
			skipped = append(skipped, side.typ)
			continue
		}
		if before != nil {
			e.Before = before.hash
		}
		if after != nil {
			e.After = after.hash
		}
		// Bitbucket lists the newest commit first.
		for j := len(c.Commits) - 1; j >= 0; j-- {
			cm := c.Commits[j]
			e.Commits = append(e.Commits, scm.Commit{ID: cm.Hash, Message: cm.Message, Author: cm.Author.name()})
		}
		// A tag, or a branch created at an existing commit, lists no commits, and new.target is
		// the head commit with its message and author: naming it lets the trigger read its skip
		// markers. For an annotated tag too, target is the commit, not the tag object.
		if after != nil && !hasCommit(e.Commits, after.hash) {
			t := c.New.Target
			e.Commits = append(e.Commits, scm.Commit{ID: t.Hash, Message: t.Message, Author: t.Author.name()})
		}
		events = append(events, e)
	}
	if len(events) == 0 {
		return nil, scm.Ignored("%s changes no branch or tag (ref types %q)", key, strings.Join(skipped, ", "))
	}
	return events, nil
}

// hasCommit reports whether commits names id.
func hasCommit(commits []scm.Commit, id string) bool {
	return slices.ContainsFunc(commits, func(c scm.Commit) bool { return c.ID == id })
}
