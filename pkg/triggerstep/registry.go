package triggerstep

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stepline/stepline/pkg/pipeline"
	"github.com/stepline/stepline/pkg/scm"
	"github.com/stepline/stepline/pkg/store"
	"github.com/stepline/stepline/pkg/store/dynamo"
	"github.com/stepline/stepline/pkg/trigger"
)

// Registry is the pipeline registry the trigger keeps for events that carry no commit;
// *dynamo.Store is one. PutRegistration fails with dynamo.ErrSuperseded when a later push is
// registered, and Registration with store.ErrNotFound when the repository has no entry.
type Registry interface {
	Registration(ctx context.Context, provider, repo string) (dynamo.Registration, error)
	PutRegistration(ctx context.Context, r dynamo.Registration) error
	PutImageIndex(ctx context.Context, image, provider, repo string) error
	DeleteImageIndex(ctx context.Context, image, provider, repo string) error
	ImageRegistrations(ctx context.Context, image string) ([]dynamo.Registration, error)
	PutBucketIndex(ctx context.Context, bucket, provider, repo string) error
	DeleteBucketIndex(ctx context.Context, bucket, provider, repo string) error
	BucketRegistrations(ctx context.Context, bucket string) ([]dynamo.Registration, error)
}

var _ Registry = (*dynamo.Store)(nil)

// copyToRegistry registers the pipeline file of a push to the repository's default branch:
// data parsed as f, or the problem that there is no valid file. Other events, and pushes
// whose event does not name the default branch, leave the registry alone. A copy the
// registry can never take is logged and does not stop the push's own pipelines; a transient
// failure is returned for the event's retry.
func (h *Handler) copyToRegistry(ctx context.Context, log *slog.Logger, e events.CloudWatchEvent, hook string, ev scm.Event,
	data []byte, f *pipeline.File, problem error) error {
	if h.registry == nil || ev.Kind != scm.KindPush || ev.Branch == "" {
		return nil
	}
	if ev.Repository.DefaultBranch == "" {
		log.InfoContext(ctx, "trigger: the event names no default branch, so the registry copy is left as it is")
		return nil
	}
	if ev.Branch != ev.Repository.DefaultBranch {
		return nil
	}
	next := dynamo.Registration{Provider: ev.Provider, Repo: ev.Repository.FullName, Branch: ev.Branch, Commit: ev.Head(),
		Hook: hook, File: data, Pushed: h.pushedAt(e.Time)}
	if problem != nil {
		next.File, next.Problem = nil, problem.Error()
	}
	err := h.register(ctx, log, next, f)
	var p permanentError
	if errors.As(err, &p) {
		log.ErrorContext(ctx, "trigger: the registry copy failed; the push's own pipelines still run", "error", err)
		return nil
	}
	return err
}

