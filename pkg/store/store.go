// Package store keeps stepline's run history and stage locks behind one interface: an
// in-memory Memory for tests of callers, a bbolt file for local runs (Bolt), and DynamoDB on
// AWS. The lock rules themselves live in engine.Lane; a store only makes loading, applying
// and saving a lane one atomic step.
package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/stepline/stepline/pkg/engine"
)

// ErrNotFound is returned (wrapped) when no run matches an id or no run qualifies.
var ErrNotFound = errors.New("not found")

// ErrAmbiguous is returned (wrapped, as an *AmbiguousError) when FindRun's prefix matches
// more than one run.
var ErrAmbiguous = errors.New("ambiguous run id prefix")

// AmbiguousError is FindRun's answer to a prefix several runs share: it names the runs that
// matched, so the user sees which one to type.
type AmbiguousError struct {
	// Prefix is what was looked up.
	Prefix string
	// Matches are ids the prefix matched, in id order: all of them, or the first
	// MaxMatches when More is set.
	Matches []string
	// More says that more runs matched than Matches lists.
	More bool
}

// MaxMatches is how many matching ids an AmbiguousError lists at most.
const MaxMatches = 10

// Error names the runs that matched.
func (e *AmbiguousError) Error() string {
	more := ""
	if e.More {
		more = " and more"
	}
	return fmt.Sprintf("%v: %q matches %s%s", ErrAmbiguous, e.Prefix, strings.Join(e.Matches, ", "), more)
}

// Is makes errors.Is(err, ErrAmbiguous) true.
func (e *AmbiguousError) Is(target error) bool { return target == ErrAmbiguous }

// Ambiguous builds FindRun's error for prefix from the ids it matched, in id order; a store
// reads at most MaxMatches+1 of them, and more than MaxMatches means there were more.
func Ambiguous(prefix string, ids []string) error {
	e := &AmbiguousError{Prefix: prefix, Matches: ids}
	if len(ids) > MaxMatches {
		e.Matches, e.More = ids[:MaxMatches], true
	}
	return e
}

// Record is one run as the history keeps it.
type Record struct {
	// Definition is what the run runs; the history keeps it so names can be shown even after
	// the pipeline file has changed.
	Definition engine.Definition `json:"definition"`
	// State is the engine state, as last advanced.
	State engine.State `json:"state"`
	// Repo is the repository directory or full name. With Provider, Branch and the run's
	// env.name it makes the run's Scope: its locks, numbers and rollback target.
	Repo string `json:"repo,omitempty"`
	// Trigger says what started the run: "manual", "push", ...
	Trigger string `json:"trigger,omitempty"`
	// Branch and Commit are the source revision the run built.
	Branch string `json:"branch,omitempty"`
	Commit string `json:"commit,omitempty"`
	// Logs maps "Stage/Action" to the path of the action's log file.
	Logs map[string]string `json:"logs,omitempty"`
	// Updated is when the record was last written, as the caller's clock saw it.
	Updated time.Time `json:"updated"`
	// Driver is the local process driving the run, so a later process can tell a run whose
	// driver died (kill -9, a crash) from one still going; nil on AWS.
	Driver *Driver `json:"driver,omitempty"`
	// Delivery is the idempotency key of the webhook delivery `stepline serve` started the run
	// for, so a serve restarted after a crash can let that delivery run again; "" otherwise.
	Delivery string `json:"delivery,omitempty"`
	// Abandoned is set when a later stepline process ended the run because the process
	// driving it was gone (local.Reclaim): its delivery never ran to the end.
	Abandoned bool `json:"abandoned,omitempty"`
	// Provider and Hook name where the source comes from on AWS: the SCM provider and the
	// registered webhook whose repository secret holds the API token.
	Provider string `json:"provider,omitempty"`
	Hook     string `json:"hook,omitempty"`
	// ExecutionARN is the run's Step Functions execution, which the trigger names before it
	// starts it; "" locally. Notifications link to its console page when there is no dashboard.
	ExecutionARN string `json:"execution_arn,omitempty"`
	// Step is the last answer functions/advance gave, keyed by its input, so a retried
	// invocation answers the same without advancing twice.
	Step *Step `json:"step,omitempty"`
	// Untrusted marks a run its trigger did not trust (trigger.Decision.Untrusted): its builds
	// run apart (the untrusted project and artifact prefix on AWS, a separate artifact store
	// locally), with no secrets, and it never deploys. Trusted is what the drivers ask.
	Untrusted bool `json:"untrusted,omitempty"`
}

// Trusted reports whether the run may deploy, get secrets and write where deploys read: not
// when its trigger marked it untrusted, and never for a fork's pull request, whatever the
// record says (docs/trust.md).
func (r Record) Trusted() bool {
	return !r.Untrusted && !r.forked()
}

// forked reports whether the run is of a fork's pull request, as its source says.
func (r Record) forked() bool {
	fork, _ := r.State.Variable("source", "fork")
	return fork == "true"
}

// Step is one remembered advance: a digest of its input and the answer.
type Step struct {
	Input  string          `json:"input"`
	Output json.RawMessage `json:"output"`
}

// Driver names a process on a host.
type Driver struct {
	Host string `json:"host"`
	PID  int    `json:"pid"`
}

// ID returns the run's id, State.Run.
func (r Record) ID() string { return r.State.Run }

// Pipeline returns the name of the run's pipeline, State.Pipeline.
func (r Record) Pipeline() string { return r.State.Pipeline }

