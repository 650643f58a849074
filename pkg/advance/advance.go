// Package advance is the handler of functions/advance, the step the state machine returns to
// after every wave: it turns the wave's outputs and errors into engine inputs, calls
// engine.Advance (the same engine `stepline run` drives), takes and gives back stage locks,
// publishes the state changes, persists the run, and answers with the route the state machine
// takes next (statemachine.State).
package advance

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/statemachine"
	"github.com/stepline/stepline/pkg/store"
)

// Store is what Advance needs of the execution store (store.Store plus task tokens).
type Store interface {
	// GetRun reads the run whose id is exactly id (store.Store.GetRun never answers a
	// prefix; store.Finder, which does, is not asked for here).
	GetRun(ctx context.Context, id string) (store.Record, error)
	PutRun(ctx context.Context, r store.Record) error
	Acquire(ctx context.Context, scope store.Scope, stage string, mode engine.Mode, run string, seq int64) (engine.Grant, error)
	Release(ctx context.Context, scope store.Scope, stage, run string) (next string, err error)
	PutToken(ctx context.Context, run, task, token string, expires time.Time) error
	Token(ctx context.Context, run, task string) (string, error)
	DeleteToken(ctx context.Context, run, task string) error
	// LastSucceeded is the scope's newest successful run, store.ErrNotFound when none.
	LastSucceeded(ctx context.Context, scope store.Scope) (store.Record, error)
}

// Publisher announces state changes (EventBridge in AWS).
type Publisher interface {
	Publish(ctx context.Context, rec store.Record, events []engine.Event) error
}

// taskSender answers another execution's parked task token.
type taskSender interface {
	SendTaskSuccess(ctx context.Context, in *sfn.SendTaskSuccessInput, optFns ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error)
}

var _ taskSender = (*sfn.Client)(nil)

// Config is the deployment's settings.
type Config struct {
	// Bucket holds the runs' artifacts, under runs/<run>/.
	Bucket string
	// Project is the CodeBuild project builds run in unless an action names its own.
	Project string
	// Image and ComputeType are Project's environment: a build in Project whose action sets
	// only some of image, compute_type and privileged keeps these for the others. Unset, such
	// an action must set all three.
	Image, ComputeType string
	// UntrustedProject is the project every build of an untrusted run runs in (docs/trust.md):
	// its role reads and writes untrusted/* of Bucket only, where no deploy reads. It has
	// Project's environment. Unset, an untrusted run's builds are refused.
	UntrustedProject string
	// untrusted is set on the Config of an untrusted run's tasks (forRun).
	untrusted bool
}

// Artifact prefixes of Bucket: a trusted run's artifacts (which deploys read) and an
// untrusted run's (which nothing trusted reads), each followed by the run's id.
const (
	trustedPrefix   = "runs/"
	untrustedPrefix = "untrusted/"
)

// forRun returns the configuration rec's tasks are built with: an untrusted run's builds go
// to UntrustedProject and its artifacts under untrusted/<run>/.
func (c Config) forRun(rec store.Record) Config {
	c.untrusted = !rec.Trusted()
	return c
}

// prefix is where the configuration's runs keep their artifacts.
func (c Config) prefix() string {
	if c.untrusted {
		return untrustedPrefix
	}
	return trustedPrefix
}

// Handler is functions/advance's handler. Build it with New.
type Handler struct {
	store  Store
	events Publisher
	sfn    taskSender
	cfg    Config
	now    func() time.Time
	log    *slog.Logger
}

// Option configures a Handler.
type Option func(*Handler)

// WithClock sets the clock (tests).
func WithClock(now func() time.Time) Option { return func(h *Handler) { h.now = now } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(h *Handler) { h.log = l } }

// New returns a Handler.
func New(s Store, p Publisher, tasks taskSender, cfg Config, opts ...Option) *Handler {
	h := &Handler{store: s, events: p, sfn: tasks, cfg: cfg, now: time.Now, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(h)
	}
	return h
}

// Input is what the state machine sends: the execution's state document, or (Park) a stage
// lock request carrying the task token to answer once the lock is granted.
type Input struct {
	statemachine.State
	Park  bool   `json:"park,omitempty"`
	Token string `json:"token,omitempty"`
	// Abandon is the error that made Advance fail for good: the run is canceled through the
	// engine, which releases its stage locks and ends its record.
	Abandon *statemachine.TaskError `json:"abandon,omitempty"`
	// ExecutionEvent is set when EventBridge invokes the function with a "Step Functions
	// Execution Status Change" event instead (ExecutionEndedRule): an execution that ended
	// outside the state machine's own paths is abandoned the same way.
	ExecutionEvent
	// Resume is the first input of an execution started to reopen an ended run (a retry or
	// a rollback, pkg/runops): {"run": id, "resume": <engine.Input>}.
	Resume *engine.Input `json:"resume,omitempty"`
}

