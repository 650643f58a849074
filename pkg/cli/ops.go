package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/local"
	"github.com/stepline/stepline/pkg/pipeline"
	"github.com/stepline/stepline/pkg/runops"
	"github.com/stepline/stepline/pkg/store"
)

// target says where the runs an operation names live: the local history, or (--aws) a
// deployed stepline's stack, read with the user's own AWS credentials.
type target struct {
	aws   bool
	stack string
	// repo is the repository local starts read (stepline start --repo); "" is the working
	// directory's.
	repo string
	// repository names the registered repository of `stepline start --aws`
	// (provider:owner/name).
	repository string
}

func (t *target) flags(f *pflag.FlagSet) {
	f.BoolVar(&t.aws, "aws", false, "the runs of a deployed stepline (--stack), with your AWS credentials (AWS_PROFILE, AWS_REGION, ...)")
	f.StringVar(&t.stack, "stack", "stepline", "with --aws: the CloudFormation stack of the deployed stepline")
}

// operated is an Operator and the prefix look-up of its history.
type operated struct {
	runops.Operator
	find store.Finder
	// where names the history for messages.
	where string
}

// operator returns the Operator of t: the local history of the repository (retries,
// rollbacks and starts are driven in this process, with stepline run's executors), or the
// stack's.
func (g *globals) operator(ctx context.Context, t target) (operated, error) {
	if t.aws {
		return g.awsOperator(ctx, t)
	}
	dir, err := g.state(ctx)
	if err != nil {
		return operated{}, exit(ExitUsage, err)
	}
	db := store.NewBolt(filepath.Join(dir, "stepline.db"))
	op := runops.NewLocal(db, dir, &cliDriver{g: g, dir: dir, repo: t.repo})
	return operated{Operator: op, find: db, where: dir}, nil
}

// operatedRun returns the Operator of t and the run id names in it: what every command acting
// on one run starts with.
func (g *globals) operatedRun(ctx context.Context, t target, id string) (operated, store.Record, error) {
	ops, err := g.operator(ctx, t)
	if err != nil {
		return ops, store.Record{}, err
	}
	rec, err := ops.run(ctx, id)
	return ops, rec, err
}

// run finds the run id names (a unique prefix will do) in o's history.
func (o operated) run(ctx context.Context, id string) (store.Record, error) {
	rec, err := findRun(ctx, o.find, id)
	if errors.Is(err, store.ErrNotFound) {
		return rec, exit(ExitFailed, fmt.Errorf("no run %q in %s (see `stepline runs`)", id, o.where))
	}
	if err != nil {
		return rec, exit(ExitFailed, err)
	}
	return rec, nil
}

// opError is the exit of a failed operation: a refusal says why and exits 1.
func opError(err error) error {
	if err == nil {
		return nil
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	return exit(ExitFailed, err)
}

func newApprove(g *globals, approve bool) *cobra.Command {
	var t target
	var comment string
	verb, short := "approve", "Approve an approval a run waits for, with a comment"
	if !approve {
		verb, short = "reject", "Reject an approval a run waits for: the action and its stage fail"
	}
	cmd := &cobra.Command{
		Use:   verb + " RUN STAGE ACTION [-m COMMENT]",
		Short: short,
		Long: short + ". Who decided (your user name locally, your IAM identity with --aws) and the\n" +
			"comment are recorded on the run. Locally the decision reaches the process driving the run\n" +
			"(stepline run --wait-approvals, stepline serve, or a terminal prompt) within a second.\n" +
			"Exit status: 0 decided, 1 refused (the run does not wait for that approval) or failed.",
		Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			ops, rec, err := g.operatedRun(cmd.Context(), t, args[0])
			if err != nil {
				return err
			}
			decide, done := ops.Approve, "approved"
			if !approve {
				decide, done = ops.Reject, "rejected"
			}
			if err := decide(cmd.Context(), rec.ID(), args[1], args[2], comment); err != nil {
				return opError(err)
			}
			fmt.Fprintf(g.stdio.Out, "%s %s/%s of run %s\n", done, local.Printable(args[1], maxCell), local.Printable(args[2], maxCell), rec.ID())
			return nil
		},
	}
	cmd.Flags().StringVarP(&comment, "message", "m", "", "the comment recorded with the decision")
	t.flags(cmd.Flags())
	return cmd
}

