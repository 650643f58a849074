package runops

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/local"
	"github.com/stepline/stepline/pkg/store"
)

// LocalStore is what Local needs of the local history (store.Bolt): the runs, their locks
// (to end a run whose driver is gone), and the requests the driving process takes.
type LocalStore interface {
	local.Store
	GetRun(ctx context.Context, id string) (store.Record, error)
	Latest(ctx context.Context) ([]store.Record, error)
	store.Requests
}

var _ LocalStore = (*store.Bolt)(nil)

// Driver runs local pipelines in the process that asks: the command line builds it with the
// executors `stepline run` uses.
type Driver interface {
	// Resume drives rec again from its recorded state, first applying in (a retry or a
	// rollback that reopens the ended run), until the run ends again.
	Resume(ctx context.Context, rec store.Record, in engine.Input) (engine.State, error)
	// Start runs pipeline on branch at commit (empty: the branch's head) and returns its id;
	// started is called with the id once the run is recorded.
	Start(ctx context.Context, pipeline, branch, commit string, started func(id string)) (engine.State, error)
}

// Local is the Operator of local runs: the bbolt history in a state directory, and the
// processes driving its runs. An approval or a stop is queued in the history for the process
// that drives the run, which takes it at its next turn (half a second); a retry, a rollback
// and a start drive the run in this process, until it ends.
type Local struct {
	db     LocalStore
	driver Driver
	// bg, when set, is the context runs are driven in by Retry, Rollback and Start, which
	// then return at once (WithBackground); done hears of each end.
	bg     context.Context
	done   func(id string, err error)
	who    string
	dir    string
	settle time.Duration
	poll   time.Duration
	now    func() time.Time
	log    *slog.Logger
}

var _ Operator = (*Local)(nil)

// LocalOption configures a Local.
type LocalOption func(*Local)

// WithWho names the person operations are recorded as (default: the OS user).
func WithWho(who string) LocalOption { return func(l *Local) { l.who = who } }

// WithSettle sets how long an approval or stop waits for the driving process to take it
// before saying that it is queued but not yet taken (default 10s).
func WithSettle(d time.Duration) LocalOption { return func(l *Local) { l.settle = d } }

// WithBackground makes Retry, Rollback and Start return as soon as the run is under way and
// drive it on in ctx (a server's, such as the dashboard's), telling done (when not nil) how
// each ended. Without it they return once the run has ended, as the command line wants.
func WithBackground(ctx context.Context, done func(id string, err error)) LocalOption {
	return func(l *Local) { l.bg, l.done = ctx, done }
}

// WithLocalLogger sets the logger of what Local does besides its answers.
func WithLocalLogger(log *slog.Logger) LocalOption { return func(l *Local) { l.log = log } }

// NewLocal returns the Operator of the runs in db, whose run files are under dir (logs,
// process groups), driving retries, rollbacks and starts with driver (nil refuses them).
func NewLocal(db LocalStore, dir string, driver Driver, opts ...LocalOption) *Local {
	l := &Local{db: db, dir: dir, driver: driver, settle: 10 * time.Second, poll: 100 * time.Millisecond,
		now: time.Now, log: slog.New(slog.DiscardHandler)}
	l.who = osUser()
	for _, o := range opts {
		o(l)
	}
	return l
}

// osUser is the name of the user running this process, for the runs' records.
func osUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	for _, k := range []string{"USER", "LOGNAME", "USERNAME"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return fmt.Sprintf("uid %d", os.Getuid())
}

// Runs implements Operator.
func (l *Local) Runs(ctx context.Context, f Filter) (Page, error) {
	return runs(ctx, l.db, f)
}

// Latest implements Operator.
func (l *Local) Latest(ctx context.Context) ([]store.Record, error) { return l.db.Latest(ctx) }

// Run implements Operator.
func (l *Local) Run(ctx context.Context, id string) (store.Record, error) {
	return l.db.GetRun(ctx, id)
}

// Approve implements Operator.
func (l *Local) Approve(ctx context.Context, run, stage, action, comment string) error {
	return l.decide(ctx, OpApprove, engine.Succeeded, run, stage, action, comment)
}

// Reject implements Operator.
func (l *Local) Reject(ctx context.Context, run, stage, action, comment string) error {
	return l.decide(ctx, OpReject, engine.Failed, run, stage, action, comment)
}