// StopKey is the token-store item (next to the run's task tokens) where a stop asked while
// actions run waits for the next Advance: the state machine cannot be told anything while a
// wave runs, so the stop is applied when the wave comes back (pkg/runops writes it).
const StopKey = "stop#request"

// Errors at the Lambda boundary, named as the state machine retries them
// (statemachine.ErrAdvanceConflict, statemachine.ErrAdvanceUnavailable).
type (
	// AdvanceUnavailable: the store, the event bus or Step Functions failed; retrying may work.
	AdvanceUnavailable struct{ Msg string }
	// AdvanceConflict: the run changed under the call; retrying reads it again.
	AdvanceConflict struct{ Msg string }
)

func (e *AdvanceUnavailable) Error() string { return e.Msg }
func (e *AdvanceConflict) Error() string    { return e.Msg }

// parkTask is the token key of a run's stage-lock wait.
const parkTask = "park"

// maxLoops bounds the lock grants applied within one call.
const maxLoops = 64

// Handle advances the run.
func (h *Handler) Handle(ctx context.Context, in Input) (statemachine.State, error) {
	switch {
	case in.Park:
		return statemachine.State{Run: in.Run}, h.park(ctx, in)
	case in.DetailType != "" || in.Detail != nil:
		return statemachine.State{}, h.ended(ctx, in)
	case in.Abandon != nil:
		return h.step(ctx, in, &engine.Input{Kind: engine.KindCancel, Message: "the run could not advance: " + failure(in.Abandon)})
	case in.Resume != nil:
		if in.Resume.Kind != engine.KindRetry && in.Resume.Kind != engine.KindRollback {
			return statemachine.State{}, fmt.Errorf("run %s: an execution resumes a run with a retry or a rollback, not %q", in.Run, in.Resume.Kind)
		}
		return h.step(ctx, in, in.Resume)
	}
	return h.step(ctx, in, nil)
}

// step applies what the state machine brought back, or cancel instead, and answers with the
// route to take next.
func (h *Handler) step(ctx context.Context, in Input, cancel *engine.Input) (statemachine.State, error) {
	rec, err := h.store.GetRun(ctx, in.Run)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return statemachine.State{}, fmt.Errorf("run %s: no record: the trigger step creates it before starting the execution", in.Run)
		}
		return statemachine.State{}, &AdvanceUnavailable{Msg: fmt.Sprintf("read run %s: %v", in.Run, err)}
	}
	digest := digestOf(in)
	if rec.Step != nil && rec.Step.Input == digest {
		// A retried invocation: answer as before, advancing nothing twice.
		var out statemachine.State
		if err := json.Unmarshal(rec.Step.Output, &out); err == nil {
			return out, nil
		}
	}

	now := h.now()
	inputs := h.inputs(h.cfg.forRun(rec), in.State)
	if cancel != nil {
		inputs = []engine.Input{*cancel}
	}
	stop, err := h.stopRequest(ctx, rec.ID())
	if err != nil {
		return statemachine.State{}, err
	}
	switch {
	case stop != nil && in.Resume != nil:
		// Kept for the execution that ended and never taken (asked as its last step ran):
		// nobody can ask to stop an ended run, so it is not meant for the run a retry or a
		// rollback reopens. It is forgotten below, once this step is saved.
		h.log.InfoContext(ctx, "dropped a stop request the run's earlier execution never took", "run", rec.ID())
	case stop != nil:
		inputs = append(inputs, *stop)
	}
	st := rec.State
	var events []engine.Event
	var notify []notice
	var out statemachine.State
	for loop := 0; ; loop++ {
		if loop == maxLoops {
			return statemachine.State{}, fmt.Errorf("run %s: stage locks granted %d times in one call", rec.ID(), maxLoops)
		}
		if engine.NeedsPrevious(inputs) {
			prev, err := h.previous(ctx, rec)
			if err != nil {
				return statemachine.State{}, err
			}
			inputs = append(prev, inputs...)
		}
		var d engine.Decision
		st, d, err = engine.Advance(rec.Definition, st, inputs, now)
		if err != nil {
			return statemachine.State{}, fmt.Errorf("advance run %s: %w", rec.ID(), err)
		}
		inputs = nil
		events = append(events, d.Events...)
		for _, stage := range d.Release {
			next, err := h.store.Release(ctx, rec.Scope(), stage, rec.ID())
			if err != nil {
				return statemachine.State{}, &AdvanceUnavailable{Msg: fmt.Sprintf("release stage %s: %v", stage, err)}
			}
			if next != "" {
				notify = append(notify, notice{run: next, answer: parkAnswer{Granted: stage}})
			}
		}
		if d.Acquire != "" {
			in, others, err := h.acquire(ctx, rec, d.Acquire, st.Seq)
			if err != nil {
				return statemachine.State{}, err
			}
			notify = append(notify, others...)
			if in != nil {
				inputs = []engine.Input{*in}
				continue
			}
			out = statemachine.State{Run: rec.ID(), Route: statemachine.RouteSingle, Task: parkItem(rec.ID(), d.Acquire)}
			break
		}
		var failed []engine.Input
		out, failed, err = h.route(rec, st, d, now)
		if err != nil {
			return statemachine.State{}, err
		}
		if len(failed) > 0 {
			// Tasks the state machine cannot run fail as actions, not as the execution.
			inputs = failed
			continue
		}
		break
	}
	out.Step = in.Step + 1

	rec.State = st
	if len(events) > 0 {
		if err := h.events.Publish(ctx, rec, events); err != nil {
			return statemachine.State{}, &AdvanceUnavailable{Msg: fmt.Sprintf("publish %d events: %v", len(events), err)}
		}
	}
	answer, _ := json.Marshal(out)
	rec.Step = &store.Step{Input: digest, Output: answer}
	rec.Updated = now
	if err := h.store.PutRun(ctx, rec); err != nil {
		return statemachine.State{}, &AdvanceUnavailable{Msg: fmt.Sprintf("save run %s: %v", rec.ID(), err)}
	}
	if stop != nil {
		if err := h.store.DeleteToken(ctx, rec.ID(), StopKey); err != nil {
			// Applied already: a second copy is ignored by the engine (the run is stopping
			// or has ended).
			h.log.WarnContext(ctx, "forget the applied stop request", "run", rec.ID(), "error", err)
		}
	}
	for _, n := range notify {
		h.answerPark(ctx, n)
	}
	h.log.InfoContext(ctx, "advanced", "run", rec.ID(), "status", st.Status.String(), "route", out.Route, "tasks", len(out.Tasks)+btoi(out.Task != nil), "events", len(events))
	return out, nil
}

