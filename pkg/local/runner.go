package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/store"
)

// Store is the part of the run history the runner uses.
type Store interface {
	NextSeq(ctx context.Context, scope store.Scope) (int64, error)
	ListRuns(ctx context.Context, f store.Filter) ([]store.Record, error)
	PutRun(ctx context.Context, r store.Record) error
	LastSucceeded(ctx context.Context, scope store.Scope) (store.Record, error)
	Acquire(ctx context.Context, scope store.Scope, stage string, mode engine.Mode, run string, seq int64) (engine.Grant, error)
	Release(ctx context.Context, scope store.Scope, stage, run string) (string, error)
}

// Sink receives every state change of a run, in order: the terminal view, the event log.
type Sink interface {
	Event(e engine.Event, st engine.State)
}

// Runner drives one run of a pipeline through the engine with local executors.
type Runner struct {
	def       engine.Definition
	store     Store
	artifacts Artifacts
	executors map[string]Executor
	dir       string
	sinks     []Sink
	logs      LogStreamer
	now       func() time.Time
	poll      time.Duration
	log       *slog.Logger
	requests  store.Requests
}

// LogStreamer opens the log of an attempt; the runner writes every attempt's output to it.
type LogStreamer func(t engine.Task, path string) (logWriter, error)

// Option configures a Runner.
type Option func(*Runner)

// WithSinks adds receivers of state changes.
func WithSinks(s ...Sink) Option { return func(r *Runner) { r.sinks = append(r.sinks, s...) } }

// WithClock replaces time.Now (tests).
func WithClock(now func() time.Time) Option { return func(r *Runner) { r.now = now } }

// WithLockPoll sets how often a run waiting for a stage lock asks again; other stepline
// processes sharing the state directory hand locks over only through the store.
func WithLockPoll(d time.Duration) Option { return func(r *Runner) { r.poll = d } }

// WithRequests makes the runner take the requests other processes queue for its run
// (`stepline approve`, `stop`, the dashboard) at every turn, asking at least every lock poll.
func WithRequests(q store.Requests) Option { return func(r *Runner) { r.requests = q } }

// WithLogs replaces how attempt logs are opened (for streaming them with --follow).
func WithLogs(l LogStreamer) Option { return func(r *Runner) { r.logs = l } }

// WithLogger sets the runner's diagnostic logger.
func WithLogger(l *slog.Logger) Option { return func(r *Runner) { r.log = l } }

// NewRunner builds a runner for def. dir is the run-files directory (logs and work trees are
// created below dir/runs/<run>); executors maps providers to their executors.
func NewRunner(def engine.Definition, st Store, arts Artifacts, executors map[string]Executor, dir string, opts ...Option) *Runner {
	r := &Runner{def: def, store: st, artifacts: arts, executors: executors, dir: dir,
		now: time.Now, poll: 500 * time.Millisecond, log: slog.New(slog.DiscardHandler)}
	r.logs = openLogFile
	for _, o := range opts {
		o(r)
	}
	return r
}

