package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/stepline/stepline/pkg/artifact"
	"github.com/stepline/stepline/pkg/dashboard"
	"github.com/stepline/stepline/pkg/local"
	"github.com/stepline/stepline/pkg/notify/commitstatus"
	"github.com/stepline/stepline/pkg/pipeline"
	"github.com/stepline/stepline/pkg/reposecret"
	"github.com/stepline/stepline/pkg/runops"
	"github.com/stepline/stepline/pkg/scm"
	"github.com/stepline/stepline/pkg/serve"
	"github.com/stepline/stepline/pkg/store"
	"github.com/stepline/stepline/pkg/trigger"
	"github.com/stepline/stepline/pkg/webhook"
)

type serveOptions struct {
	addr, repo, file, hook, repository string
	secrets, secretFiles               []string
	autoApprove, noDashboard           bool
	maxBody, dashboardPort             int
	readTimeout                        time.Duration
	extract                            artifact.Limits
	status                             statusOptions
}

func newServe(g *globals) *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve [--addr 127.0.0.1:8080] [--secret-file FILE]… [--dashboard-port N | --no-dashboard]",
		Short: "Receive webhooks on this machine and start local runs",
		Long: "Serve POST /webhooks/{github|bitbucket|bitbucket-server}/HOOK with the webhook handler the\n" +
			"Lambda uses: signed deliveries are verified and parsed, the pipeline file is read at the\n" +
			"event's commit, triggers are matched and matching pipelines run locally, as `stepline run`\n" +
			"would. An event handled before starts nothing: events are told apart by a digest of the\n" +
			"signed body (the idempotency key), not by the delivery id header, so a redelivery or a\n" +
			"replay under a new delivery id is dropped, and is recorded across restarts. At start,\n" +
			"runs a killed stepline left unfinished are ended as canceled, their builds stopped, and\n" +
			"their deliveries may run again.\n" +
			"Webhook secrets come from --secret-file (one secret a line) and --secret (visible to every\n" +
			"user in ps), both repeatable for rotation; without them from the file $" + secretFileEnv + "\n" +
			"names, else from $" + secretEnv + ".\n" +
			"Builds never see them: they get the environment docs/buildspec.md lists, not serve's.\n" +
			"With --status-token (or $" + statusTokenEnv + ") each run sets its commit's status on the\n" +
			"delivery's repository.\n" +
			"The dashboard (`stepline dashboard`'s pages, over serve's runs) listens apart, on\n" +
			"127.0.0.1 only (a free port unless --dashboard-port; none with --no-dashboard), and its\n" +
			"URL is printed. The webhook address, which may be every address so that providers reach\n" +
			"it, serves the webhooks and nothing else.\n" +
			"Stop with Ctrl-C: running runs are canceled.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Context(), g) },
	}
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", "127.0.0.1:8080", "the address to listen on for webhooks (port 0 picks a free one)")
	f.StringVar(&o.repo, "repo", "", "the repository runs are built from (default: the one containing the working directory)")
	f.StringVarP(&o.file, "file", "f", defaultFile, "the pipeline file, relative to the repository root, read at each event's commit")
	f.StringArrayVar(&o.secretFiles, "secret-file", nil, "a file of webhook secrets deliveries may be signed with, one a line (repeatable; default: $"+secretFileEnv+")")
	f.StringArrayVar(&o.secrets, "secret", nil, "a webhook secret deliveries may be signed with (repeatable; visible to every user in ps: prefer --secret-file)")
	f.StringVar(&o.hook, "hook", defaultHook, "the hook id in the URL path")
	f.StringVar(&o.repository, "repository", "", "accept deliveries only for this repository (owner/name); default: any")
	f.BoolVar(&o.autoApprove, "auto-approve", false, "approve manual approvals; without it they wait for stepline approve or reject (or the dashboard), since serve has no terminal to ask")
	f.IntVar(&o.maxBody, "max-body", webhook.DefaultMaxBody, "the largest body accepted, in bytes")
	addExtractFlags(f, &o.extract)
	f.DurationVar(&o.readTimeout, "read-timeout", 30*time.Second, "the longest a request may take to arrive, headers and body (a slow client is cut off)")
	f.IntVar(&o.dashboardPort, "dashboard-port", 0, "the port on 127.0.0.1 the dashboard listens on (0: a free one)")
	f.BoolVar(&o.noDashboard, "no-dashboard", false, "serve no dashboard")
	cmd.MarkFlagsMutuallyExclusive("dashboard-port", "no-dashboard")
	o.status.flags(f, true)
	return cmd
}