// Filter selects runs for ListRuns.
type Filter struct {
	// Pipeline keeps only that pipeline's runs; empty keeps all.
	Pipeline string
	// Limit caps how many runs are returned; zero or less means no cap.
	Limit int
	// Unfinished keeps only the runs that are not done (engine.State.Done): those a stopped
	// process may have left behind. The stores index them apart, so reading them costs what
	// is unfinished, not the length of the history.
	Unfinished bool
	// Branch and Status keep only the runs of that branch and status; empty keeps all. With a
	// Pipeline, the stores read a filtered page from the listing its filter keys (ListingKey),
	// so it costs the page, not the runs filtered out.
	Branch string
	Status engine.Status
	// After, a run's id, keeps only the runs that come after it in ListRuns order: the next
	// page after a page that ended with it. A run of that id must exist (ErrNotFound).
	After string
}

// Store keeps run history and stage locks. Every implementation passes the contract suite in
// package storetest, so callers can test against Memory and run against Bolt or DynamoDB.
type Store interface {
	// NextSeq returns the next run number of scope's repository and pipeline (Scope.Counter:
	// its environment and branch are ignored): 1, 2, 3… with no number handed out twice,
	// even to concurrent callers.
	NextSeq(ctx context.Context, scope Scope) (int64, error)
	// PutRun creates the record of run r.ID(), or replaces it. A run's Definition never
	// changes once the run is created, and a store may keep the one it was first given
	// (Bolt writes it once, so a state change does not rewrite the whole pipeline).
	PutRun(ctx context.Context, r Record) error
	// GetRun returns the run whose id is exactly id, or fails with ErrNotFound. It never
	// answers a prefix: what identifies a run on a server path is exact (Finder is the
	// command line's prefix look-up).
	GetRun(ctx context.Context, id string) (Record, error)
	// ListRuns returns the runs f selects, newest first: later State.Started first, then
	// higher State.Seq, then greater id.
	ListRuns(ctx context.Context, f Filter) ([]Record, error)
	// Latest returns the newest run (in ListRuns order) of every scope (Record.Scope), newest
	// first: the pipelines' last run per branch or environment. The stores keep a pointer
	// to each scope's newest run, moved forward in PutRun, so it costs the number of scopes,
	// not the length of the history.
	Latest(ctx context.Context) ([]Record, error)
	// LastSucceeded returns the newest run (in ListRuns order) of scope (Record.Scope) whose
	// status is engine.Succeeded, or ErrNotFound when none has succeeded: the rollback target
	// of the scope's runs, never a run of another branch, environment or repository.
	LastSucceeded(ctx context.Context, scope Scope) (Record, error)
	// Acquire asks for the lock of stage in scope on behalf of run, applying
	// engine.Lane.Acquire to the stored lane and saving the result in one atomic step.
	Acquire(ctx context.Context, scope Scope, stage string, mode engine.Mode, run string, seq int64) (engine.Grant, error)
	// Release gives the lock of stage in scope back, or withdraws run from its waiters,
	// applying engine.Lane.Release atomically. next is the run that now holds the lock, which
	// the caller must send a Granted input; empty when nobody was waiting.
	Release(ctx context.Context, scope Scope, stage, run string) (next string, err error)
}

// Finder finds a run by a prefix of its id, as git accepts short hashes: a convenience of
// the command line (`stepline show`) only. It is not part of Store so that no server path,
// which declares the narrow interface it uses, can reach it; storetest checks every store
// implements it.
type Finder interface {
	// FindRun returns the run whose id is prefix, else the only run whose id starts with
	// prefix. It fails with ErrNotFound when none matches and with an *AmbiguousError
	// (ErrAmbiguous) naming the matches when several do; an exact id always wins over
	// longer ids it prefixes.
	FindRun(ctx context.Context, prefix string) (Record, error)
}

// checkRecord refuses records no implementation could index. A NUL would let one pipeline's
// keys run into another's in Bolt's index.
func checkRecord(r Record) error {
	switch {
	case r.ID() == "":
		return errors.New("record has no run id")
	case r.Pipeline() == "":
		return fmt.Errorf("run %s: record has no pipeline", r.ID())
	case strings.Contains(r.Pipeline(), "\x00"):
		return fmt.Errorf("run %s: pipeline name holds a NUL byte", r.ID())
	}
	if err := r.Scope().check(); err != nil {
		return fmt.Errorf("run %s: %w", r.ID(), err)
	}
	return nil
}

// checkLane refuses lane names that cannot form a key, for the same reason as checkRecord.
func checkLane(scope Scope, stage, run string) error {
	switch {
	case stage == "" || run == "":
		return fmt.Errorf("lane %s/%q for run %q: stage and run are required", scope, stage, run)
	case strings.Contains(stage, "\x00"):
		return fmt.Errorf("lane %s/%q: the stage name holds a NUL byte", scope, stage)
	}
	return scope.check()
}

// free reports whether nobody holds or waits for l and it remembers no superseded run;
// stores delete such lanes.
func free(l engine.Lane) bool {
	return l.Holder == "" && len(l.Waiting) == 0 && len(l.Gone) == 0
}

// CompareNewest orders records as ListRuns returns them (negative when a comes first), for
// the stores that sort the records they read.
func CompareNewest(a, b Record) int {
	return cmp.Or(
		cmp.Compare(b.State.Started, a.State.Started),
		cmp.Compare(b.State.Seq, a.State.Seq),
		strings.Compare(b.ID(), a.ID()),
	)
}