// stopRequest reads the stop a person asked for while the wave ran (StopKey), if any.
func (h *Handler) stopRequest(ctx context.Context, run string) (*engine.Input, error) {
	raw, err := h.store.Token(ctx, run, StopKey)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, &AdvanceUnavailable{Msg: fmt.Sprintf("read the stop request of %s: %v", run, err)}
	}
	var in engine.Input
	if err := json.Unmarshal([]byte(raw), &in); err != nil || in.Kind != engine.KindStop {
		h.log.WarnContext(ctx, "a stop request that is not one; ignored", "run", run)
		return nil, nil
	}
	return &in, nil
}

// previous reads the artifacts of the newest successful run of the run's scope (its
// repository, pipeline and environment or branch), for a failure that may roll back: runs
// that waited behind others go back to the newest success, not to the one the trigger step
// saw, and never to another branch's or environment's. None (or this very run) is no input; a
// store error is retried, as a rollback to stale artifacts would redeploy something older
// than what runs now.
func (h *Handler) previous(ctx context.Context, rec store.Record) ([]engine.Input, error) {
	last, err := h.store.LastSucceeded(ctx, rec.Scope())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, &AdvanceUnavailable{Msg: fmt.Sprintf("read the last successful run of %s: %v", rec.Scope(), err)}
	case last.ID() == rec.ID():
		return nil, nil
	}
	return []engine.Input{{Kind: engine.KindPrevious, Outputs: last.State.Artifacts, By: last.ID()}}, nil
}

// route turns a decision into the state machine's next step. Tasks it cannot turn into
// items (a provider with no AWS meaning, a build without input) come back as final failures
// to feed the engine.
func (h *Handler) route(rec store.Record, st engine.State, d engine.Decision, now time.Time) (statemachine.State, []engine.Input, error) {
	out := statemachine.State{Run: rec.ID()}
	var failed []engine.Input
	switch {
	case d.Done:
		out.Route, out.Status = statemachine.RouteDone, string(st.Status)
		if out.Status == "" {
			out.Status = st.Status.String()
		}
	case len(d.Start) > 0:
		cfg := h.cfg.forRun(rec)
		for _, t := range d.Start {
			it, err := h.item(cfg, rec, t)
			if err != nil {
				failed = append(failed, t.Failed(err.Error(), true))
				continue
			}
			out.Tasks = append(out.Tasks, it)
		}
		if len(failed) > 0 {
			return out, failed, nil
		}
		if len(out.Tasks) == 1 {
			out.Route, out.Task, out.Tasks = statemachine.RouteSingle, &out.Tasks[0], nil
		} else {
			out.Route = statemachine.RouteMap
		}
	case !d.WakeAt.IsZero():
		out.Route = statemachine.RouteSleep
		out.WaitSeconds = max(1, int((d.WakeAt.Sub(now)+time.Second-1)/time.Second))
	default:
		return out, nil, fmt.Errorf("run %s is %s and waits for nothing: an engine decision with no task, timer or end", rec.ID(), st.Status)
	}
	return out, nil, nil
}