func (o serveOptions) run(ctx context.Context, g *globals) error {
	secrets, err := o.webhookSecrets()
	if err != nil {
		return exit(ExitUsage, err)
	}
	if !reposecret.ValidHook(o.hook) {
		return exit(ExitUsage, fmt.Errorf("--hook must be 16 to 128 letters, digits, - or _"))
	}
	if o.readTimeout <= 0 {
		return exit(ExitUsage, errors.New("--read-timeout must be positive"))
	}
	dir := o.repo
	if dir == "" {
		if dir, err = os.Getwd(); err != nil {
			return exit(ExitUsage, err)
		}
	}
	co, err := local.Inspect(ctx, dir)
	if err != nil {
		return exit(ExitUsage, err)
	}
	stateDir, err := g.localState(co.Root)
	if err != nil {
		return exit(ExitUsage, err)
	}
	seen, err := serve.OpenSeen(filepath.Join(stateDir, "deliveries"))
	if err != nil {
		return exit(ExitUsage, fmt.Errorf("read the record of handled deliveries: %w", err))
	}

	out := &lockedWriter{w: g.stdio.Out}
	log := slog.New(slog.NewTextHandler(g.stdio.Err, &slog.HandlerOptions{Level: g.logLevel()}))
	db := store.NewBolt(filepath.Join(stateDir, "stepline.db"))
	if err := reclaimLost(ctx, out, log, db, stateDir, seen); err != nil {
		return exit(ExitFailed, err)
	}
	runCtx, cancelRuns := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRuns()
	var runs sync.WaitGroup
	start := func(_ context.Context, p *pipeline.Pipeline, ev scm.Event, key string, untrusted bool) (func(), error) {
		return o.prepareRun(runCtx, g, &runs, out, co.Root, stateDir, p, ev, key, untrusted)
	}
	srv := serve.New(co.Root, o.file, seen, start, reporter(out, o.file), log)
	// serve has no registry: one hook id, any provider, the given secrets.
	registry := webhook.StaticSecrets{o.hook: {Repository: o.repository, WebhookSecrets: secrets}}
	h := webhook.New(registry, srv,
		webhook.WithLogger(log), webhook.WithMaxBody(o.maxBody))

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return exit(ExitUsage, err)
	}
	servers := []listening{{newHTTPServer(h.Mux(), o.readTimeout), ln}}
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(out, "stepline serve: listening on %s for %s\n", base, co.Root)
	for _, p := range scm.Providers() {
		fmt.Fprintf(out, "  %-16s %s/webhooks/%s/%s\n", p, base, p, o.hook)
	}
	if !o.noDashboard {
		// The same dashboard as `stepline dashboard`, on a listener of its own bound to
		// the loopback address: the webhook listener may be reachable from anywhere (and a
		// proxy in front of it may relay from anywhere), so it serves no page and no button.
		dln, url, err := listenDashboard(o.dashboardPort)
		if err != nil {
			_ = ln.Close()
			return err
		}
		ops := runops.NewLocal(db, stateDir,
			&cliDriver{g: g, dir: stateDir, repo: co.Root, awaitApprovals: true}, runops.WithLocalLogger(log))
		dash := dashboard.New(ops, dashboard.WithOperator(ops), dashboard.WithLocalLogs(stateDir, livePoll),
			dashboard.WithMode("stepline serve: "+stateDir), dashboard.WithLogger(log), dashboard.WithDriveContext(ctx))
		defer dash.Wait()
		servers = append(servers, listening{newDashboardServer(dash), dln})
		fmt.Fprintf(out, "stepline serve: dashboard on %s (this machine only)\n", url)
	}
	err = serveUntil(ctx, servers...)
	if err == nil {
		fmt.Fprintln(out, "stepline serve: stopping; running runs are canceled")
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = servers[0].hs.Shutdown(shutdown)
	for _, l := range servers[1:] {
		stopDashboard(l.hs)
	}
	cancelRuns()
	runs.Wait()
	if err != nil {
		return exit(ExitFailed, err)
	}
	return exit(ExitCanceled, nil)
}

