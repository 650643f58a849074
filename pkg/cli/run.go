package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stepline/stepline/pkg/artifact"
	"github.com/stepline/stepline/pkg/buildspec"
	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/local"
	"github.com/stepline/stepline/pkg/notify/commitstatus"
	"github.com/stepline/stepline/pkg/pipeline"
	"github.com/stepline/stepline/pkg/store"
)

type runOptions struct {
	file, pipeline, repo       string
	dirty, autoApprove, follow bool
	plain                      bool
	// waitApprovals leaves approvals to `stepline approve` and `reject` (or the dashboard)
	// instead of asking in the terminal.
	waitApprovals bool
	env           []string
	secrets       buildSecrets
	// aws runs builds in CodeBuild with artifacts in bucket, from the default credentials.
	aws             bool
	bucket, project string
	// awsDeploy performs ecs, codedeploy, cloudformation and s3 actions against the user's
	// AWS account (default credentials), polling for their end.
	awsDeploy bool
	// poll is how often --aws asks CodeBuild about a running build and --aws-deploy asks
	// about a running deploy.
	poll time.Duration
	// extract bounds every artifact extraction.
	extract artifact.Limits
	status  statusOptions
}

func newRun(g *globals) *cobra.Command {
	var o runOptions
	cmd := &cobra.Command{
		Use:   "run [--pipeline NAME] [--auto-approve] [--follow] [--dirty]",
		Short: "Run a pipeline of this repository on this machine, no AWS needed",
		Long: "Run a pipeline of the repository's .stepline.yml end to end on this machine: the commit\n" +
			"(or with --dirty the working tree) is archived, built with the local buildspec runner,\n" +
			"deployed to local release directories, with approvals asked in the terminal.\n" +
			"ecs, codedeploy, cloudformation and s3 actions deploy to AWS: they run only with\n" +
			"--aws-deploy, against your own account with the default credentials (AWS_PROFILE,\n" +
			"AWS_REGION, ...), asking AWS every --poll until each deploy ends or its timeout passes.\n" +
			"With --status-token (or $" + statusTokenEnv + ") each pipeline change sets the commit's status on\n" +
			"GitHub or Bitbucket, as on AWS; a status that cannot be posted is a warning, never a failure.\n" +
			"Exit status: 0 succeeded, 1 failed or superseded, 2 cannot start, 130 interrupted.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Context(), g) },
	}
	f := cmd.Flags()
	f.StringVarP(&o.file, "file", "f", "", "the pipeline file (default: .stepline.yml at the repository root)")
	f.StringVarP(&o.pipeline, "pipeline", "p", "", "the pipeline to run (needed when the file has several)")
	f.StringVar(&o.repo, "repo", "", "the repository (default: the one containing the working directory)")
	f.BoolVar(&o.dirty, "dirty", false, "build the working tree with its uncommitted changes instead of HEAD")
	f.BoolVar(&o.autoApprove, "auto-approve", false, "approve every manual approval without asking")
	f.BoolVar(&o.waitApprovals, "wait-approvals", false, "do not ask approvals in the terminal: wait for `stepline approve` or `reject` from another terminal (or the dashboard)")
	f.BoolVar(&o.follow, "follow", false, "stream every action's log to the terminal")
	f.BoolVar(&o.plain, "plain", false, "print one line per state change even on a terminal")
	f.StringArrayVar(&o.env, "env", nil, "an environment variable K=V for every build of the run, or NAME to pass this shell's NAME on (repeatable; builds see only a few host variables)")
	f.BoolVar(&o.aws, "aws", false, "run builds in CodeBuild with artifacts in S3 (default AWS credentials), to try a pipeline before deploying stepline")
	f.BoolVar(&o.awsDeploy, "aws-deploy", false, "perform ecs, codedeploy, cloudformation and s3 actions against your AWS account (default credentials), waiting for each by polling")
	f.StringVar(&o.bucket, "bucket", "", "with --aws: the S3 bucket for artifacts (runs/<run>/); with --aws-deploy: where CloudFormation templates over 51,200 bytes are uploaded ("+templatePrefix+")")
	f.StringVar(&o.project, "project", "", "with --aws: the CodeBuild project builds run in unless an action names one")
	f.DurationVar(&o.poll, "poll", 10*time.Second, "with --aws or --aws-deploy: how often a running build's or deploy's status is asked for")
	o.secrets.addFlags(f)
	addExtractFlags(f, &o.extract)
	o.status.flags(f, false)
	return cmd
}

