// Package runops is what people do to runs, one code path for both places runs live: list and
// show them, approve or reject a waiting approval, retry a failed stage, stop a run, roll a
// stage back to an earlier successful run, and start a run. Local drives the local store
// (bbolt) and the local runner; AWS drives a deployed stepline's DynamoDB table and state
// machine with the caller's own credentials. `stepline runs|show|approve|reject|retry|stop|
// rollback|start` and the dashboard's buttons are thin layers over an Operator.
//
// Whether the run's state allows an operation is decided once, here and in pkg/engine
// (engine.CheckRetry and its siblings), so both backends refuse the same things with the
// same reasons, as a *Refused.
package runops

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/store"
)

// Operator is every operation on runs. Runs are named by their exact id; a prefix look-up is
// the command line's nicety, done before it calls an Operator.
type Operator interface {
	// Runs lists runs newest first, f selecting and paging them.
	Runs(ctx context.Context, f Filter) (Page, error)
	// Latest returns the newest run of every scope (store.Scope: repository, pipeline, and
	// environment or branch), newest first: what the dashboard's pipelines view shows.
	Latest(ctx context.Context) ([]store.Record, error)
	// Run returns the run whose id is exactly id, or an error wrapping store.ErrNotFound.
	Run(ctx context.Context, id string) (store.Record, error)
	// Approve approves the approval action of stage that the run waits for, recording who
	// approved (Identity) and comment on the run.
	Approve(ctx context.Context, run, stage, action, comment string) error
	// Reject rejects it: the action fails for good, and the stage with it.
	Reject(ctx context.Context, run, stage, action, comment string) error
	// Retry runs the actions of stage that did not succeed again, or all of the stage's
	// actions with all, in a run that FAILED or was stopped (CANCELED) in that stage; the run
	// reopens IN_PROGRESS (CodePipeline's RetryStageExecution).
	Retry(ctx context.Context, run, stage string, all bool) error
	// Stop stops a run in progress: its running actions finish and nothing new starts, or,
	// with abandon, they are stopped at once. Either way the run ends CANCELED with reason.
	Stop(ctx context.Context, run string, abandon bool, reason string) error
	// Rollback runs stage's deploy actions of run again with the artifacts of to, an earlier
	// SUCCEEDED run of the same scope (store.Scope); the run then ends FAILED, its stage
	// marked rolled back.
	Rollback(ctx context.Context, run, stage, to string) error
	// Start starts a run of pipeline on branch, at commit (empty: the branch's head), and
	// returns its id once it is recorded.
	Start(ctx context.Context, pipeline, branch, commit string) (string, error)
}

// Filter selects and pages the runs Runs lists.
type Filter struct {
	// Pipeline, Branch and Status keep only runs with that pipeline, branch and status; empty
	// keeps all.
	Pipeline string
	Branch   string
	Status   engine.Status
	// Limit is how many runs a page holds at most; zero or less is DefaultLimit.
	Limit int
	// Token is a Page.Next from the previous call; empty starts at the newest run.
	Token string
}

// DefaultLimit is the page size of a Filter without a Limit.
const DefaultLimit = 20

// Page is one page of runs, newest first.
type Page struct {
	Runs []store.Record
	// Next is the Filter.Token of the following page; empty on the last page.
	Next string
}

// Operation names, as Refused.Op carries them.
const (
	OpApprove  = "approve"
	OpReject   = "reject"
	OpRetry    = "retry"
	OpStop     = "stop"
	OpRollback = "rollback"
	OpStart    = "start"
)

// Refused is the error of an operation the run's state (or the backend) does not allow; the
// reason is meant for people (`stepline approve` prints it, the dashboard shows it).
type Refused struct {
	// Op is the operation (OpApprove, ...).
	Op string
	// Run is the run it was asked for; empty for Start.
	Run string
	// Reason says why, in a sentence.
	Reason string
}

// Error says which operation was refused, for which run, and why.
func (e *Refused) Error() string {
	if e.Run == "" {
		return fmt.Sprintf("%s refused: %s", e.Op, e.Reason)
	}
	return fmt.Sprintf("%s of run %s refused: %s", e.Op, e.Run, e.Reason)
}

func refuse(op, run, format string, args ...any) error {
	return &Refused{Op: op, Run: run, Reason: fmt.Sprintf(format, args...)}
}

// runs reads the page of runs f asks for from db: the store filters and pages (store.Filter),
// so a page costs its runs, not the history. The token is the id of the previous page's last
// run, so runs started meanwhile do not shift a page; one more run than the page holds is read
// to tell whether a next page exists.
func runs(ctx context.Context, db lister, f Filter) (Page, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	sf := store.Filter{Pipeline: f.Pipeline, Branch: f.Branch, Status: f.Status, After: f.Token}
	if limit < math.MaxInt {
		sf.Limit = limit + 1
	}
	recs, err := db.ListRuns(ctx, sf)
	if f.Token != "" && errors.Is(err, store.ErrNotFound) {
		return Page{}, fmt.Errorf("page token %q names no run: list from the start again", f.Token)
	}
	if err != nil {
		return Page{}, err
	}
	p := Page{Runs: recs}
	if len(recs) > limit {
		p.Runs, p.Next = recs[:limit], recs[limit-1].ID()
	}
	return p, nil
}

// lister is the history Runs reads.
type lister interface {
	ListRuns(ctx context.Context, f store.Filter) ([]store.Record, error)
}