// listening is a server and the listener it serves.
type listening struct {
	hs *http.Server
	ln net.Listener
}

// serveUntil serves each listener with its server until ctx ends (nil) or one fails.
func serveUntil(ctx context.Context, ls ...listening) error {
	served := make(chan error, len(ls))
	for _, l := range ls {
		go func() { served <- l.hs.Serve(l.ln) }()
	}
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
		return nil
	}
}

// newHTTPServer bounds how long a client may hold a connection: the headers and the whole body
// must arrive within readTimeout (headers within 10 s at most), so a client sending a byte a
// second cannot keep a connection, and a goroutine, for as long as it likes.
func newHTTPServer(h http.Handler, readTimeout time.Duration) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: min(readTimeout, 10*time.Second),
		ReadTimeout:       readTimeout,
		// The handler answers once the runs are started, not finished; reading the pipeline
		// file at a commit is the slowest part.
		WriteTimeout:   readTimeout + time.Minute,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
	}
}

// secretFileEnv names the environment variable holding the path of a file of webhook secrets.
const secretFileEnv = "STEPLINE_WEBHOOK_SECRET_FILE"

// webhookSecrets reads the secrets deliveries may be signed with, from the first source that
// gives any: --secret and --secret-file together, then $STEPLINE_WEBHOOK_SECRET_FILE, then
// $STEPLINE_WEBHOOK_SECRET.
func (o serveOptions) webhookSecrets() ([]string, error) {
	secrets := append([]string(nil), o.secrets...)
	files := o.secretFiles
	if len(secrets) == 0 && len(files) == 0 {
		if f := os.Getenv(secretFileEnv); f != "" {
			files = []string{f}
		} else if v := os.Getenv(secretEnv); v != "" {
			secrets = []string{v}
		}
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read the webhook secrets: %w", err)
		}
		n := len(secrets)
		for _, line := range strings.Split(string(data), "\n") {
			if line = strings.TrimSpace(line); line != "" {
				secrets = append(secrets, line)
			}
		}
		if len(secrets) == n {
			return nil, fmt.Errorf("the webhook secret file %s is empty", f)
		}
	}
	if len(secrets) == 0 {
		return nil, fmt.Errorf("no webhook secret: give --secret-file, or set %s or %s (deliveries are never accepted unsigned)", secretFileEnv, secretEnv)
	}
	return secrets, nil
}

// prepareRun builds the runner of one local run of p for ev and returns what starts it in the
// background.
func (o serveOptions) prepareRun(ctx context.Context, g *globals, runs *sync.WaitGroup, out io.Writer, root, stateDir string, p *pipeline.Pipeline, ev scm.Event, key string, untrusted bool) (func(), error) {
	def := p.Definition()
	head := ev.Head()
	prefix := fmt.Sprintf("[%s %.7s] ", def.Pipeline, head)
	w := &prefixWriter{w: out, prefix: prefix}
	var input io.Reader = strings.NewReader("")
	lr := localRun{
		repo: root, commit: head, stateDir: stateDir, autoApprove: o.autoApprove, awaitApprovals: true, extract: o.extract,
		in: input, out: w, view: local.NewView(w, def, false, nil),
	}
	if untrusted {
		lr.artifacts = untrustedArtifacts(stateDir, o.extract)
		fmt.Fprintln(w, "untrusted run (a fork's pull request, or a trigger marked trusted: false): builds only, no secrets, no deploys")
	}
	// The delivery says where the commit lives: its provider and repository get the statuses.
	var statuses *statusSink
	if t, ok, err := o.status.target(ev.Provider, ev.Repository.FullName, ""); err != nil {
		fmt.Fprintf(w, "warning: %v; the run goes on without them\n", err)
	} else if ok {
		if statuses, err = newStatusSink(t, commitstatus.Providers{}, def, ev.Branch, head, w); err != nil {
			return nil, err
		}
		lr.sinks = append(lr.sinks, statuses)
	}
	runner, _, err := newLocalRunner(g, def, lr)
	if err != nil {
		if statuses != nil {
			statuses.Close(statusWait)
		}
		return nil, err
	}
	source := ev.Variables()
	meta := local.Meta{Repo: root, Trigger: fmt.Sprintf("webhook %s %s %s", ev.Provider, source["event"], ev.Delivery),
		Branch: ev.Branch, Commit: head,
		Variables: func(id string, seq int64) (map[string]map[string]string, error) {
			return p.RunVariables(source, id, seq)
		},
		URL: p.RunURL(source), Delivery: key, Untrusted: untrusted}
	return func() {
		// The delivery counts as handled once the run has a record: a crash before that
		// leaves nothing to reclaim, so the redelivery must still start the run.
		recorded, returned := make(chan struct{}), make(chan struct{})
		meta.Recorded = func(string) { close(recorded) }
		defer func() {
			select {
			case <-recorded:
			case <-returned:
			}
		}()
		runs.Add(1)
		go func() {
			defer runs.Done()
			defer close(returned)
			if statuses != nil {
				defer statuses.Close(statusWait)
			}
			final, err := runner.Run(ctx, "", meta)
			if err != nil {
				fmt.Fprintf(w, "run could not be driven: %v\n", err)
				return
			}
			fmt.Fprintf(w, "%s pipeline %s run %s (logs: %s)\n", final.Status, def.Pipeline, final.Run,
				filepath.Join(stateDir, "runs", final.Run, "logs"))
		}()
	}, nil
}