func newRetry(g *globals) *cobra.Command {
	var t target
	var all bool
	cmd := &cobra.Command{
		Use:   "retry RUN [STAGE] [--all]",
		Short: "Retry the stage a failed or stopped run ended in: its failed actions, or all of them",
		Long: "Retry the stage a FAILED or stopped (CANCELED) run ended in (STAGE defaults to it), as\n" +
			"CodePipeline's RetryStageExecution: the actions that did not succeed run again, or with --all every action of the\n" +
			"stage, and the run goes on from there. Locally the run is driven in this process until it\n" +
			"ends; with --aws a new execution resumes it and the command returns at once.\n" +
			"Exit status: 0 retried (locally: and succeeded), 1 refused, failed again or canceled.",
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ops, rec, err := g.operatedRun(cmd.Context(), t, args[0])
			if err != nil {
				return err
			}
			stage := rec.Definition.Stages[rec.State.Stage].Name
			if len(args) == 2 {
				stage = args[1]
			}
			if err := ops.Retry(cmd.Context(), rec.ID(), stage, all); err != nil {
				return opError(err)
			}
			return g.afterResume(cmd.Context(), ops, t, rec.ID(), "retried stage "+stage)
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "run every action of the stage again, not only the failed ones")
	t.flags(cmd.Flags())
	return cmd
}

func newStop(g *globals) *cobra.Command {
	var t target
	var abandon bool
	var reason string
	cmd := &cobra.Command{
		Use:   "stop RUN [--abandon] [--reason TEXT]",
		Short: "Stop a run: its running actions finish and nothing new starts, or --abandon stops them",
		Long: "Stop a run in progress. By default the actions running now finish and nothing new starts\n" +
			"(CodePipeline's \"stop and wait\"); a waiting approval is withdrawn at once. With --abandon\n" +
			"the running actions are stopped now. Either way the run ends CANCELED and its stage lock\n" +
			"goes to the next run. Exit status: 0 stopping or stopped, 1 refused (the run has ended).",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ops, rec, err := g.operatedRun(cmd.Context(), t, args[0])
			if err != nil {
				return err
			}
			if err := ops.Stop(cmd.Context(), rec.ID(), abandon, reason); err != nil {
				return opError(err)
			}
			now, err := ops.Run(cmd.Context(), rec.ID())
			if err != nil {
				return opError(err)
			}
			switch {
			case now.State.Done():
				fmt.Fprintf(g.stdio.Out, "run %s is %s\n", rec.ID(), now.State.Status)
			case abandon:
				fmt.Fprintf(g.stdio.Out, "run %s is being abandoned\n", rec.ID())
			default:
				fmt.Fprintf(g.stdio.Out, "run %s is stopping: its running actions finish, nothing new starts\n", rec.ID())
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&abandon, "abandon", false, "stop the running actions now instead of letting them finish")
	cmd.Flags().StringVar(&reason, "reason", "", "why, recorded on the run")
	t.flags(cmd.Flags())
	return cmd
}

func newRollback(g *globals) *cobra.Command {
	var t target
	var to string
	cmd := &cobra.Command{
		Use:   "rollback RUN STAGE --to EARLIER_RUN",
		Short: "Redeploy a stage of a run with the artifacts of an earlier successful run",
		Long: "Run STAGE's deploy actions of RUN again with the artifacts of EARLIER_RUN, a SUCCEEDED\n" +
			"run of the same repository, pipeline and environment (or branch); approvals are not asked\n" +
			"again. The run then ends FAILED, its stage marked rolled back. Locally the rollback runs in\n" +
			"this process; with --aws a new execution does it.\n" +
			"Exit status: 0 rolled back (or started, with --aws), 1 refused or the rollback failed.",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if to == "" {
				return exit(ExitUsage, errors.New("--to EARLIER_RUN is required (see `stepline runs --status SUCCEEDED`)"))
			}
			ops, rec, err := g.operatedRun(cmd.Context(), t, args[0])
			if err != nil {
				return err
			}
			target, err := ops.run(cmd.Context(), to)
			if err != nil {
				return err
			}
			if err := ops.Rollback(cmd.Context(), rec.ID(), args[1], target.ID()); err != nil {
				return opError(err)
			}
			return g.afterResume(cmd.Context(), ops, t, rec.ID(), "rolled back stage "+args[1]+" to run "+target.ID())
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "the earlier SUCCEEDED run whose artifacts are redeployed")
	t.flags(cmd.Flags())
	return cmd
}

func newStart(g *globals) *cobra.Command {
	var t target
	var name, branch, commit string
	cmd := &cobra.Command{
		Use:   "start --pipeline NAME [--branch BRANCH] [--commit SHA]",
		Short: "Start a run of a pipeline on a branch or a commit",
		Long: "Start a run of a pipeline on a branch's head or on a commit, with the pipeline file at that\n" +
			"commit. Locally the run is driven in this process as `stepline run` would (approvals asked\n" +
			"in the terminal); with --aws --repository provider:owner/name the deployed stepline runs it\n" +
			"(the commit must be pushed: its source step fetches it) and the command prints its id.\n" +
			"Exit status: 0 started (locally: and succeeded), 1 refused or the run did not succeed.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if branch == "" && commit == "" {
				dir := t.repo
				if dir == "" {
					dir = "."
				}
				co, err := local.Inspect(cmd.Context(), dir)
				if err != nil {
					return exit(ExitUsage, err)
				}
				branch = co.Branch
			}
			ops, err := g.operator(cmd.Context(), t)
			if err != nil {
				return err
			}
			id, err := ops.Start(cmd.Context(), name, branch, commit)
			if err != nil {
				return opError(err)
			}
			return g.afterResume(cmd.Context(), ops, t, id, "started")
		},
	}
	f := cmd.Flags()
	f.StringVarP(&name, "pipeline", "p", "", "the pipeline to run (needed when the file has several)")
	f.StringVar(&branch, "branch", "", "the branch (default: the current one locally)")
	f.StringVar(&commit, "commit", "", "the commit (default: the branch's head)")
	t.startFlags(f)
	t.flags(f)
	return cmd
}

