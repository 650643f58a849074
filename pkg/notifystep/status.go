package notifystep

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/stepline/stepline/pkg/approval"
	"github.com/stepline/stepline/pkg/notify"
	"github.com/stepline/stepline/pkg/notify/commitstatus"
	"github.com/stepline/stepline/pkg/reposecret"
	"github.com/stepline/stepline/pkg/scm"
	"github.com/stepline/stepline/pkg/store"
)

// status posts the commit status the change sets, when the run's repository has a token. A
// refused token is reported once per run and is not an error; neither is any other refusal
// a retry cannot change (a 404 for a repository the token cannot see, a 422). An outage, a
// rate limit or an unreadable secret is returned, for the queue to retry.
func (h *Handler) status(ctx context.Context, log *slog.Logger, rec store.Record, c notify.Change, kind notify.Kind,
	run notify.Run, links notify.Links) error {
	s, ok := notify.StatusFor(c, run, links.Run(run.ID))
	if !ok || rec.Hook == "" {
		return nil
	}
	// The queue does not keep order: a start retried after the run ended must not set the
	// status back to in progress.
	if kind == notify.PipelineStarted && rec.State.Done() {
		log.InfoContext(ctx, "notify: the run has ended; its start no longer sets the status")
		return nil
	}
	secret, err := h.secrets.Get(ctx, rec.Hook)
	switch {
	case errors.Is(err, reposecret.ErrUnknownHook):
		log.WarnContext(ctx, "notify: the repository's secret is gone; no commit status is posted")
		return nil
	case err != nil:
		return fmt.Errorf("read the repository's secret: %w", err)
	case secret.Token == "":
		log.InfoContext(ctx, "notify: the repository has no token; no commit status is posted")
		return nil
	}
	poster, err := h.providers.For(secret)
	if err != nil {
		log.WarnContext(ctx, "notify: no commit status is posted", "error", err)
		return nil
	}
	err = poster.Post(ctx, s)
	var tokenErr *commitstatus.TokenError
	var apiErr *scm.APIError
	switch {
	case err == nil:
		log.InfoContext(ctx, "notify: commit status posted", "repository", s.Repository, "state", string(s.State), "key", s.Key)
		return nil
	case errors.As(err, &tokenErr):
		return h.report(ctx, log, rec, secret.Provider, tokenErr)
	case errors.Is(err, commitstatus.ErrRateLimited):
		return err
	case errors.As(err, &apiErr) && apiErr.StatusCode >= 400 && apiErr.StatusCode < 500 && apiErr.StatusCode != http.StatusTooManyRequests:
		log.WarnContext(ctx, "notify: the provider refused the commit status; it is not retried", "error", err)
		return nil
	}
	return err
}

// report tells the run's events, once per run, that the provider refused the token.
func (h *Handler) report(ctx context.Context, log *slog.Logger, rec store.Record, provider string, tokenErr *commitstatus.TokenError) error {
	log.WarnContext(ctx, "notify: the provider refused the repository's token; no commit status is posted", "error", tokenErr)
	mark := "problem/" + rec.ID() + "/token"
	switch done, err := h.marks.Marked(ctx, mark); {
	case err != nil:
		return err
	case done:
		return nil
	}
	p := Problem{Pipeline: rec.Pipeline(), ExecutionID: rec.ID(), Provider: provider, Repository: rec.Repo, Problem: tokenErr.Error()}
	if err := approval.Publish(ctx, h.events, h.cfg.Bus, DetailProblem, p, h.now()); err != nil {
		return err
	}
	return h.marks.Mark(ctx, mark, h.now().Add(Remembered))
}