// register makes next, the default branch's pipeline file of a push (or, with Problem set,
// the mark of its absence), the repository's registry entry, and brings the image and bucket
// indexes and the schedules in line with it. f is next.File parsed, nil when Problem is set.
//
// The order makes every step safe to repeat: the image and bucket index items of the new
// file are written before the entry that lists them; the entry records, besides the new
// schedules, images and buckets, the old ones still to remove (Retired*); schedules are put
// and removed; the retired index items are deleted; the entry is written once more without the retired
// lists. A failure anywhere returns an error for the event's retry, which reads the entry
// back, retired lists included, and finishes the work.
func (h *Handler) register(ctx context.Context, log *slog.Logger, next dynamo.Registration, f *pipeline.File) error {
	log = log.With("registry", next.Provider+" "+next.Repo, "branch", next.Branch)
	prev, err := h.registry.Registration(ctx, next.Provider, next.Repo)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return fmt.Errorf("registry copy: %w", err)
	case prev.Pushed.After(next.Pushed):
		log.InfoContext(ctx, "trigger: the registry holds the file of a later push; this copy is not registered",
			"registered_commit", prev.Commit, "registered_pushed", prev.Pushed)
		return nil
	}

	var want []scheduleRequest
	if f != nil {
		next.Images = trigger.ImageRepositories(f)
		next.Buckets = trigger.ObjectBuckets(f)
		for _, s := range trigger.Schedules(f, next.Branch) {
			want = append(want, h.scheduleRequest(next.Provider, next.Repo, s))
		}
	}
	for _, r := range want {
		next.Schedules = append(next.Schedules, r.name)
	}
	next.RetiredImages = retired(next.Images, prev.Images, prev.RetiredImages)
	next.RetiredBuckets = retired(next.Buckets, prev.Buckets, prev.RetiredBuckets)
	next.RetiredSchedules = retired(next.Schedules, prev.Schedules, prev.RetiredSchedules)

	if len(want) > 0 || len(next.RetiredSchedules) > 0 {
		if h.scheduler == nil {
			return permanent("registry copy of %s %s: the file has schedule triggers to sync and no EventBridge Scheduler is configured", next.Provider, next.Repo)
		}
		if h.scheduleQueue == "" && len(want) > 0 {
			return permanent("registry copy of %s %s: no trigger queue is configured for the schedules to send to", next.Provider, next.Repo)
		}
	}

	for _, img := range next.Images {
		if err := h.registry.PutImageIndex(ctx, img, next.Provider, next.Repo); err != nil {
			return fmt.Errorf("registry copy: %w", err)
		}
	}
	for _, b := range next.Buckets {
		if err := h.registry.PutBucketIndex(ctx, b, next.Provider, next.Repo); err != nil {
			return fmt.Errorf("registry copy: %w", err)
		}
	}
	err = h.registry.PutRegistration(ctx, next)
	if errors.Is(err, dynamo.ErrTooLarge) {
		// The file does not fit in an item even compressed: mark the entry instead, and
		// remove what the file would have set up, the index items just written included.
		next, want = tooLarge(next, err), nil
		err = h.registry.PutRegistration(ctx, next)
	}
	if errors.Is(err, dynamo.ErrSuperseded) {
		log.InfoContext(ctx, "trigger: a later push was registered meanwhile; this copy is not registered")
		return nil
	} else if err != nil {
		return fmt.Errorf("registry copy: %w", err)
	}

	var errs []error
	for _, r := range want {
		if err := h.putSchedule(ctx, log, h.scheduleQueue, r); err != nil {
			errs = append(errs, err)
		}
	}
	for _, name := range next.RetiredSchedules {
		if err := h.deleteSchedule(ctx, log, name); err != nil {
			errs = append(errs, err)
		}
	}
	for _, img := range next.RetiredImages {
		if err := h.registry.DeleteImageIndex(ctx, img, next.Provider, next.Repo); err != nil {
			errs = append(errs, err)
		}
	}
	for _, b := range next.RetiredBuckets {
		if err := h.registry.DeleteBucketIndex(ctx, b, next.Provider, next.Repo); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("registry copy of %s %s: %w", next.Provider, next.Repo, errors.Join(errs...))
	}
	if len(next.RetiredImages) > 0 || len(next.RetiredBuckets) > 0 || len(next.RetiredSchedules) > 0 {
		next.RetiredImages, next.RetiredBuckets, next.RetiredSchedules = nil, nil, nil
		if err := h.registry.PutRegistration(ctx, next); err != nil && !errors.Is(err, dynamo.ErrSuperseded) {
			return fmt.Errorf("registry copy: %w", err)
		}
	}
	if next.Problem != "" {
		log.WarnContext(ctx, "trigger: registry entry marked: image pushes, object creations and schedules start nothing until the default branch has a valid file again",
			"problem", next.Problem)
	} else {
		log.InfoContext(ctx, "trigger: registry copy written", "images", next.Images, "buckets", next.Buckets, "schedules", next.Schedules)
	}
	return nil
}

// tooLarge turns next into the mark of a file the registry cannot hold.
func tooLarge(next dynamo.Registration, err error) dynamo.Registration {
	marked := next
	marked.File, marked.Images, marked.Buckets, marked.Schedules = nil, nil, nil, nil
	marked.Problem = fmt.Sprintf("%s at %.12s: %v", PipelineFile, next.Commit, err)
	marked.RetiredImages = retired(nil, next.Images, next.RetiredImages)
	marked.RetiredBuckets = retired(nil, next.Buckets, next.RetiredBuckets)
	marked.RetiredSchedules = retired(nil, next.Schedules, next.RetiredSchedules)
	return marked
}

// retired lists what the previous entry had (or still had to remove) and the new one has not.
func retired(now []string, before ...[]string) []string {
	var out []string
	for _, l := range before {
		for _, v := range l {
			if !slices.Contains(now, v) && !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
	}
	return out
}

// pushedAt orders registry copies by when EventBridge received the push; an event without a
// time (a test, a hand-made event) counts as received now.
func (h *Handler) pushedAt(t time.Time) time.Time {
	if t.IsZero() {
		return h.now().UTC()
	}
	return t.UTC()
}
