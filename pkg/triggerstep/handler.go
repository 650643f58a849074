// Package triggerstep is functions/trigger's handler: it turns a "stepline Source Event" from
// the webhook into Step Functions executions. It reads the pipeline file at the event's head
// commit through the provider's API, completes the changed files, matches the triggers
// (pkg/trigger), and for every pipeline that runs creates the run record and starts the
// execution, named after the event's idempotency key so a redelivery starts nothing twice.
// Execution modes are applied later, by the stage locks of pkg/advance.
//
// A push to a repository's default branch also copies its pipeline file into the pipeline
// registry (Registry), with an index item per ECR repository its image triggers name, and
// syncs its schedule triggers into EventBridge Scheduler schedules that send to the trigger
// queue;
// an index item per S3 bucket its object triggers name is kept the same way. Three more
// inputs start runs from the registry: an ECR "ECR Image Action" push (image.go), an S3
// "Object Created" event (object.go) and a schedule's {"stepline-schedule": …} (fire.go).
// Invoke tells the shapes apart. CodeCommit pushes come from EventBridge too (codecommit.go):
// they run as a webhook push would, read with the function's role instead of a secret.
//
// Every input reaches the function through the trigger queue (HandleQueue, queue.go): the
// rules and the schedules send to the queue, and Lambda polls it, so an outage is retried
// for as long as the queue's redrive policy allows instead of Lambda's two async retries.
package triggerstep

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	gh "github.com/google/go-github/v81/github"

	"github.com/stepline/stepline/pkg/pipeline"
	"github.com/stepline/stepline/pkg/reposecret"
	"github.com/stepline/stepline/pkg/scm"
	"github.com/stepline/stepline/pkg/scm/codecommit"
	"github.com/stepline/stepline/pkg/store"
	"github.com/stepline/stepline/pkg/store/dynamo"
	"github.com/stepline/stepline/pkg/trigger"
	"github.com/stepline/stepline/pkg/webhook"
)

// PipelineFile is the path of the pipeline file in a repository.
const PipelineFile = ".stepline.yml"

// Runs is the part of store.Store the trigger uses.
type Runs interface {
	// SeqFor numbers the run an event key starts in the scope's repository and pipeline, the
	// same number for every delivery of it.
	SeqFor(ctx context.Context, scope store.Scope, key string) (int64, error)
	// GetRun reads the run whose id is exactly id: whether this event's run was written is
	// never answered by another pipeline's run whose id it prefixes.
	GetRun(ctx context.Context, id string) (store.Record, error)
	PutRun(ctx context.Context, r store.Record) error
	LastSucceeded(ctx context.Context, scope store.Scope) (store.Record, error)
}

// Secrets returns a registered repository's secret by hook id; *reposecret.Store is one.
type Secrets interface {
	Get(ctx context.Context, hook string) (reposecret.Secret, error)
}

type objectGetter interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

type executions interface {
	StartExecution(ctx context.Context, in *sfn.StartExecutionInput, optFns ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
	DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, optFns ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
}

var (
	_ Runs         = (*dynamo.Store)(nil)
	_ Runs         = (*store.Memory)(nil)
	_ Secrets      = (*reposecret.Store)(nil)
	_ objectGetter = (*s3.Client)(nil)
	_ executions   = (*sfn.Client)(nil)
)

// Clients builds a repository's file reader and changed-file lister from its secret;
// Providers.For is the real one.
type Clients func(reposecret.Secret) (FileReader, scm.FileLister, error)

// Handler is the trigger function's handler.
type Handler struct {
	runs         Runs
	secrets      Secrets
	objects      objectGetter
	sfn          executions
	stateMachine string
	clients      Clients
	bucket       string
	log          *slog.Logger
	now          func() time.Time

	registry      Registry
	codecommit    CodeCommitRepos
	scheduler     schedules
	schedulerRole string
	scheduleGroup string
	scheduleQueue string
}

// Option configures a Handler.
type Option func(*Handler)

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(h *Handler) { h.log = l } }

// WithClock sets the clock stamping run records (default time.Now).
func WithClock(now func() time.Time) Option { return func(h *Handler) { h.now = now } }