func (o runOptions) run(ctx context.Context, g *globals) error {
	out := g.stdio.Out
	dir := o.repo
	if dir == "" {
		var err error
		if dir, err = os.Getwd(); err != nil {
			return exit(ExitUsage, err)
		}
	}
	env, err := resolveEnv(o.env)
	if err != nil {
		return err
	}
	o.env = env
	secretEnv, secretSource, err := o.secrets.resolve(ctx)
	if err != nil {
		return err
	}
	co, err := local.Inspect(ctx, dir)
	if err != nil {
		return exit(ExitUsage, err)
	}
	file := o.file
	if file == "" {
		file = filepath.Join(co.Root, defaultFile)
	}
	pf, err := loadFile(file)
	if err != nil {
		var probs pipeline.Problems
		if errors.As(err, &probs) {
			fmt.Fprintln(g.stdio.Err, probs.Error())
			return exit(ExitFailed, fmt.Errorf("%s has %d problem%s; nothing was run", file, len(probs), plural(len(probs))))
		}
		return exit(ExitUsage, err)
	}
	p, err := pf.Pipeline(o.pipeline)
	if err != nil {
		return exit(ExitUsage, err)
	}
	if err := runsHere(p, o.awsDeploy); err != nil {
		return exit(ExitUsage, err)
	}
	def := p.Definition()

	stateDir, err := g.localState(co.Root)
	if err != nil {
		return exit(ExitUsage, err)
	}
	if co.Dirty && !o.dirty {
		fmt.Fprintf(g.stdio.Err, "note: uncommitted changes are not part of this run (it builds HEAD %.7s); use --dirty to include them\n", co.Commit)
	}

	view := local.NewView(out, def, g.stdio.TTY && !o.plain && !o.follow, nil)
	lr := localRun{
		repo: co.Root, commit: co.Commit, dirty: o.dirty, stateDir: stateDir,
		autoApprove: o.autoApprove, awaitApprovals: o.waitApprovals, in: g.stdio.In, out: out, env: o.env, follow: o.follow,
		view: view, pause: view.Pause, extract: o.extract,
		secrets: secretEnv, secretSource: secretSource,
	}
	if t, ok, err := o.status.target("", "", co.Origin); err != nil {
		fmt.Fprintf(g.stdio.Err, "warning: %v; the run goes on without them\n", err)
	} else if ok {
		sink, err := newStatusSink(t, commitstatus.Providers{}, def, co.Branch, co.Commit, g.stdio.Err)
		if err != nil {
			return exit(ExitUsage, err)
		}
		defer sink.Close(statusWait)
		lr.sinks = append(lr.sinks, sink)
	}
	if o.aws {
		if lr.artifacts, lr.build, err = awsExecutors(ctx, o.bucket, o.project, o.poll, o.extract); err != nil {
			return exit(ExitUsage, err)
		}
	}
	if o.awsDeploy {
		if lr.deploy, err = awsDeploys(ctx, o.bucket, o.poll); err != nil {
			return exit(ExitUsage, err)
		}
	}
	runner, db, err := newLocalRunner(g, def, lr)
	if err != nil {
		return exit(ExitUsage, err)
	}

	source := co.Variables()
	meta := local.Meta{Repo: co.Root, Trigger: "manual", Branch: co.Branch, Commit: co.Commit,
		Variables: func(id string, seq int64) (map[string]map[string]string, error) {
			return p.RunVariables(source, id, seq)
		}}
	if o.dirty {
		meta.Trigger = "manual (dirty)"
	}
	viewCtx, stopView := context.WithCancel(ctx)
	go view.Refresh(viewCtx, 250*time.Millisecond)
	final, err := runner.Run(ctx, "", meta)
	stopView()
	if err != nil {
		return exit(ExitFailed, err)
	}
	rec, _ := db.GetRun(context.WithoutCancel(ctx), final.Run)
	view.Clear()
	if !g.stdio.TTY || o.plain || o.follow {
		fmt.Fprintln(out)
	}
	for _, line := range local.Table(def, withLogs(final, rec), time.Now(), true) {
		fmt.Fprintln(out, line)
	}
	fmt.Fprintf(out, "  logs: %s\n  artifacts: %s\n", filepath.Join(stateDir, "runs", final.Run, "logs"), filepath.Join(stateDir, "artifacts", final.Run))
	switch final.Status {
	case engine.Succeeded:
		return nil
	case engine.Canceled:
		return exit(ExitCanceled, nil)
	default:
		return exit(ExitFailed, nil)
	}
}

