// Package cli is the stepline command line: one cobra command per verb, each a thin layer over
// the packages that do the work. Main is callable in-process, so tests run the real commands
// without building a binary.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/stepline/stepline/pkg/local"
)

// IO is the command's standard streams; TTY says whether Out is a terminal.
type IO struct {
	In       io.Reader
	Out, Err io.Writer
	TTY      bool
}

// Exit codes shared by every command.
const (
	ExitOK       = 0
	ExitFailed   = 1   // the pipeline, the build or the validation failed
	ExitUsage    = 2   // bad flags, unreadable files
	ExitCanceled = 130 // interrupted (128 + SIGINT), as shells report it
)

// exitError carries a command's exit code up to Main.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

func exit(code int, err error) error { return &exitError{code: code, err: err} }

// Main runs the stepline command line with args (without the program name) and returns the
// process exit code. Canceling ctx interrupts the command (Ctrl-C).
func Main(ctx context.Context, args []string, stdio IO) int {
	root := newRoot(stdio)
	root.SetArgs(args)
	root.SetIn(stdio.In)
	root.SetOut(stdio.Out)
	root.SetErr(stdio.Err)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stdio.Err, "stepline:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(stdio.Err, "stepline:", err)
	return ExitUsage
}

// globals are the flags every command shares.
type globals struct {
	stdio    IO
	stateDir string
	verbose  bool
}

func newRoot(stdio IO) *cobra.Command {
	g := &globals{stdio: stdio}
	root := &cobra.Command{
		Use:   "stepline",
		Short: "Serverless CI/CD for AWS, and the same pipelines on your machine",
		Long: "stepline runs the pipelines of a repository's .stepline.yml: on AWS with Step Functions\n" +
			"and Lambda, or on this machine with `stepline run`, through the same engine.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.stateDir, "state-dir", "", "where runs, artifacts and logs are kept (default: .stepline in the repository)")
	root.PersistentFlags().BoolVarP(&g.verbose, "verbose", "v", false, "log diagnostics to standard error")
	root.AddCommand(newInit(g), newValidate(g), newBuild(g), newRun(g), newRuns(g), newShow(g), newApprove(g, true), newApprove(g, false), newRetry(g), newStop(g), newRollback(g), newStart(g), newServe(g), newWebhook(g), newTrigger(g), newCost(g), newImport(g), newRepoCmd(g), newNotify(g), newDashboard(g))
	return root
}

func (g *globals) logger() *slog.Logger {
	if !g.verbose {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(g.stdio.Err, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// logLevel is the level of commands that log by default (serve): info, or debug with -v.
func (g *globals) logLevel() slog.Level {
	if g.verbose {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// state returns the state directory: --state-dir, or .stepline at the root of the repository
// containing the working directory.
func (g *globals) state(ctx context.Context) (string, error) {
	if g.stateDir != "" {
		return filepath.Abs(g.stateDir)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	co, err := local.Inspect(ctx, wd)
	if err != nil {
		return filepath.Join(wd, ".stepline"), nil
	}
	return filepath.Join(co.Root, ".stepline"), nil
}
