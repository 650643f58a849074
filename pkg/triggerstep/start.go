package triggerstep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/pipeline"
	"github.com/stepline/stepline/pkg/scm"
	"github.com/stepline/stepline/pkg/store"
)

// launch is what a run is started from, whatever event asked for it.
type launch struct {
	// key is the event's idempotency key; the execution is named after it and the pipeline.
	key string
	// source is the run's #{source.*} namespace.
	source map[string]string
	// trigger, repo, branch, commit, provider and hook go into the run record.
	trigger, repo, branch, commit, provider, hook string
	// reason is the matching trigger's explanation, for the log.
	reason string
	// untrusted is the matching trigger's verdict (trigger.Decision.Untrusted), kept with
	// the run: its builds run apart and it never deploys (docs/trust.md).
	untrusted bool
	// id, when set, receives the id of the run started (StartManual).
	id *string
}

// start creates the run of p and starts its execution, unless the execution the event names
// already exists (a redelivery, or the queue's retry after a partial failure).
func (h *Handler) start(ctx context.Context, log *slog.Logger, p *pipeline.Pipeline, l launch) error {
	pl := p.Name.Value
	name := ExecutionName(l.key, pl)
	arn, _ := ExecutionARN(h.stateMachine, name)
	log = log.With("pipeline", pl, "execution", name)
	_, err := h.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	var missing *sfntypes.ExecutionDoesNotExist
	switch {
	case err == nil:
		log.InfoContext(ctx, "trigger: the execution was already started for this event")
		if l.id != nil {
			return fmt.Errorf("pipeline %s: execution %s was started already", pl, name)
		}
		return nil
	case !errors.As(err, &missing):
		return fmt.Errorf("pipeline %s: look for execution %s: %w", pl, name, err)
	}

	// The same event always gets the same run number: a retry after a failed start (or a
	// second copy of the message) rewrites and starts the same run instead of another one.
	// Numbers are the repository's and pipeline's (store.RunID says why).
	numbering := store.Scope{Provider: l.provider, Repository: l.repo, Pipeline: pl}
	seq, err := h.runs.SeqFor(ctx, numbering, name)
	if err != nil {
		return fmt.Errorf("pipeline %s: %w", pl, err)
	}
	id := store.RunID(numbering, seq)
	if l.id != nil {
		*l.id = id
	}
	vars, err := p.RunVariables(l.source, id, seq)
	if err != nil {
		return permanentError{err: err}
	}
	def := p.Definition()
	rec := store.Record{Definition: def, State: engine.New(def, engine.RunInfo{ID: id, Seq: seq, Variables: vars, URL: p.RunURL(l.source)}),
		Repo: l.repo, Trigger: l.trigger, Branch: l.branch, Commit: l.commit,
		Provider: l.provider, Hook: l.hook, ExecutionARN: arn, Updated: h.now().UTC(), Untrusted: l.untrusted}
	// The rollback target is the last success of this run's own environment (or branch), never
	// another's: its scope is known once the variables have picked the environment.
	switch last, err := h.runs.LastSucceeded(ctx, rec.Scope()); {
	case err == nil:
		rec.State.Previous = last.State.Artifacts
	case !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("pipeline %s: %w", pl, err)
	}
	// A record already there was written by an earlier delivery of this event; its execution
	// may be driving it by now, so it is started, never rewritten. One of another repository
	// (their ids' tags collided) is never taken over.
	switch old, err := h.runs.GetRun(ctx, id); {
	case errors.Is(err, store.ErrNotFound):
		if err := h.runs.PutRun(ctx, rec); err != nil {
			return fmt.Errorf("pipeline %s: %w", pl, err)
		}
	case err != nil:
		return fmt.Errorf("pipeline %s: %w", pl, err)
	case old.Scope().Counter() != numbering:
		return fmt.Errorf("pipeline %s: run id %s is taken by a run of %s", pl, id, old.Scope().Counter())
	}
	input, _ := json.Marshal(map[string]string{"run": id})
	out, err := h.sfn.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(h.stateMachine),
		Name: aws.String(name), Input: aws.String(string(input))})
	var exists *sfntypes.ExecutionAlreadyExists
	switch {
	case errors.As(err, &exists):
		// Another delivery of the same event started it between the look-up and now, for the
		// same run number: that execution drives the record just written.
		log.InfoContext(ctx, "trigger: the execution was started concurrently by another delivery", "run", id)
		return nil
	case err != nil:
		return fmt.Errorf("pipeline %s: start execution %s of run %s: %w", pl, name, id, err)
	}
	log.InfoContext(ctx, "trigger: execution started", "run", id, "reason", l.reason, "arn", aws.ToString(out.ExecutionArn))
	return nil
}

// Manual is a run a person starts on a branch or a commit (`stepline start --aws`,
// pkg/runops), rather than an event.
type Manual struct {
	// Key is the start's idempotency key: the execution is named after it and the pipeline,
	// so a start asked twice with one key starts one run.
	Key string
	// Event is the source revision as a push of it would carry it: provider, repository,
	// branch, head commit and its message and author, who asked (Sender).
	Event scm.Event
	// Hook is the registered webhook whose repository secret the source step reads with.
	Hook string
}

// StartManual creates the run of p for m and starts its execution, exactly as the trigger
// starts a run for an event (the same record, run number, rollback target and execution
// input), and returns the run's id. It runs with the caller's credentials: runs is the
// stack's table, sf its Step Functions.
func StartManual(ctx context.Context, runs Runs, sf executions, stateMachine string, p *pipeline.Pipeline, m Manual, now func() time.Time) (string, error) {
	if err := m.Event.Check(); err != nil {
		return "", err
	}
	h := &Handler{runs: runs, sfn: sf, stateMachine: stateMachine, now: now, log: slog.New(slog.DiscardHandler)}
	var id string
	ev := m.Event
	l := launch{key: m.Key, source: ev.Variables(), trigger: "manual (stepline start)", repo: ev.Repository.FullName,
		branch: ev.Branch, commit: ev.Head(), provider: ev.Provider, hook: m.Hook, reason: "started by " + ev.Sender, id: &id}
	if err := h.start(ctx, h.log, p, l); err != nil {
		return "", err
	}
	return id, nil
}