// localRun is what a local run needs besides its pipeline: where the commit comes from, where
// state goes, and how it talks to the user.
type localRun struct {
	repo, commit, stateDir string
	dirty, autoApprove     bool
	// awaitApprovals waits for approvals decided from another process (local.Await) instead
	// of asking in the terminal.
	awaitApprovals bool
	in             io.Reader
	out            io.Writer
	env            []string
	// secrets and secretSource reach every local build (--secret-env, --aws-secrets); serve
	// gives neither, since what it builds may come from anyone's pull request.
	secrets      []string
	secretSource buildspec.SecretSource
	follow       bool
	view         local.Sink
	pause        func(bool)
	// artifacts and build replace the local artifact store and build executor (--aws).
	artifacts local.Artifacts
	build     local.Executor
	// deploy runs the AWS deploy providers (--aws-deploy); nil refuses them.
	deploy local.Executor
	// extract bounds the local artifact store's extractions.
	extract artifact.Limits
	// sinks receive the run's state changes besides the view and the event log.
	sinks []local.Sink
}

// statusWait is how long a finished run waits for its last commit statuses.
const statusWait = 30 * time.Second

// newLocalRunner builds the runner of one local run with the local executors; `stepline run`
// and `stepline serve` both start runs through it.
func newLocalRunner(g *globals, def engine.Definition, c localRun) (*local.Runner, store.Store, error) {
	var arts local.Artifacts = artifact.NewLocal(filepath.Join(c.stateDir, "artifacts"), artifact.WithLimits(c.extract))
	if c.artifacts != nil {
		arts = c.artifacts
	}
	executors := localExecutors(c)
	if missing := local.Missing(def, executors); len(missing) > 0 {
		return nil, nil, fmt.Errorf("pipeline %s uses providers that need AWS: %s (local runs support codebuild, local and approval; ecs, codedeploy, cloudformation and s3 with stepline run --aws-deploy)",
			def.Pipeline, strings.Join(missing, ", "))
	}
	db := store.NewBolt(filepath.Join(c.stateDir, "stepline.db"))
	opts := []local.Option{
		local.WithSinks(append([]local.Sink{c.view, local.NewEventLog(filepath.Join(c.stateDir, "events.jsonl"), g.logger())}, c.sinks...)...),
		local.WithLogger(g.logger()),
		// Approvals and stops asked from other processes (stepline approve, stop, the
		// dashboard) reach the run through the history.
		local.WithRequests(db),
	}
	if c.follow {
		opts = append(opts, local.WithLogs(local.FollowLogs(c.out)))
	}
	return local.NewRunner(def, db, arts, executors, c.stateDir, opts...), db, nil
}

