package github

import (
	"cmp"
	"strings"

	"github.com/stepline/stepline/pkg/scm"
)

// GitHub's documented limits on a push delivery (webhook events and payloads, push): the
// commits array "includes a maximum of 2048 commits", and each commit's added, modified and
// removed lists report "a maximum of 3000 changed files". A list that reaches its cap may have
// been cut, so it is never taken as whole.
const (
	maxPushCommits    = 2048
	maxFilesPerCommit = 3000
)

// parsePush normalises a push delivery: one ref, branch or tag, moved, created or deleted.
func parsePush(body []byte) (scm.Event, error) {
	var p pushPayload
	if err := decode("push", body, &p); err != nil {
		return scm.Event{}, err
	}
	ref := p.Ref
	if ref == "" {
		return scm.Event{}, scm.Malformed("GitHub push delivery names no ref")
	}
	if p.After == "" {
		return scm.Event{}, scm.Malformed("GitHub push delivery names no after commit")
	}
	repo := normalise(p.Repository, "")
	if repo.FullName == "" {
		return scm.Event{}, scm.Malformed("GitHub push delivery names no repository")
	}
	pusher := ""
	if p.Pusher != nil {
		pusher = p.Pusher.Name
	}
	ev := scm.Event{
		Ref:        ref,
		Before:     p.Before,
		After:      p.After,
		Created:    p.Created,
		Deleted:    p.Deleted,
		Forced:     p.Forced,
		Repository: repo,
		Sender:     cmp.Or(p.Sender.login(), pusher),
	}
	if b, ok := strings.CutPrefix(ref, "refs/heads/"); ok && b != "" {
		ev.Kind, ev.Branch = scm.KindPush, b
	} else if t, ok := strings.CutPrefix(ref, "refs/tags/"); ok && t != "" {
		ev.Kind, ev.Tag = scm.KindTag, t
	} else {
		return scm.Event{}, scm.Ignored("GitHub push to %q, neither a branch nor a tag, starts no pipeline", clip(ref))
	}
	lists := make([][]string, 0, 3*len(p.Commits))
	for i, c := range p.Commits {
		if c == nil || c.ID == "" {
			return scm.Event{}, scm.Malformed("GitHub push delivery's commit %d has no id", i)
		}
		ev.Commits = append(ev.Commits, c.normalise())
		lists = append(lists, c.Added, c.Modified, c.Removed)
	}
	ev.ChangedFiles = scm.Files(lists...)
	// A branch created at an existing commit, a tag, or a list cut at its cap does not end with
	// the head; naming it last lets the trigger read its message ([skip ci]) all the same. Its
	// files stay out of ChangedFiles: it may not be part of this push.
	h := p.HeadCommit
	if h == nil {
		h = &commit{}
	}
	if h.ID != "" && (len(ev.Commits) == 0 || ev.Commits[len(ev.Commits)-1].ID != h.ID) {
		ev.Commits = append(ev.Commits, h.normalise())
	}
	// An annotated tag's after is the tag object, which no checkout or compare takes for a
	// commit; head_commit is the commit it points at. A lightweight tag's after is that commit
	// already, and a branch's after is always its head.
	if ev.Kind == scm.KindTag && !ev.Deleted && !scm.IsZero(ev.After) && h.ID != "" && h.ID != ev.After {
		ev.HeadCommit = h.ID
	}
	ev.FilesComplete = pushFilesComplete(&p)
	return ev, nil
}

// pushFilesComplete reports whether the union of the delivery's per-commit file lists is
// every path that differs between before and after. The union may list more (a path changed
// and changed back), never less, when:
//   - the push moved an existing ref without force: GitHub then lists every commit of
//     before..after, distinct or not ("pushed commits are all commits that are included in the
//     compare between the before commit and the after commit");
//   - the list has fewer than 2048 commits and ends with after;
//   - every commit carries its added/modified/removed lists (GitHub Actions' copy of the
//     payload drops them) with fewer than 3000 paths in all.
//
// Everything else may be partial: a created ref (no before to compare with: the list holds
// only the commits GitHub counted as new), a deleted ref (nothing to build), a forced push
// (the commits it dropped are not listed, yet the paths they touched changed), an empty list
// on a ref that moved, a list at a cap, a list that does not end with after (cut, or after is
// an annotated tag object).
func pushFilesComplete(p *pushPayload) bool {
	if p.Created || p.Deleted || p.Forced || scm.IsZero(p.Before) || scm.IsZero(p.After) {
		return false
	}
	n := len(p.Commits)
	if n == 0 || n >= maxPushCommits || p.Commits[n-1].ID != p.After {
		return false
	}
	for _, c := range p.Commits {
		if c.Added == nil && c.Modified == nil && c.Removed == nil {
			return false
		}
		if len(c.Added)+len(c.Modified)+len(c.Removed) >= maxFilesPerCommit {
			return false
		}
	}
	return true
}

// normalise returns the scm.Commit of a pushed commit. The author is the GitHub username
// GitHub matched to the commit's email, else the git author name.
func (c *commit) normalise() scm.Commit {
	author := ""
	if c.Author != nil {
		author = cmp.Or(c.Author.Username, c.Author.Name)
	}
	return scm.Commit{ID: c.ID, Message: c.Message, Author: author}
}