// Missing lists the providers def uses that have no executor, so a run can be refused before
// it starts instead of failing halfway.
func Missing(def engine.Definition, executors map[string]Executor) []string {
	var out []string
	for _, sg := range def.Stages {
		for _, a := range sg.Actions {
			if executors[a.Provider] == nil && !slices.Contains(out, a.Provider) {
				out = append(out, a.Provider)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Meta is what the history records about how a run was started.
type Meta struct {
	Repo, Trigger, Branch, Commit string
	// Variables seeds the engine's namespaces (source, env, pipeline, variables) once the
	// run's id and number are known; nil seeds nothing.
	Variables func(id string, seq int64) (map[string]map[string]string, error)
	// URL is the address of the run's environment as written (Pipeline.RunURL), the link of
	// the commit status a successful run posts.
	URL string
	// Delivery is the idempotency key of the delivery that started the run (stepline serve),
	// recorded with it.
	Delivery string
	// Recorded, when set, is called once the run's record is first written: from then on a
	// crash leaves a record that a later start reclaims.
	Recorded func(id string)
	// Untrusted marks a run its trigger did not trust (trigger.Decision.Untrusted;
	// docs/trust.md), as a fork's pull request is whatever this says: its builds get no
	// secrets and it never deploys, asks for approval or invokes a function.
	Untrusted bool
}

type finished struct {
	task     engine.Task
	outcome  Outcome
	external string
}

// Run runs the pipeline to its end and returns the final state. Canceling ctx cancels the run:
// running attempts are stopped, and the run is recorded as CANCELED before Run returns.
// An error means the run could not be driven (the store failed); the state says how far it got.
func (r *Runner) Run(ctx context.Context, id string, meta Meta) (engine.State, error) {
	bg := context.WithoutCancel(ctx)
	if _, err := Reclaim(bg, r.store, r.dir, store.Filter{Pipeline: r.def.Pipeline}, r.now(), r.log); err != nil {
		return engine.State{}, err
	}
	numbering := store.Scope{Repository: meta.Repo, Pipeline: r.def.Pipeline}
	seq, err := r.store.NextSeq(bg, numbering)
	if err != nil {
		return engine.State{}, fmt.Errorf("number the run: %w", err)
	}
	if id == "" {
		id = store.RunID(numbering, seq)
	}
	info := engine.RunInfo{ID: id, Seq: seq, URL: meta.URL}
	if meta.Variables != nil {
		if info.Variables, err = meta.Variables(id, seq); err != nil {
			return engine.State{}, err
		}
	}
	rec := store.Record{Definition: r.def, State: engine.New(r.def, info), Repo: meta.Repo,
		Trigger: meta.Trigger, Branch: meta.Branch, Commit: meta.Commit, Logs: map[string]string{},
		Driver: self(), Delivery: meta.Delivery, Untrusted: meta.Untrusted}
	// Locks and the rollback target are the run's environment's (or branch's), known once the
	// variables have picked the environment.
	scope := rec.Scope()
	if last, err := r.store.LastSucceeded(bg, scope); err == nil {
		rec.State.Previous = last.State.Artifacts
	} else if !errors.Is(err, store.ErrNotFound) {
		return engine.State{}, fmt.Errorf("find the last successful run: %w", err)
	}

	return r.drive(ctx, rec, nil, meta.Recorded)
}

// Resume drives rec, a run of this runner's pipeline recorded earlier, again from this
// process, starting with in: a retry or a rollback that reopens the ended run (pkg/runops).
// It returns once the run has ended again, as Run does.
func (r *Runner) Resume(ctx context.Context, rec store.Record, in engine.Input) (engine.State, error) {
	if rec.Pipeline() != r.def.Pipeline {
		return rec.State, fmt.Errorf("run %s is of pipeline %s, not %s", rec.ID(), rec.Pipeline(), r.def.Pipeline)
	}
	if rec.Logs == nil {
		rec.Logs = map[string]string{}
	}
	// A stop or an approval queued for the run and never taken (it ended first, or its
	// process died and `stepline stop` reclaimed it) was meant for the run that ended, not
	// for the one in reopens: taken at the reopened run's first turn, an abandon would end it.
	if r.requests != nil {
		stale, err := r.requests.TakeRequests(ctx, rec.ID())
		if err != nil {
			return rec.State, fmt.Errorf("drop the requests left for run %s: %w", rec.ID(), err)
		}
		if len(stale) > 0 {
			r.log.InfoContext(ctx, "dropped requests the run's earlier driving never took", "run", rec.ID(), "requests", len(stale))
		}
	}
	rec.Driver, rec.Abandoned = self(), false
	return r.drive(ctx, rec, []engine.Input{in}, nil)
}

// drive runs the engine loop over rec from its recorded state, first applying inputs, until
// the run ends. recorded, when set, is called once the record is first written.
func (r *Runner) drive(ctx context.Context, rec store.Record, inputs []engine.Input, recorded func(string)) (engine.State, error) {
	bg := context.WithoutCancel(ctx)
	id, seq, scope := rec.ID(), rec.State.Seq, rec.Scope()
	// An untrusted run's builds get no secrets (docs/trust.md), a resumed one's neither.
	trusted := rec.Trusted()
	results := make(chan finished)
	var wg sync.WaitGroup
	running := map[string]context.CancelFunc{}
	// last holds, per Stage/Action, a channel closed when its latest attempt has returned: a
	// new attempt (a retry after a timeout) waits for the stopped one, so two attempts of one
	// deploy never touch the same release directory at once. The wait counts against the new
	// attempt's timeout, which the engine started when it scheduled the attempt.
	last := map[string]chan struct{}{}
	defer func() {
		// Stop what still runs and wait for it, so no command outlives the run; late
		// results are drained so no executor blocks on the channel.
		for _, stop := range running {
			stop()
		}
		go func() { wg.Wait(); close(results) }()
		for range results {
		}
	}()

	var canceled bool
	defer func() {
		// A run that stops being driven (a store error) gives its stage lock back, or every
		// later run of the pipeline would wait behind it.
		if !rec.State.Done() {
			r.releaseCurrent(bg, scope, rec.State)
		}
	}()
	for {
		if r.requests != nil {
			asked, err := r.requests.TakeRequests(bg, id)
			if err != nil {
				r.log.WarnContext(bg, "read the requests of the run; asking again at the next turn", "err", err)
			}
			inputs = append(inputs, asked...)
		}
		if engine.NeedsPrevious(inputs) {
			inputs = append(r.previous(bg, scope, id), inputs...)
		}
		applied := len(inputs) > 0
		st, d, err := engine.Advance(r.def, rec.State, inputs, r.now())
		if err != nil {
			return rec.State, err
		}
		inputs = nil
		rec.State = st
		for _, e := range d.Events {
			for _, s := range r.sinks {
				s.Event(e, st)
			}
		}
		for _, t := range d.Stop {
			if stop := running[t.ID()]; stop != nil {
				stop()
			}
		}
		var vars map[string]map[string]string
		if len(d.Start) > 0 {
			vars = st.Namespaces()
		}
		for _, t := range d.Start {
			tctx, stop := context.WithCancel(bg)
			running[t.ID()] = stop
			path, w, err := r.attemptLog(t)
			if err != nil {
				stop()
				delete(running, t.ID())
				inputs = append(inputs, t.Failed("open the attempt log: "+err.Error(), false))
				continue
			}
			key := t.Stage + "/" + t.Action
			rec.Logs[key] = path
			prev, done := last[key], make(chan struct{})
			last[key] = done
			wg.Add(1)
			go func() {
				defer wg.Done()
				if prev != nil {
					<-prev
				}
				out := r.execute(tctx, t, w, path, vars, trusted)
				w.Close()
				close(done)
				results <- finished{task: t, outcome: out, external: path}
			}()
		}
		// A turn that woke only to look for requests and found none changed nothing: it is not
		// written, so a long build does not rewrite its record twice a second.
		if quiet := !applied && len(d.Events)+len(d.Start)+len(d.Stop)+len(d.Release) == 0; !quiet || recorded != nil {
			if err := r.save(bg, rec); err != nil {
				return rec.State, err
			}
		}
		if recorded != nil {
			recorded(id)
			recorded = nil
		}
		for _, stage := range d.Release {
			if _, err := r.store.Release(bg, scope, stage, id); err != nil {
				return rec.State, fmt.Errorf("release stage %s: %w", stage, err)
			}
		}
		if d.Done {
			return rec.State, nil
		}
		if len(inputs) > 0 {
			continue
		}
		if d.Acquire != "" {
			in, err := r.acquire(bg, scope, d.Acquire, id, seq)
			if err != nil {
				return rec.State, err
			}
			if in != nil {
				inputs = append(inputs, *in)
				continue
			}
		}
		inputs, canceled = r.wait(ctx, d, results, running, canceled)
	}
}

// wait blocks until something moves the run on: a finished attempt, the engine's wake time,
// a lock poll, or cancellation (reported once).
func (r *Runner) wait(ctx context.Context, d engine.Decision, results <-chan finished, running map[string]context.CancelFunc, canceled bool) ([]engine.Input, bool) {
	var timer <-chan time.Time
	wait := waitFor(d, r.now(), r.poll)
	if r.requests != nil && (wait == 0 || r.poll < wait) {
		// Requests from other processes arrive only through the store.
		wait = r.poll
	}
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		timer = t.C
	}
	done := ctx.Done()
	if canceled {
		done = nil
	}
	select {
	case f := <-results:
		if stop := running[f.task.ID()]; stop != nil {
			stop()
			delete(running, f.task.ID())
		}
		return []engine.Input{f.outcome.input(f.task, f.external)}, canceled
	case <-timer:
		return nil, canceled
	case <-done:
		return []engine.Input{{Kind: engine.KindCancel, Message: "canceled by the user"}}, true
	}
}

// previous reads the artifacts of the scope's newest successful run, so a rollback goes back to
// it even when it finished after this run started; nil when there is none.
func (r *Runner) previous(ctx context.Context, scope store.Scope, id string) []engine.Input {
	last, err := r.store.LastSucceeded(ctx, scope)
	if err != nil || last.ID() == id {
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			r.log.WarnContext(ctx, "read the last successful run", "err", err)
		}
		return nil
	}
	return []engine.Input{{Kind: engine.KindPrevious, Outputs: last.State.Artifacts}}
}

// releaseCurrent gives back the lock of the stage the run is in or waits for.
func (r *Runner) releaseCurrent(ctx context.Context, scope store.Scope, st engine.State) {
	if st.Stage < 0 || st.Stage >= len(st.Stages) || st.Stage >= len(r.def.Stages) {
		return
	}
	if sg := st.Stages[st.Stage]; sg.Locked || sg.Status == engine.Waiting {
		if _, err := r.store.Release(ctx, scope, r.def.Stages[st.Stage].Name, st.Run); err != nil {
			r.log.WarnContext(ctx, "release the stage lock", "err", err)
		}
	}
}

// waitFor is how long to sleep before advancing again with no input: until the engine's wake
// time, or one lock poll while a stage lock is pending; zero means only results wake us.
func waitFor(d engine.Decision, now time.Time, poll time.Duration) time.Duration {
	var wait time.Duration
	if !d.WakeAt.IsZero() {
		wait = max(d.WakeAt.Sub(now), time.Millisecond)
	}
	if d.Acquire != "" && (wait == 0 || poll < wait) {
		wait = poll
	}
	return wait
}

// acquire asks the store for a stage lock and turns the answer into an input, or nil while
// the run must keep waiting.
func (r *Runner) acquire(ctx context.Context, scope store.Scope, stage, id string, seq int64) (*engine.Input, error) {
	mode := r.def.Mode
	if mode == "" {
		mode = engine.ModeSuperseded
	}
	g, err := r.store.Acquire(ctx, scope, stage, mode, id, seq)
	if err != nil {
		return nil, fmt.Errorf("lock stage %s: %w", stage, err)
	}
	if slices.Contains(g.Superseded, id) {
		return &engine.Input{Kind: engine.KindSuperseded}, nil
	}
	if g.Granted {
		return &engine.Input{Kind: engine.KindGranted, Stage: stage}, nil
	}
	return nil, nil
}

func (r *Runner) execute(ctx context.Context, t engine.Task, w logWriter, path string, vars map[string]map[string]string, trusted bool) (out Outcome) {
	defer func() {
		if p := recover(); p != nil {
			out = Outcome{Err: fmt.Errorf("executor panic: %v", p), Final: true}
		}
	}()
	if err := engine.RefuseUntrusted(t); !trusted && err != nil {
		fmt.Fprintln(w, err)
		return failf(err)
	}
	ex := r.executors[t.Provider]
	if ex == nil {
		return failf(fmt.Errorf("provider %q cannot run locally", t.Provider))
	}
	work := filepath.Join(r.dir, "runs", t.Run, "work", fmt.Sprintf("%s.%s.%d", safe(t.Stage), safe(t.Action), t.Attempt))
	if err := os.MkdirAll(work, 0o755); err != nil {
		return Outcome{Err: err}
	}
	if t.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t.Timeout)
		defer cancel()
	}
	attempt := filepath.Base(work)
	started := func(pgid int) {
		if err := recordGroup(r.dir, t.Run, attempt, pgid); err != nil {
			r.log.WarnContext(ctx, "a kill -9 now would leave this build running", "err", err)
		}
	}
	out = ex.Execute(ctx, t, Env{Work: work, Log: w, LogPath: path, Artifacts: r.artifacts, Vars: vars, Started: started, Untrusted: !trusted})
	if err := forgetGroups(r.dir, t.Run, attempt); err != nil {
		r.log.WarnContext(ctx, "forget the build's process groups", "err", err)
	}
	if out.Err != nil {
		// A failed attempt keeps its scratch directory for whoever investigates it.
		fmt.Fprintf(w, "\n[stepline] %s/%s attempt %d failed: %v (its files are in %s)\n", t.Stage, t.Action, t.Attempt, out.Err, work)
		return out
	}
	if err := os.RemoveAll(work); err != nil {
		r.log.WarnContext(ctx, "remove attempt scratch directory", "dir", work, "err", err)
	}
	return out
}

func (r *Runner) attemptLog(t engine.Task) (string, logWriter, error) {
	path := filepath.Join(r.dir, "runs", t.Run, "logs", fmt.Sprintf("%s.%s.%d.log", safe(t.Stage), safe(t.Action), t.Attempt))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", nil, err
	}
	w, err := r.logs(t, path)
	return path, w, err
}

func (r *Runner) save(ctx context.Context, rec store.Record) error {
	rec.Updated = r.now()
	if err := r.store.PutRun(ctx, rec); err != nil {
		return fmt.Errorf("record run %s: %w", rec.State.Run, err)
	}
	return nil
}

// safe makes a stage or action name usable in a file name.
func safe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == ' ' {
			return '_'
		}
		return r
	}, s)
}
