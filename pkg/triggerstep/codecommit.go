package triggerstep

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stepline/stepline/pkg/scm"
	"github.com/stepline/stepline/pkg/scm/codecommit"
)

// CodeCommitRepos reads the CodeCommit repositories of the function's account and region with
// the function's own IAM role, so a CodeCommit repository has no secret and no hook;
// *codecommit.Client is one.
type CodeCommitRepos interface {
	FileReader
	HeadReader
	scm.FileLister
	DefaultBranch(ctx context.Context, repo string) (string, error)
}

var _ CodeCommitRepos = (*codecommit.Client)(nil)

// WithCodeCommit reads CodeCommit repositories through c: without it, CodeCommit events and
// the registered files of CodeCommit repositories start nothing.
func WithCodeCommit(c CodeCommitRepos) Option { return func(h *Handler) { h.codecommit = c } }

// handleCodeCommit runs, for a CodeCommit reference change, the pipelines a webhook push of
// the same branch or tag would run: the event is normalised (codecommit.ParseEvent), the
// repository's default branch asked for a branch push (the event does not name it, and the
// registry copy and the changed files of a new branch need it), and the rest is push's. A
// deleted reference, and CodeCommit's other events, are logged and start nothing.
func (h *Handler) handleCodeCommit(ctx context.Context, e events.CloudWatchEvent) error {
	ev, err := codecommit.ParseEvent(e)
	if reason, ok := scm.IsIgnored(err); ok {
		h.log.InfoContext(ctx, "trigger: the CodeCommit event starts nothing", "id", e.ID, "reason", reason)
		return nil
	}
	if err != nil {
		return permanent("event %s: %v", e.ID, err)
	}
	if e.ID == "" {
		return permanent("CodeCommit event without an event id: no idempotency key")
	}
	if h.codecommit == nil {
		return permanent("event %s: a CodeCommit push needs a CodeCommit client, and none is configured", e.ID)
	}
	key := codecommit.Key(e)
	log := h.log.With("key", key, "provider", ev.Provider, "repository", ev.Repository.FullName, "ref", ev.Ref, "commit", ev.Head())
	if ev.Kind == scm.KindPush {
		def, err := h.codecommit.DefaultBranch(ctx, ev.Repository.FullName)
		switch {
		case err != nil && (errors.Is(err, scm.ErrNotFound) || !retryable(err)):
			return permanentError{err: fmt.Errorf("event %s: %w", key, err)}
		case err != nil:
			return fmt.Errorf("event %s: %w", key, err)
		}
		ev.Repository.DefaultBranch = def
	}
	return h.push(ctx, log, e, key, "", ev, limited{h.codecommit}, h.codecommit)
}

// limited refuses a file over MaxFileBytes, as the other providers' readers do; GetFile
// itself answers files up to 6 MB.
type limited struct{ r FileReader }

func (l limited) ReadFile(ctx context.Context, repo, commit, path string) ([]byte, error) {
	b, err := l.r.ReadFile(ctx, repo, commit, path)
	if err == nil && len(b) > MaxFileBytes {
		return nil, fmt.Errorf("read %s of %s at %.12s: %d bytes: %w", path, repo, commit, len(b), ErrTooLarge)
	}
	return b, err
}

func (l limited) Head(ctx context.Context, repo, branch string) (string, error) {
	heads, ok := l.r.(HeadReader)
	if !ok {
		return "", fmt.Errorf("head of %s in %s: the reader cannot read heads", branch, repo)
	}
	return heads.Head(ctx, repo, branch)
}
