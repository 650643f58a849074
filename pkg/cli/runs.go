package cli

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/local"
	"github.com/stepline/stepline/pkg/runops"
	"github.com/stepline/stepline/pkg/store"
)

// maxCell and maxTrigger bound what one column of `stepline runs` shows: a branch name can be
// 255 bytes long, and one that long would push every other column off the screen.
const (
	maxCell    = 40
	maxTrigger = 60
)

func newRuns(g *globals) *cobra.Command {
	var f runops.Filter
	var t target
	var status string
	cmd := &cobra.Command{
		Use:   "runs [--pipeline NAME] [--branch NAME] [--status STATUS] [--limit N] [--aws --stack NAME]",
		Short: "List the runs of this repository (or with --aws of a deployed stepline), newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ops, err := g.operator(cmd.Context(), t)
			if err != nil {
				return err
			}
			f.Status = engine.Status(strings.ToUpper(status))
			if f.Limit <= 0 {
				f.Limit = math.MaxInt
			}
			pg, err := ops.Runs(cmd.Context(), f)
			if err != nil {
				return exit(ExitUsage, fmt.Errorf("read the run history in %s: %w", ops.where, err))
			}
			recs := pg.Runs
			if len(recs) == 0 {
				fmt.Fprintln(g.stdio.Out, "no runs yet")
				return nil
			}
			w := tabwriter.NewWriter(g.stdio.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "RUN\tPIPELINE\tSTATUS\tSTARTED\tDURATION\tBRANCH\tCOMMIT\tTRIGGER")
			for _, r := range recs {
				st := r.State
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", local.Printable(st.Run, maxCell), local.Printable(st.Pipeline, maxCell), st.Status,
					engine.Time(st.Started).Local().Format("2006-01-02 15:04:05"), duration(st),
					local.Printable(r.Branch, maxCell), local.Printable(r.Commit, 7), local.Printable(r.Trigger, maxTrigger))
			}
			return w.Flush()
		},
	}
	cmd.Flags().StringVarP(&f.Pipeline, "pipeline", "p", "", "only this pipeline's runs")
	cmd.Flags().StringVar(&f.Branch, "branch", "", "only this branch's runs")
	cmd.Flags().StringVar(&status, "status", "", "only runs in this status (SUCCEEDED, FAILED, IN_PROGRESS, CANCELED, SUPERSEDED)")
	cmd.Flags().IntVarP(&f.Limit, "limit", "n", 20, "at most this many runs (0: all)")
	t.flags(cmd.Flags())
	return cmd
}

func newShow(g *globals) *cobra.Command {
	var t target
	cmd := &cobra.Command{
		Use:   "show RUN [--aws --stack NAME]",
		Short: "Show one run: stages, actions, durations, log files and who did what",
		Long:  "Show one run: stages, actions, durations and log files. RUN may be a unique prefix of a run id.",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, rec, err := g.operatedRun(cmd.Context(), t, args[0])
			if err != nil {
				return err
			}
			out := g.stdio.Out
			fmt.Fprintf(out, "run %s of pipeline %s (%s, branch %s, commit %s)\n", local.Printable(rec.ID(), maxCell), local.Printable(rec.Pipeline(), maxCell),
				local.Printable(rec.Trigger, maxTrigger), local.Printable(rec.Branch, maxCell), local.Printable(rec.Commit, 7))
			for _, line := range local.Table(rec.Definition, withLogs(rec.State, rec), time.Now(), true) {
				fmt.Fprintln(out, line)
			}
			if rec.State.Stopping != "" {
				fmt.Fprintf(out, "  %s; running actions finish first\n", local.Printable(rec.State.Stopping, 200))
			}
			return nil
		},
	}
	t.flags(cmd.Flags())
	return cmd
}

// findRun finds the run id names: its exact id, a unique prefix of one, or, when the prefix
// is shared, the run it numbers: "site-2" is run 2 of site (site-2-<tag>), not run 20.
// An ambiguous prefix fails naming the runs it matched (store.AmbiguousError).
func findRun(ctx context.Context, db store.Finder, id string) (store.Record, error) {
	rec, err := db.FindRun(ctx, id)
	if errors.Is(err, store.ErrAmbiguous) {
		if numbered, err2 := db.FindRun(ctx, id+"-"); err2 == nil {
			return numbered, nil
		}
	}
	return rec, err
}

func duration(st engine.State) string {
	if st.Started == 0 {
		return ""
	}
	end := engine.Time(st.Ended)
	if st.Ended == 0 {
		end = time.Now()
	}
	return end.Sub(engine.Time(st.Started)).Round(100 * time.Millisecond).String()
}