func (l *Local) decide(ctx context.Context, op string, status engine.Status, run, stage, action, comment string) error {
	rec, err := l.db.GetRun(ctx, run)
	if err != nil {
		return err
	}
	if err := engine.CheckDecision(rec.Definition, rec.State, stage, action); err != nil {
		return refusal(op, run, err)
	}
	if err := l.driven(op, rec); err != nil {
		return err
	}
	in := engine.Input{Kind: engine.KindApproval, Stage: stage, Action: action, Status: status, Message: comment, Who: l.who}
	i, j, _ := indexOf(rec.Definition, stage, action)
	in.Attempt = rec.State.Stages[i].Actions[j].Attempt
	if err := l.db.PutRequest(ctx, run, in); err != nil {
		return err
	}
	return l.await(ctx, op, run, func(st engine.State) bool {
		as := st.Stages[i].Actions[j]
		return as.Attempt != in.Attempt || as.Status != engine.InProgress
	})
}

// Retry implements Operator: the run is driven again in this process until it ends.
func (l *Local) Retry(ctx context.Context, run, stage string, all bool) error {
	rec, err := l.db.GetRun(ctx, run)
	if err != nil {
		return err
	}
	if err := engine.CheckRetry(rec.Definition, rec.State, stage); err != nil {
		return refusal(OpRetry, run, err)
	}
	if l.driver == nil {
		return refuse(OpRetry, run, "this stepline cannot drive local runs here")
	}
	return l.resume(ctx, rec, engine.Input{Kind: engine.KindRetry, Stage: stage, All: all, Who: l.who})
}

// resume drives rec again with in, here or in the background.
func (l *Local) resume(ctx context.Context, rec store.Record, in engine.Input) error {
	if l.bg == nil {
		_, err := l.driver.Resume(ctx, rec, in)
		return err
	}
	go func() {
		_, err := l.driver.Resume(l.bg, rec, in)
		l.ended(rec.ID(), err)
	}()
	return nil
}

func (l *Local) ended(id string, err error) {
	if err != nil {
		l.log.Warn("a run driven in the background could not be driven to its end", "run", id, "err", err)
	}
	if l.done != nil {
		l.done(id, err)
	}
}

// Stop implements Operator. A run whose driving process is gone (killed, crashed) is ended
// here, its builds stopped and its locks given back (local.Reclaim).
func (l *Local) Stop(ctx context.Context, run string, abandon bool, reason string) error {
	rec, err := l.db.GetRun(ctx, run)
	if err != nil {
		return err
	}
	if err := engine.CheckStop(rec.State, abandon); err != nil {
		return refusal(OpStop, run, err)
	}
	if !alive(rec.Driver) {
		switch {
		case rec.Driver == nil:
			return refuse(OpStop, run, "no local process drives it")
		case !sameHost(rec.Driver):
			return refuse(OpStop, run, "it is driven by a process on host %s; stop it there", rec.Driver.Host)
		}
		_, err := local.Reclaim(ctx, l.db, l.dir, store.Filter{Pipeline: rec.Pipeline()}, l.now(), l.log)
		return err
	}
	in := engine.Input{Kind: engine.KindStop, Message: reason, Who: l.who}
	if abandon {
		in = engine.Input{Kind: engine.KindCancel, Message: "abandoned" + byWho(l.who) + colonText(reason), Who: l.who}
	}
	if err := l.db.PutRequest(ctx, run, in); err != nil {
		return err
	}
	return l.await(ctx, OpStop, run, func(st engine.State) bool {
		return st.Done() || (!abandon && st.Stopping != "")
	})
}

// Rollback implements Operator: the run is driven again in this process until it ends.
func (l *Local) Rollback(ctx context.Context, run, stage, to string) error {
	rec, err := l.db.GetRun(ctx, run)
	if err != nil {
		return err
	}
	target, err := l.db.GetRun(ctx, to)
	if err != nil {
		return fmt.Errorf("the run to roll back to: %w", err)
	}
	in, err := rollbackInput(rec, target, stage, l.who)
	if err != nil {
		return err
	}
	if l.driver == nil {
		return refuse(OpRollback, run, "this stepline cannot drive local runs here")
	}
	return l.resume(ctx, rec, in)
}