// localExecutors are the executors of a local run: the providers that run without AWS, and
// the AWS deploy providers when c has their executor (--aws-deploy).
func localExecutors(c localRun) map[string]local.Executor {
	var build local.Executor = local.Build{Env: c.env, Secrets: c.secrets, SecretSource: c.secretSource}
	if c.build != nil {
		build = c.build
	}
	executors := map[string]local.Executor{
		engine.ProviderSource:   local.Source{Repo: c.repo, Commit: c.commit, Dirty: c.dirty, Exclude: inside(c.repo, c.stateDir)},
		"codebuild":             build,
		"local":                 local.Deploy{Root: filepath.Join(c.stateDir, "deploy")},
		engine.ProviderApproval: local.NewApproval(c.autoApprove, c.in, c.out, c.pause),
	}
	if c.awaitApprovals && !c.autoApprove {
		executors[engine.ProviderApproval] = local.Await{Out: c.out}
	}
	if c.deploy != nil {
		for _, p := range awsDeployProviders {
			executors[p] = c.deploy
		}
	}
	return executors
}

// awsDeployProviders are the providers `stepline run` performs only with --aws-deploy.
var awsDeployProviders = []string{pipeline.ProviderECS, pipeline.ProviderCodeDeploy, pipeline.ProviderCloudFormation, pipeline.ProviderS3}

// runsHere refuses, before anything runs, a pipeline `stepline run` cannot run to its end:
// one with an action only AWS runs, or, without --aws-deploy, one that deploys to AWS. The
// message names the actions and what would run them.
func runsHere(p *pipeline.Pipeline, awsDeploy bool) error {
	pl := p.Placement()
	switch {
	case !pl.Local:
		return fmt.Errorf("pipeline %s cannot run with stepline run: %s run only on AWS (deploy stepline to your account)",
			p.Name.Value, strings.Join(pl.NotLocal, ", "))
	case pl.LocalAWSDeploy && !awsDeploy:
		return fmt.Errorf("pipeline %s deploys to AWS in %s: run it with --aws-deploy to perform these deploys against your AWS account with your credentials",
			p.Name.Value, strings.Join(pl.AWSDeploy, ", "))
	}
	return nil
}

// withLogs puts each action's log path into its External field for the summary, when the
// executor did not report one.
func withLogs(st engine.State, rec store.Record) engine.State {
	for i := range st.Stages {
		for j := range st.Stages[i].Actions {
			if st.Stages[i].Actions[j].External == "" && i < len(rec.Definition.Stages) && j < len(rec.Definition.Stages[i].Actions) {
				st.Stages[i].Actions[j].External = rec.Logs[rec.Definition.Stages[i].Name+"/"+rec.Definition.Stages[i].Actions[j].Name]
			}
		}
	}
	return st
}

// localState returns the state directory of a local command in the repository at root
// (--state-dir, else .stepline inside it), created if needed.
func (g *globals) localState(root string) (string, error) {
	dir := g.stateDir
	if dir == "" {
		dir = filepath.Join(root, ".stepline")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if err := makeStateDir(dir); err != nil {
		return "", fmt.Errorf("create the state directory: %w", err)
	}
	return dir, nil
}

// makeStateDir creates the state directory with a .gitignore of "*", so runs, artifacts and
// deployed releases inside the repository never end up in a commit (git add -A).
func makeStateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ignore := filepath.Join(dir, ".gitignore")
	if _, err := os.Stat(ignore); err == nil {
		return nil
	}
	return os.WriteFile(ignore, []byte("# stepline's run state: never commit it\n*\n"), 0o644)
}

// inside returns dir relative to root when dir is inside root, so snapshots leave it out.
func inside(root, dir string) []string {
	rel, err := filepath.Rel(root, dir)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return nil
	}
	return []string{filepath.ToSlash(rel)}
}
