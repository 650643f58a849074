package triggerstep

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/stepline/stepline/pkg/pipeline"
	"github.com/stepline/stepline/pkg/reposecret"
	"github.com/stepline/stepline/pkg/scm"
	"github.com/stepline/stepline/pkg/store"
	"github.com/stepline/stepline/pkg/store/dynamo"
	"github.com/stepline/stepline/pkg/trigger"
)

// KindSchedule is the #{source.event} of a run a schedule started.
const KindSchedule = "schedule"

// fire starts the run a schedule asks for: it checks that the registered file still has that
// schedule trigger, reads the head of the trigger's branch and the pipeline file there
// through the provider's API, and starts the named pipeline of that file at that commit. The
// idempotency key is the scheduled time, the same on every retry of one firing.
func (h *Handler) fire(ctx context.Context, in ScheduleInput) error {
	at, err := time.Parse(time.RFC3339, in.Time)
	if err != nil {
		return permanent("schedule input: time %q is not RFC 3339: %v", clip(in.Time), err)
	}
	name := ScheduleName(in.Provider, in.Repository, in.Pipeline, in.Trigger)
	if h.registry == nil {
		return permanent("schedule %s: a schedule needs the pipeline registry, and none is configured", name)
	}
	log := h.log.With("schedule", name, "scheduled", at.UTC(), "provider", in.Provider, "repository", in.Repository,
		"pipeline", in.Pipeline, "branch", in.Branch)
	reg, err := h.registry.Registration(ctx, in.Provider, in.Repository)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return permanent("schedule %s: %s %s has no registry entry, so no schedule trigger: the schedule is stale", name, in.Provider, in.Repository)
	case err != nil:
		return fmt.Errorf("schedule %s: %w", name, err)
	case reg.Problem != "":
		return permanent("schedule %s: the registry entry of %s %s is marked (%s): nothing runs", name, in.Provider, in.Repository, reg.Problem)
	}
	f, err := pipeline.Parse(PipelineFile, reg.File)
	if err != nil {
		return permanent("schedule %s: the registered file of %s %s is not valid: %v", name, in.Provider, in.Repository, err)
	}
	s, ok := trigger.ScheduleOf(f, in.Pipeline, in.Trigger, reg.Branch)
	if !ok || s.Branch != in.Branch {
		return permanent("schedule %s: the registered file (commit %.12s) has no such schedule trigger any more; the next registry copy removes the schedule", name, reg.Commit)
	}

	reader, err := h.registeredReader(ctx, name, reg)
	if err != nil {
		return err
	}
	heads, ok := reader.(HeadReader)
	if !ok {
		return permanent("schedule %s: the %s client cannot read the head of a branch", name, reg.Provider)
	}
	head, err := heads.Head(ctx, reg.Repo, s.Branch)
	if err != nil {
		return providerFailure(name, err)
	}
	if err := scm.CheckCommit(head); err != nil {
		// Each HeadReader checks its provider's answer; one that does not is caught here.
		return permanent("schedule %s: the head of %s: %v", name, s.Branch, err)
	}
	data, err := reader.ReadFile(ctx, reg.Repo, head, PipelineFile)
	if err != nil {
		return providerFailure(name, err)
	}
	bf, err := pipeline.Parse(PipelineFile, data)
	if err != nil {
		return permanent("schedule %s: %s at %.12s (head of %s) is not a valid pipeline file:\n%v", name, PipelineFile, head, s.Branch, err)
	}
	p, err := bf.Pipeline(in.Pipeline)
	if err != nil {
		return permanent("schedule %s: branch %s at %.12s: %v", name, s.Branch, head, err)
	}
	ev := scm.Event{Provider: reg.Provider, Kind: KindSchedule, Repository: scm.Repository{FullName: reg.Repo, DefaultBranch: reg.Branch},
		Ref: scm.BranchRef(s.Branch), Branch: s.Branch, After: head}
	l := launch{key: scheduleKey(in, at), source: ev.Variables(), trigger: "schedule " + s.Expression, repo: reg.Repo, branch: s.Branch,
		commit: head, provider: reg.Provider, hook: reg.Hook, untrusted: s.Untrusted,
		reason: fmt.Sprintf("schedule trigger #%d %q fired for %s", in.Trigger+1, s.Expression, at.UTC().Format(time.RFC3339))}
	return h.start(ctx, log.With("commit", head), p, l)
}

// registeredReader returns the file reader of a registered repository: CodeCommit's, which
// needs no secret, or the one built from the secret of the repository's hook.
func (h *Handler) registeredReader(ctx context.Context, name string, reg dynamo.Registration) (FileReader, error) {
	if reg.Provider == scm.CodeCommit {
		if h.codecommit == nil {
			return nil, permanent("schedule %s: %s is a CodeCommit repository, and no CodeCommit client is configured", name, reg.Repo)
		}
		return limited{h.codecommit}, nil
	}
	sec, err := h.secrets.Get(ctx, reg.Hook)
	if errors.Is(err, reposecret.ErrUnknownHook) {
		return nil, permanentError{err: fmt.Errorf("schedule %s: %w", name, err)}
	}
	if err != nil {
		return nil, fmt.Errorf("schedule %s: %w", name, err)
	}
	if sec.Provider != reg.Provider || sec.Repository != reg.Repo {
		return nil, permanent("schedule %s: the hook is registered for %s %s, not %s %s", name, sec.Provider, sec.Repository, reg.Provider, reg.Repo)
	}
	reader, _, err := h.clients(sec)
	if err != nil {
		return nil, permanentError{err: fmt.Errorf("schedule %s: %w", name, err)}
	}
	return reader, nil
}

// providerFailure sorts a provider API failure: a missing branch or file, or a refusal, is
// permanent; an outage or throttling is worth the retry.
func providerFailure(name string, err error) error {
	if errors.Is(err, scm.ErrNotFound) || !retryable(err) {
		return permanentError{err: fmt.Errorf("schedule %s: %w", name, err)}
	}
	return fmt.Errorf("schedule %s: %w", name, err)
}

// scheduleKey is the idempotency key of one firing: the scheduled time, readable, and a
// digest of the trigger, since one minute may fire several schedules.
func scheduleKey(in ScheduleInput, at time.Time) string {
	sum := sha256.Sum256([]byte(in.Provider + "\x00" + in.Repository + "\x00" + in.Pipeline + "\x00" + strconv.Itoa(in.Trigger)))
	return "schedule-" + at.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(sum[:4])
}