// WithEventBucket restricts the events read from S3 to bucket, the one the webhook spills
// large events to; an event naming another bucket is refused.
func WithEventBucket(bucket string) Option { return func(h *Handler) { h.bucket = bucket } }

// WithClients sets how provider clients are built (default Providers{}.For).
func WithClients(c Clients) Option { return func(h *Handler) { h.clients = c } }

// WithRegistry keeps the pipeline registry in r: without it, pushes are not copied and image
// pushes and schedules start nothing.
func WithRegistry(r Registry) Option { return func(h *Handler) { h.registry = r } }

// WithScheduler syncs schedule triggers into EventBridge Scheduler through c: schedules in
// group, sending their input to queue (the trigger queue's ARN) as role (an IAM role ARN
// Scheduler assumes).
func WithScheduler(c schedules, group, role, queue string) Option {
	return func(h *Handler) {
		h.scheduler, h.scheduleGroup, h.schedulerRole, h.scheduleQueue = c, group, role, queue
	}
}

// New returns a Handler creating runs in runs, reading tokens from secrets, large events from
// objects, and starting executions of stateMachine (an ARN) through sf.
func New(runs Runs, secrets Secrets, objects objectGetter, sf executions, stateMachine string, opts ...Option) (*Handler, error) {
	if runs == nil || secrets == nil || sf == nil {
		return nil, errors.New("triggerstep: runs, secrets and a Step Functions client are required")
	}
	if _, ok := ExecutionARN(stateMachine, "x"); !ok {
		return nil, fmt.Errorf("triggerstep: %q is not a state machine ARN", stateMachine)
	}
	h := &Handler{runs: runs, secrets: secrets, objects: objects, sfn: sf, stateMachine: stateMachine,
		clients: Providers{HTTPClient: &http.Client{Timeout: 30 * time.Second}}.For, log: slog.Default(), now: time.Now}
	for _, o := range opts {
		o(h)
	}
	return h, nil
}

// Detail is the detail of a webhook.DetailTypeSource event, hook id included.
type Detail = webhook.Detail

// permanentError marks a failure that a retry of the same event cannot fix: Handle logs it
// and succeeds, so the trigger queue does not offer the event again.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

func permanent(format string, args ...any) error {
	return permanentError{err: fmt.Errorf(format, args...)}
}

// Handle starts the executions one EventBridge event asks for: a stepline source event, an
// ECR image push, an S3 object creation or a CodeCommit reference change. It returns an
// error only for a failure worth a retry (AWS or provider API unavailable, throttled); an
// event that cannot start anything (no pipeline file, a bad one, an unknown hook, another
// kind of event) is logged and acknowledged. Executions already started for the event are
// not started again.
func (h *Handler) Handle(ctx context.Context, e events.CloudWatchEvent) error {
	return h.acknowledge(ctx, e.ID, h.handleEvent(ctx, e))
}

// acknowledge logs a permanent failure and swallows it, so that the trigger queue does not
// offer again what a retry cannot fix.
func (h *Handler) acknowledge(ctx context.Context, id string, err error) error {
	var p permanentError
	if errors.As(err, &p) {
		h.log.ErrorContext(ctx, "trigger: the event starts nothing", "id", id, "error", err)
		return nil
	}
	return err
}

func (h *Handler) handleEvent(ctx context.Context, e events.CloudWatchEvent) error {
	switch {
	case e.Source == webhook.EventSource && e.DetailType == webhook.DetailTypeSource:
		return h.handle(ctx, e)
	case e.Source == ECRSource && e.DetailType == ECRDetailType:
		return h.handleImage(ctx, e)
	case e.Source == S3Source && e.DetailType == S3ObjectCreatedType:
		return h.handleObject(ctx, e)
	case e.Source == codecommit.Source && e.DetailType == codecommit.DetailType:
		return h.handleCodeCommit(ctx, e)
	}
	return permanent("event %s: source %q, detail-type %q: not a stepline source event, an ECR image action, an S3 object creation nor a CodeCommit reference change", e.ID, e.Source, e.DetailType)
}