// untrustedArtifacts is where an untrusted run's artifacts are kept, whoever drives it (serve,
// or a retry from the command line or the dashboard): apart from the artifacts trusted runs
// deploy and roll back to (docs/trust.md).
func untrustedArtifacts(stateDir string, limits artifact.Limits) local.Artifacts {
	return artifact.NewLocal(filepath.Join(stateDir, "untrusted", "artifacts"), artifact.WithLimits(limits))
}

// reclaimLost ends the runs a killed stepline (serve or run) left unfinished, and lets the
// deliveries whose every run was lost that way run again: they were recorded as handled when
// their runs started, so without this a redelivery would be "already handled" and start
// nothing. A run reclaimed earlier by `stepline run` counts too; a delivery with a run that was
// not lost (finished, or still driven) stays handled.
func reclaimLost(ctx context.Context, out io.Writer, log *slog.Logger, db store.Store, stateDir string, seen *serve.Seen) error {
	lost, err := local.Reclaim(ctx, db, stateDir, store.Filter{}, time.Now(), log)
	if err != nil {
		return fmt.Errorf("reclaim the runs a stopped stepline left: %w", err)
	}
	for _, rec := range lost {
		fmt.Fprintf(out, "stepline serve: run %s was left unfinished by a stopped stepline process: ended as canceled\n", rec.ID())
	}
	runs, err := db.ListRuns(ctx, store.Filter{})
	if err != nil {
		return fmt.Errorf("read the runs: %w", err)
	}
	onlyLost := map[string]bool{}
	for _, rec := range runs {
		if rec.Delivery != "" {
			lost, known := onlyLost[rec.Delivery]
			onlyLost[rec.Delivery] = rec.Abandoned && (lost || !known)
		}
	}
	var keys []string
	for k, lost := range onlyLost {
		if lost {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	forgot, err := seen.Forget(keys...)
	for _, k := range forgot {
		fmt.Fprintf(out, "stepline serve: delivery %s may run again: redeliver it\n", k)
	}
	return err
}

// reporter prints what became of each accepted event.
func reporter(out io.Writer, file string) serve.Reporter {
	return func(a webhook.Accepted, ds []trigger.Decision, note string) {
		if note != "" {
			fmt.Fprintf(out, "%s: %s\n", a.Key, note)
		}
		for _, d := range ds {
			fmt.Fprintf(out, "%s: %s\n", a.Key, trigger.Format(file, d))
		}
	}
}

// lockedWriter serialises writes from concurrent runs, one line at a time.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// prefixWriter starts every line with prefix, so interleaved runs stay readable.
type prefixWriter struct {
	w      io.Writer
	prefix string
	mu     sync.Mutex
	buf    bytes.Buffer
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf.Write(b)
	for {
		line, err := p.buf.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			p.buf.Write(line)
			return len(b), nil
		}
		if _, err := p.w.Write(append([]byte(p.prefix), line...)); err != nil {
			return 0, err
		}
	}
}
