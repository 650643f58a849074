package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/stepline/stepline/pkg/dashboard"
	"github.com/stepline/stepline/pkg/runops"
	"github.com/stepline/stepline/pkg/store"
)

type dashboardOptions struct {
	target
	port  int
	open  bool
	hosts []string
}

// livePoll is how often the dashboard reads a local run's record and log for open pages.
const livePoll = 250 * time.Millisecond

func newDashboard(g *globals) *cobra.Command {
	var o dashboardOptions
	cmd := &cobra.Command{
		Use:   "dashboard [--port N] [--open] [--aws --stack NAME]",
		Short: "Show and steer the runs in a web page on this machine: the stage graph, logs and buttons",
		Long: "Serve the dashboard on 127.0.0.1 (a free port unless --port) and print its URL: the\n" +
			"pipelines, their runs, each run's stage → action graph with statuses, durations, attempts,\n" +
			"exported variables, artifacts and logs, kept live while runs go on, and the buttons of\n" +
			"`stepline approve|reject|retry|stop|rollback|start`, each behind a confirmation.\n" +
			"The runs are this repository's (.stepline, or --state-dir); retries, rollbacks and starts\n" +
			"from the page run in this process, and stop with it. With --aws they are the runs of the\n" +
			"deployed stepline of --stack, read and changed with your AWS credentials; pages then poll,\n" +
			"and \"Start a run\" starts runs of --repository (provider:owner/name, read from --repo).\n" +
			"Only this machine can reach it: it listens on the loopback address and answers only to\n" +
			"loopback host names (--host adds one); a button changes a run only from the dashboard's\n" +
			"own pages (Origin and a per-session token are checked). --open opens it in the browser\n" +
			"($BROWSER, else the system's). Stop with Ctrl-C.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Context(), g) },
	}
	f := cmd.Flags()
	f.IntVar(&o.port, "port", 0, "the port on 127.0.0.1 to listen on (0: a free one)")
	f.BoolVar(&o.open, "open", false, "open the dashboard in the browser")
	f.StringArrayVar(&o.hosts, "host", nil, "a host name the dashboard also answers to (repeatable), for a name of your own that points at this machine")
	o.target.startFlags(f)
	o.target.flags(f)
	return cmd
}

func (o dashboardOptions) run(ctx context.Context, g *globals) error {
	opts := []dashboard.Option{dashboard.WithHosts(o.hosts...), dashboard.WithLogger(g.logger()), dashboard.WithDriveContext(ctx)}
	var ops runops.Operator
	if o.aws {
		op, err := g.awsOperator(ctx, o.target)
		if err != nil {
			return err
		}
		ops = op.Operator
		opts = append(opts, dashboard.WithMode("AWS: stack "+o.stack))
	} else {
		dir, err := g.state(ctx)
		if err != nil {
			return exit(ExitUsage, err)
		}
		ops = runops.NewLocal(store.NewBolt(filepath.Join(dir, "stepline.db")), dir,
			&cliDriver{g: g, dir: dir, repo: o.repo, awaitApprovals: true}, runops.WithLocalLogger(g.logger()))
		opts = append(opts, dashboard.WithLocalLogs(dir, livePoll), dashboard.WithMode("local: "+dir))
	}
	h := dashboard.New(ops, append(opts, dashboard.WithOperator(ops))...)
	defer h.Wait()
	return serveDashboard(ctx, g, h, o.port, o.open)
}

// serveDashboard serves h on 127.0.0.1:port until ctx ends, printing the URL and opening it
// in the browser when asked.
func serveDashboard(ctx context.Context, g *globals, h http.Handler, port int, open bool) error {
	ln, url, err := listenDashboard(port)
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stdio.Out, "stepline dashboard: %s\n", url)
	if open {
		if err := openBrowser(url); err != nil {
			fmt.Fprintf(g.stdio.Err, "warning: could not open a browser (%v); open %s yourself\n", err, url)
		}
	}
	hs := newDashboardServer(h)
	err = serveUntil(ctx, listening{hs, ln})
	stopDashboard(hs)
	if err != nil {
		return exit(ExitFailed, err)
	}
	return nil
}

// listenDashboard listens on 127.0.0.1:port (0: a free port), the only address a dashboard
// listens on, and returns the dashboard's URL.
func listenDashboard(port int) (net.Listener, string, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return nil, "", exit(ExitUsage, fmt.Errorf("listen on 127.0.0.1:%d: %w", port, err))
	}
	return ln, "http://" + ln.Addr().String() + "/", nil
}

// newDashboardServer bounds the headers' arrival only: a page's event stream stays open as
// long as the page does.
func newDashboardServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
}

// stopDashboard shuts hs down. Open event streams never end by themselves: Close cuts them
// once Shutdown has waited.
func stopDashboard(hs *http.Server) {
	shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdown); err != nil {
		_ = hs.Close()
	}
}

// openBrowser opens url with $BROWSER when set, else with the system's opener.
func openBrowser(url string) error {
	name, args := "", []string{url}
	switch {
	case os.Getenv("BROWSER") != "":
		name = os.Getenv("BROWSER")
	case runtime.GOOS == "darwin":
		name = "open"
	case runtime.GOOS == "windows":
		name, args = "rundll32", []string{"url.dll,FileProtocolHandler", url}
	default:
		name = "xdg-open"
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return errors.New(name + " is not installed")
	}
	cmd := exec.Command(path, args...)
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }()
	return nil
}