func (h *Handler) handle(ctx context.Context, e events.CloudWatchEvent) error {
	var d Detail
	if err := json.Unmarshal(e.Detail, &d); err != nil {
		return permanent("event %s: the detail is not a source event: %v", e.ID, err)
	}
	if d.Key == "" {
		return permanent("event %s: the detail has no key", e.ID)
	}
	ev, err := h.sourceEvent(ctx, d)
	if err != nil {
		return err
	}
	log := h.log.With("key", d.Key, "provider", ev.Provider, "repository", ev.Repository.FullName, "ref", ev.Ref, "commit", ev.Head())
	if ev.Kind == scm.KindPing || ev.Deleted || scm.IsZero(ev.Head()) {
		log.InfoContext(ctx, "trigger: nothing to build", "kind", ev.Kind, "deleted", ev.Deleted)
		return nil
	}
	if d.Hook == "" {
		return permanent("event %s: the detail names no hook, so the repository's token cannot be found", d.Key)
	}
	sec, err := h.secrets.Get(ctx, d.Hook)
	if errors.Is(err, reposecret.ErrUnknownHook) {
		return permanentError{err: fmt.Errorf("event %s: %w", d.Key, err)}
	}
	if err != nil {
		return fmt.Errorf("event %s: %w", d.Key, err)
	}
	if sec.Provider != ev.Provider || sec.Repository != ev.Repository.FullName {
		return permanent("event %s: the hook is registered for %s %s, not %s %s", d.Key, sec.Provider, sec.Repository, ev.Provider, ev.Repository.FullName)
	}
	reader, lister, err := h.clients(sec)
	if err != nil {
		return permanentError{err: fmt.Errorf("event %s: %w", d.Key, err)}
	}
	return h.push(ctx, log, e, d.Key, d.Hook, ev, reader, lister)
}

// push runs the pipelines of the pipeline file at ev's head that ev (a branch or tag push, a
// pull request) starts, reading the file through reader and the changed files through lister,
// after copying a default-branch push's file into the registry. key is the event's
// idempotency key and hook the registered webhook ("" for CodeCommit, which has none).
func (h *Handler) push(ctx context.Context, log *slog.Logger, e events.CloudWatchEvent, key, hook string, ev scm.Event,
	reader FileReader, lister scm.FileLister) error {
	// The webhook and the CodeCommit parser check the refs and commits of what they publish;
	// an event put on the bus by anything else (an older webhook), or a default branch an
	// API answered, is checked here, before any of it reaches an API, a run or a variable.
	if err := ev.Check(); err != nil {
		return permanent("event %s: %v", key, err)
	}
	data, err := reader.ReadFile(ctx, ev.Repository.FullName, ev.Head(), PipelineFile)
	var f *pipeline.File
	var problem, parseErr error
	switch {
	case errors.Is(err, scm.ErrNotFound):
		problem = fmt.Errorf("no %s at %.12s", PipelineFile, ev.Head())
	case errors.Is(err, ErrTooLarge):
		problem = fmt.Errorf("%s at %.12s: %w", PipelineFile, ev.Head(), err)
	case err != nil && !retryable(err):
		return permanentError{err: fmt.Errorf("event %s: %w", key, err)}
	case err != nil:
		return fmt.Errorf("event %s: %w", key, err)
	default:
		if f, parseErr = pipeline.Parse(PipelineFile, data); parseErr != nil {
			f, problem = nil, fmt.Errorf("%s at %.12s is not a valid pipeline file:\n%v", PipelineFile, ev.Head(), parseErr)
		}
	}
	if err := h.copyToRegistry(ctx, log, e, hook, ev, data, f, problem); err != nil {
		return err
	}
	switch {
	case errors.Is(err, scm.ErrNotFound):
		log.InfoContext(ctx, "trigger: no pipeline file at the commit, nothing runs", "file", PipelineFile)
		return nil
	case problem != nil:
		return permanent("event %s: %v", key, problem)
	}

	if err := scm.Complete(ctx, &ev, lister); err != nil {
		log.WarnContext(ctx, "trigger: the changed files stay incomplete; path filters will match", "error", err)
	}

	var errs []error
	for _, dec := range trigger.MatchFile(f, ev) {
		if !dec.Run {
			log.InfoContext(ctx, "trigger: pipeline does not run", "pipeline", dec.Pipeline, "reason", dec.Reason)
			continue
		}
		p, err := f.Pipeline(dec.Pipeline)
		if err != nil {
			errs = append(errs, permanentError{err: err})
			continue
		}
		l := launch{key: key, source: ev.Variables(), trigger: triggerOf(ev), repo: ev.Repository.FullName,
			branch: ev.Branch, commit: ev.Head(), provider: ev.Provider, hook: hook, reason: dec.Reason, untrusted: dec.Untrusted}
		if err := h.start(ctx, log, p, l); err != nil {
			errs = append(errs, err)
		}
	}
	return joined(errs)
}

