// Package serve turns the events `stepline serve` accepts into local runs: it drops
// redeliveries, reads the pipeline file at the event's commit, completes the changed files
// from the local repository, matches the triggers and starts a run of every pipeline that
// matches. It is the local counterpart of the trigger function.
package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"

	"github.com/stepline/stepline/pkg/local"
	"github.com/stepline/stepline/pkg/pipeline"
	"github.com/stepline/stepline/pkg/scm"
	"github.com/stepline/stepline/pkg/trigger"
	"github.com/stepline/stepline/pkg/webhook"
)

// Starter prepares a local run of pipeline p for event ev, whose idempotency key is key (the
// run records it, so a serve restarted after a crash can let the delivery run again), and returns the function that starts
// it (without waiting for it), or why the pipeline cannot run here (it needs AWS providers).
// untrusted is the matching trigger's verdict (trigger.Decision.Untrusted: a fork's pull
// request, a trigger marked trusted: false): such a run builds apart, with no secrets, and
// never deploys (docs/trust.md).
// Every matching pipeline is prepared before any starts, so a pipeline that cannot run never
// makes a redelivery start the others again.
type Starter func(ctx context.Context, p *pipeline.Pipeline, ev scm.Event, key string, untrusted bool) (start func(), err error)

// Reporter is told what became of each event: the trigger decisions, or why it was dropped.
type Reporter func(ev webhook.Accepted, decisions []trigger.Decision, note string)

// Server is a webhook.Publisher starting local runs.
type Server struct {
	repo   string
	file   string
	start  Starter
	seen   *Seen
	report Reporter
	log    *slog.Logger
}

// New returns a Server for the repository at repo, reading the pipeline file file (relative to
// the repository root) at each event's commit.
func New(repo, file string, seen *Seen, start Starter, report Reporter, log *slog.Logger) *Server {
	return &Server{repo: repo, file: path.Clean(file), start: start, seen: seen, report: report, log: log}
}

var _ webhook.Publisher = (*Server)(nil)

// Publish handles each event once. An event whose commit the repository does not have is an
// error (the delivery is answered 500 and may be retried once the commit is fetched); an
// event whose pipeline file is missing or invalid at that commit starts nothing, as on AWS.
func (s *Server) Publish(ctx context.Context, events []webhook.Accepted) error {
	var errs []error
	for _, a := range events {
		if !s.seen.Reserve(a.Key) {
			s.report(a, nil, "already handled: a redelivery starts nothing")
			continue
		}
		if err := s.handle(ctx, a); err != nil {
			s.seen.Release(a.Key)
			errs = append(errs, fmt.Errorf("%s: %w", a.Key, err))
			continue
		}
		if err := s.seen.Commit(a.Key); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *Server) handle(ctx context.Context, a webhook.Accepted) error {
	ev := a.Event
	head := ev.Head()
	// Nothing to read a pipeline file from: the trigger rules would refuse these anyway.
	switch {
	case ev.Deleted:
		s.report(a, nil, fmt.Sprintf("%s was deleted: a deletion never builds", ev.Ref))
		return nil
	case head == "" || scm.IsZero(head):
		s.report(a, nil, "the event names no commit to build (GitHub's create event: the push delivery that comes with it does)")
		return nil
	}
	if !local.HasCommit(ctx, s.repo, head) {
		return fmt.Errorf("commit %.12s is not in %s: fetch it, then redeliver", head, s.repo)
	}
	src, err := local.FileAt(ctx, s.repo, head, s.file)
	if err != nil {
		s.report(a, nil, fmt.Sprintf("no %s at %.7s: nothing to run", s.file, head))
		return nil
	}
	f, err := pipeline.Parse(s.file, src)
	if err != nil {
		s.report(a, nil, fmt.Sprintf("%s at %.7s is invalid, nothing was run:\n%v", s.file, head, err))
		return nil
	}
	if err := scm.Complete(ctx, &ev, local.GitFiles{Repo: s.repo}); err != nil {
		s.log.WarnContext(ctx, "changed files unknown; path filters will be assumed to match", "key", a.Key, "error", err)
	}
	decisions := trigger.MatchFile(f, ev)
	s.report(a, decisions, "")
	var starts []func()
	for _, d := range decisions {
		if !d.Run {
			continue
		}
		p, err := f.Pipeline(d.Pipeline)
		if err != nil {
			return err
		}
		start, err := s.start(ctx, p, ev, a.Key, d.Untrusted)
		if err != nil {
			// Permanent for this commit: a redelivery would fail the same way.
			s.report(a, nil, fmt.Sprintf("pipeline %s is not run here: %v", d.Pipeline, err))
			continue
		}
		starts = append(starts, start)
	}
	for _, start := range starts {
		start()
	}
	return nil
}
