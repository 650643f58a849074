package scm

import (
	"context"
	"fmt"
)

// Range returns the two commits whose difference is the event's changed files: for a pull
// request its base (the target's commit, else the target branch) and head; for a push the
// ref's commit before and after, or for a new branch the default branch and the new head.
// ok is false when no such pair exists (a deletion, a new tag, a new default branch).
func (e Event) Range() (base, head string, ok bool) {
	if e.PullRequest != nil {
		base = e.PullRequest.BaseSHA
		if base == "" {
			base = e.PullRequest.TargetBranch
		}
		return base, e.PullRequest.HeadSHA, base != "" && e.PullRequest.HeadSHA != ""
	}
	if e.Deleted || IsZero(e.After) {
		return "", "", false
	}
	if e.Created || IsZero(e.Before) {
		if e.Kind != KindPush || e.Repository.DefaultBranch == "" || e.Branch == e.Repository.DefaultBranch {
			return "", "", false
		}
		return e.Repository.DefaultBranch, e.Head(), true
	}
	// An annotated tag's Before and After are tag objects; compare the commit it points at.
	return e.Before, e.Head(), true
}

// AncestryChecker is a FileLister that can also tell whether one commit is an ancestor of
// another; Complete uses it to detect a forced push that the provider did not flag
// (Bitbucket Data Center never does).
type AncestryChecker interface {
	IsAncestor(ctx context.Context, repo, ancestor, descendant string) (bool, error)
}

// Complete fills ev.ChangedFiles through l when the delivery did not list them all. It does
// nothing when the list is already complete or the event has no range; on an error the event
// is left as it was (FilesComplete false), which trigger matching treats as "may match".
//
// The providers compare from the merge base of the two commits, so for a forced push the
// files touched only by the commits the push threw away are missing: the list stays
// incomplete, and path filters assume a match.
func Complete(ctx context.Context, ev *Event, l FileLister) error {
	if ev.FilesComplete || l == nil {
		return nil
	}
	base, head, ok := ev.Range()
	if !ok {
		return nil
	}
	files, complete, err := l.ChangedFiles(ctx, ev.Repository.FullName, base, head)
	if err != nil {
		return fmt.Errorf("list the files changed in %s between %.12s and %.12s: %w", ev.Repository.FullName, base, head, err)
	}
	ev.ChangedFiles = Files(ev.ChangedFiles, files)
	ev.FilesComplete = complete && !forced(ctx, *ev, base, head, l)
	return nil
}

// forced reports whether a branch update may have dropped commits: the provider said so, or
// before is not an ancestor of after, or (for a provider that never says) it cannot be told.
func forced(ctx context.Context, ev Event, base, head string, l FileLister) bool {
	if ev.Forced {
		return true
	}
	if ev.PullRequest != nil || ev.Created || IsZero(ev.Before) {
		return false
	}
	ac, ok := l.(AncestryChecker)
	if !ok {
		return ev.Provider == BitbucketServer
	}
	yes, err := ac.IsAncestor(ctx, ev.Repository.FullName, base, head)
	return err != nil || !yes
}