// triggerOf names what started a run of ev in its record: a webhook, or CodeCommit's own
// EventBridge event.
func triggerOf(ev scm.Event) string {
	if ev.Provider == scm.CodeCommit {
		return "codecommit " + ev.Kind
	}
	return "webhook " + ev.Provider + " " + ev.Kind
}

// joined joins errs so that the result is permanent only when every one of them is: one
// transient failure is reason enough for a retry, which skips the pipelines already started.
func joined(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	err := errors.Join(errs...)
	for _, e := range errs {
		var p permanentError
		if !errors.As(e, &p) {
			return err
		}
	}
	return permanentError{err: err}
}

// sourceEvent returns the event of d, inline or stored in S3 when it was too large for
// EventBridge.
func (h *Handler) sourceEvent(ctx context.Context, d Detail) (scm.Event, error) {
	if d.Event != nil {
		return *d.Event, nil
	}
	if d.EventS3 == nil || d.EventS3.Bucket == "" || d.EventS3.Key == "" {
		return scm.Event{}, permanent("event %s: the detail carries neither an event nor its S3 location", d.Key)
	}
	if h.bucket != "" && d.EventS3.Bucket != h.bucket {
		return scm.Event{}, permanent("event %s is in bucket %q, not the webhook's bucket %q", d.Key, d.EventS3.Bucket, h.bucket)
	}
	if h.objects == nil {
		return scm.Event{}, permanent("event %s is in s3://%s/%s and no S3 client is configured", d.Key, d.EventS3.Bucket, d.EventS3.Key)
	}
	out, err := h.objects.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(d.EventS3.Bucket), Key: aws.String(d.EventS3.Key)})
	if err != nil {
		var nk *s3types.NoSuchKey
		if errors.As(err, &nk) {
			return scm.Event{}, permanentError{err: fmt.Errorf("event %s: s3://%s/%s: %w", d.Key, d.EventS3.Bucket, d.EventS3.Key, err)}
		}
		return scm.Event{}, fmt.Errorf("event %s: read s3://%s/%s: %w", d.Key, d.EventS3.Bucket, d.EventS3.Key, err)
	}
	defer out.Body.Close()
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, out.Body); err != nil {
		return scm.Event{}, fmt.Errorf("event %s: read s3://%s/%s: %w", d.Key, d.EventS3.Bucket, d.EventS3.Key, err)
	}
	var ev scm.Event
	if err := json.Unmarshal(buf.Bytes(), &ev); err != nil {
		return scm.Event{}, permanent("event %s: s3://%s/%s is not a source event: %v", d.Key, d.EventS3.Bucket, d.EventS3.Key, err)
	}
	return ev, nil
}

// retryable reports whether a provider API failure may pass: a server error, throttling or a
// failure to get an answer at all. A refusal (401, 403, 422…) or an oversized file stays.
func retryable(err error) bool {
	if errors.Is(err, ErrTooLarge) {
		return false
	}
	var rate *gh.RateLimitError
	var abuse *gh.AbuseRateLimitError
	if errors.As(err, &rate) || errors.As(err, &abuse) {
		return true
	}
	var api *scm.APIError
	if errors.As(err, &api) {
		return api.StatusCode == http.StatusTooManyRequests || api.StatusCode >= 500
	}
	return true
}