// digestOf names an input for Step: the same input (a retried invocation) has the same digest.
func digestOf(in Input) string {
	b, _ := json.Marshal(in)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// modeOf returns the pipeline's execution mode; empty is CodePipeline V2's default.
func modeOf(def engine.Definition) engine.Mode {
	return cmp.Or(def.Mode, engine.ModeSuperseded)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// parkAnswer is what a parked run's token receives.
type parkAnswer struct {
	Granted      string `json:"granted,omitempty"`
	SupersededBy string `json:"superseded_by,omitempty"`
}

type notice struct {
	run    string
	answer parkAnswer
}

func parkItem(run, stage string) *statemachine.Item {
	t := engine.Task{Run: run, Stage: stage, Action: parkTask}
	return &statemachine.Item{ID: run + "/" + stage + "/" + parkTask, Kind: statemachine.KindPark, TimeoutSeconds: 31536000, Task: t}
}

// park keeps a waiting run's token, then asks for the lock again: a release that happened
// before the token was stored found no token to answer, and this second ask catches it.
func (h *Handler) park(ctx context.Context, in Input) error {
	if in.Task == nil || in.Token == "" {
		return fmt.Errorf("park: the request has no task or no token")
	}
	if err := h.store.PutToken(ctx, in.Run, parkTask, in.Token, h.now().Add(366*24*time.Hour)); err != nil {
		return &AdvanceUnavailable{Msg: fmt.Sprintf("keep the stage-lock token of %s: %v", in.Run, err)}
	}
	rec, err := h.store.GetRun(ctx, in.Run)
	if err != nil {
		return &AdvanceUnavailable{Msg: fmt.Sprintf("read run %s: %v", in.Run, err)}
	}
	self, others, err := h.acquire(ctx, rec, in.Task.Task.Stage, rec.State.Seq)
	if err != nil {
		return err
	}
	for _, n := range others {
		h.answerPark(ctx, n)
	}
	if self != nil {
		// Granted or superseded meanwhile: answer this run's own token now.
		h.answerPark(ctx, notice{run: rec.ID(), answer: parkAnswer{Granted: self.Stage, SupersededBy: self.By}})
	}
	return nil
}

// acquire asks for stage's lock on behalf of rec and reads the lane's answer: the engine
// input for the run itself (Granted or Superseded; nil while it waits) and the notices owed to
// the runs it superseded.
func (h *Handler) acquire(ctx context.Context, rec store.Record, stage string, seq int64) (*engine.Input, []notice, error) {
	g, err := h.store.Acquire(ctx, rec.Scope(), stage, modeOf(rec.Definition), rec.ID(), seq)
	if err != nil {
		return nil, nil, &AdvanceUnavailable{Msg: fmt.Sprintf("acquire stage %s: %v", stage, err)}
	}
	var others []notice
	var self *engine.Input
	for _, r := range g.Superseded {
		if r == rec.ID() {
			self = &engine.Input{Kind: engine.KindSuperseded, By: "a newer run"}
			continue
		}
		others = append(others, notice{run: r, answer: parkAnswer{SupersededBy: rec.ID()}})
	}
	if self == nil && g.Granted {
		self = &engine.Input{Kind: engine.KindGranted, Stage: stage}
	}
	return self, others, nil
}

// answerPark sends a parked run its answer. A run whose token is not stored yet will ask
// again when it parks, so a missing token is not an error.
func (h *Handler) answerPark(ctx context.Context, n notice) {
	token, err := h.store.Token(ctx, n.run, parkTask)
	if err != nil {
		h.log.InfoContext(ctx, "no parked token yet; the run will ask again when it parks", "run", n.run, "error", err)
		return
	}
	out, _ := json.Marshal(n.answer)
	if _, err := h.sfn.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(token), Output: aws.String(string(out))}); err != nil {
		h.log.WarnContext(ctx, "answer a parked run", "run", n.run, "error", err)
		return
	}
	_ = h.store.DeleteToken(ctx, n.run, parkTask)
}