// startFlags adds the flags saying where a started run's revisions come from: the clone, and
// with --aws the repository registered in the stack.
func (t *target) startFlags(f *pflag.FlagSet) {
	f.StringVar(&t.repo, "repo", "", "the repository (default: the one containing the working directory)")
	f.StringVar(&t.repository, "repository", "", "with --aws: the registered repository to start, provider:owner/name (e.g. github:octo/api); its revisions are read from --repo")
}

// afterResume reports a run an operation drove (locally, to its end) or started (on AWS).
func (g *globals) afterResume(ctx context.Context, ops operated, t target, id, what string) error {
	rec, err := ops.Run(ctx, id)
	if err != nil {
		return opError(err)
	}
	out := g.stdio.Out
	fmt.Fprintf(out, "%s: run %s is %s\n", what, rec.ID(), rec.State.Status)
	if t.aws {
		return nil
	}
	for _, line := range local.Table(rec.Definition, withLogs(rec.State, rec), time.Now(), true) {
		fmt.Fprintln(out, line)
	}
	switch rec.State.Status {
	case engine.Succeeded:
		return nil
	case engine.Canceled:
		return exit(ExitCanceled, nil)
	default:
		return exit(ExitFailed, nil)
	}
}

// cliDriver drives local runs for runops.Local in this process, with the executors of
// `stepline run`.
type cliDriver struct {
	g         *globals
	dir, repo string
	// awaitApprovals makes the runs it drives wait for approvals given from elsewhere (the
	// dashboard's buttons, `stepline approve`) instead of asking on the terminal.
	awaitApprovals bool
}

// Resume implements runops.Driver.
func (d *cliDriver) Resume(ctx context.Context, rec store.Record, in engine.Input) (engine.State, error) {
	runner, err := d.runner(rec.Definition, rec.Repo, rec.Commit, !rec.Trusted())
	if err != nil {
		return rec.State, err
	}
	return runner.Resume(ctx, rec, in)
}

// Start implements runops.Driver: the pipeline file is read at the commit.
func (d *cliDriver) Start(ctx context.Context, name, branch, commit string, started func(string)) (engine.State, error) {
	wd := d.repo
	if wd == "" {
		var err error
		if wd, err = os.Getwd(); err != nil {
			return engine.State{}, err
		}
	}
	co, err := local.InspectRev(ctx, wd, branch, commit)
	if err != nil {
		return engine.State{}, &runops.Refused{Op: runops.OpStart, Reason: err.Error()}
	}
	data, err := co.File(ctx, defaultFile)
	if err != nil {
		return engine.State{}, &runops.Refused{Op: runops.OpStart, Reason: err.Error()}
	}
	pf, err := pipeline.Parse(defaultFile, data)
	if err != nil {
		return engine.State{}, &runops.Refused{Op: runops.OpStart, Reason: err.Error()}
	}
	p, err := pf.Pipeline(name)
	if err != nil {
		return engine.State{}, &runops.Refused{Op: runops.OpStart, Reason: err.Error()}
	}
	if err := runsHere(p, false); err != nil {
		return engine.State{}, &runops.Refused{Op: runops.OpStart, Reason: err.Error()}
	}
	runner, err := d.runner(p.Definition(), co.Root, co.Commit, false)
	if err != nil {
		return engine.State{}, err
	}
	source := co.Variables()
	return runner.Run(ctx, "", local.Meta{Repo: co.Root, Trigger: "manual (stepline start)", Branch: co.Branch, Commit: co.Commit,
		Recorded: started,
		Variables: func(id string, seq int64) (map[string]map[string]string, error) {
			return p.RunVariables(source, id, seq)
		}})
}

// runner builds the runner of a run of def; an untrusted run's artifacts are kept where
// serve kept them when it started the run.
func (d *cliDriver) runner(def engine.Definition, repo, commit string, untrusted bool) (*local.Runner, error) {
	out := d.g.stdio.Out
	lr := localRun{repo: repo, commit: commit, stateDir: d.dir,
		in: d.g.stdio.In, out: out, view: local.NewView(out, def, false, nil), awaitApprovals: d.awaitApprovals}
	if untrusted {
		lr.artifacts = untrustedArtifacts(d.dir, lr.extract)
	}
	runner, _, err := newLocalRunner(d.g, def, lr)
	return runner, err
}