// Start implements Operator: the run is driven in this process; Start returns its id once it
// has ended, or (WithBackground) once it is recorded.
func (l *Local) Start(ctx context.Context, pipeline, branch, commit string) (string, error) {
	if l.driver == nil {
		return "", refuse(OpStart, "", "this stepline cannot drive local runs here")
	}
	if l.bg == nil {
		st, err := l.driver.Start(ctx, pipeline, branch, commit, nil)
		return st.Run, err
	}
	recorded := make(chan string, 1)
	failed := make(chan error, 1)
	go func() {
		st, err := l.driver.Start(l.bg, pipeline, branch, commit, func(id string) { recorded <- id })
		if st.Run == "" {
			failed <- fmt.Errorf("the run did not start: %w", err)
			return
		}
		select {
		case recorded <- st.Run: // a driver that never said it recorded the run
		default:
		}
		l.ended(st.Run, err)
	}()
	select {
	case id := <-recorded:
		return id, nil
	case err := <-failed:
		return "", err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// driven refuses a decision for a run no live process drives: nobody would take it.
func (l *Local) driven(op string, rec store.Record) error {
	switch {
	case rec.Driver == nil:
		return refuse(op, rec.ID(), "no local process drives it")
	case !sameHost(rec.Driver):
		return refuse(op, rec.ID(), "it is driven by a process on host %s, whose history this is not", rec.Driver.Host)
	case !local.Alive(rec.Driver.PID):
		return refuse(op, rec.ID(), "the process driving it (pid %d) is gone; `stepline stop %s` ends it", rec.Driver.PID, rec.ID())
	}
	return nil
}

// await waits until the run's recorded state satisfies done (the driver took the request),
// for at most the settle time.
func (l *Local) await(ctx context.Context, op, run string, done func(engine.State) bool) error {
	deadline := l.now().Add(l.settle)
	for {
		rec, err := l.db.GetRun(ctx, run)
		if err != nil {
			return err
		}
		if done(rec.State) {
			return nil
		}
		if !l.now().Before(deadline) {
			return fmt.Errorf("%s of run %s is queued, but the process driving it has not taken it within %s", op, run, l.settle)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(l.poll):
		}
	}
}

func alive(d *store.Driver) bool { return d != nil && sameHost(d) && local.Alive(d.PID) }

func sameHost(d *store.Driver) bool {
	host, _ := os.Hostname()
	return d.Host == host
}

// rollbackInput checks a rollback of rec's stage to target, both backends' rules: a trusted
// run, the same scope (repository, pipeline, environment or branch), and what
// engine.CheckRollback says.
func rollbackInput(rec, target store.Record, stage, who string) (engine.Input, error) {
	// A rollback redeploys, which an untrusted run never does (engine.RefuseUntrusted would
	// fail each deploy action): refused here, before anything is reopened or started. An
	// untrusted target is refused by the scope check (docs/trust.md: it has a scope apart).
	if !rec.Trusted() {
		return engine.Input{}, refuse(OpRollback, rec.ID(), "the run is untrusted (a pull request from a fork, or a trigger marked trusted: false) and an untrusted run never deploys (docs/trust.md)")
	}
	if rec.Scope() != target.Scope() {
		return engine.Input{}, refuse(OpRollback, rec.ID(), "run %s is of %s, not of %s: a rollback stays in its scope", target.ID(), target.Scope(), rec.Scope())
	}
	if err := engine.CheckRollback(rec.Definition, rec.State, stage, target.State); err != nil {
		return engine.Input{}, refusal(OpRollback, rec.ID(), err)
	}
	return engine.Input{Kind: engine.KindRollback, Stage: stage, By: target.ID(), Outputs: target.State.Artifacts, Who: who}, nil
}

// refusal turns an engine check's answer into a *Refused.
func refusal(op, run string, err error) error {
	if errors.Is(err, engine.ErrNotAllowed) {
		msg := strings.TrimPrefix(err.Error(), engine.ErrNotAllowed.Error()+": ")
		return &Refused{Op: op, Run: run, Reason: msg}
	}
	return err
}

// indexOf finds stage and action in def.
func indexOf(def engine.Definition, stage, action string) (int, int, bool) {
	for i, sg := range def.Stages {
		for j, a := range sg.Actions {
			if sg.Name == stage && a.Name == action {
				return i, j, true
			}
		}
	}
	return 0, 0, false
}

func byWho(who string) string {
	if who == "" {
		return ""
	}
	return " by " + who
}

func colonText(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}
