package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stepline/stepline/pkg/cost"
	"github.com/stepline/stepline/pkg/cpimport"
	"github.com/stepline/stepline/pkg/pipeline"
)

type costOptions struct {
	file    string
	minutes []string
	json    bool
}

func newCost(g *globals) *cobra.Command {
	var o costOptions
	cmd := &cobra.Command{
		Use:   "cost [-f .stepline.yml] [--minutes ACTION=N]…",
		Short: "Price one run of each pipeline on AWS, next to CodePipeline V2",
		Long: "Estimate one run of each pipeline in which every action succeeds once: Step Functions\n" +
			"state transitions and Lambda GB-seconds on stepline, against CodePipeline V2's action\n" +
			"execution minutes for the same action durations. CodeBuild costs the same on both and is\n" +
			"left out. A pipeline that cannot run on AWS (a local deploy) is not priced; it says why.\n" +
			"Durations default per provider (codebuild 5 min, ecs and codedeploy 10, …);\n" +
			"--minutes Stage/Action=N or Action=N sets one. A pipeline `stepline import` wrote also\n" +
			"prices the CodePipeline pipeline it came from: V1 by the active month, V2 by the action\n" +
			"minute of its every action. Prices: us-east-1, November 2026.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(g) },
	}
	f := cmd.Flags()
	f.StringVarP(&o.file, "file", "f", defaultFile, "the pipeline file")
	f.StringArrayVar(&o.minutes, "minutes", nil, "an action's duration in minutes, ACTION=N or STAGE/ACTION=N (repeatable)")
	f.BoolVar(&o.json, "json", false, "print the estimates as JSON")
	return cmd
}

func (o costOptions) run(g *globals) error {
	minutes := map[string]float64{}
	for _, m := range o.minutes {
		name, v, ok := strings.Cut(m, "=")
		n, err := strconv.ParseFloat(v, 64)
		if !ok || err != nil || n < 0 {
			return exit(ExitUsage, fmt.Errorf("--minutes %q: want ACTION=N with N a number of minutes", m))
		}
		minutes[name] = n
	}
	pf, err := loadFile(o.file)
	if err != nil {
		var probs pipeline.Problems
		if errors.As(err, &probs) {
			fmt.Fprintln(g.stdio.Err, probs.Error())
			return exit(ExitFailed, fmt.Errorf("%s has %d problem%s", o.file, len(probs), plural(len(probs))))
		}
		return exit(ExitUsage, err)
	}
	origins, err := importedFrom(o.file)
	if err != nil {
		return exit(ExitUsage, err)
	}
	var all []cost.Estimate
	var unpriced []string
	for _, p := range pf.Pipelines {
		// Only what the state machine runs has a price on AWS.
		if pl := p.Placement(); !pl.AWS {
			unpriced = append(unpriced, fmt.Sprintf("pipeline %s is not priced: it cannot run on AWS (%s run only with stepline run)", p.Name.Value, strings.Join(pl.NotAWS, ", ")))
			continue
		}
		// An override names an action of one pipeline; keep only those of this one.
		mine := map[string]float64{}
		def := p.Definition()
		for k, v := range minutes {
			for _, sg := range def.Stages {
				for _, a := range sg.Actions {
					if k == a.Name || k == sg.Name+"/"+a.Name {
						mine[k] = v
					}
				}
			}
		}
		e, err := cost.Of(def, mine)
		if err != nil {
			return exit(ExitFailed, err)
		}
		if orig, ok := origins[p.Name.Value]; ok {
			priced := e.Priced(orig)
			e.Original = &priced
		}
		all = append(all, e)
	}
	for _, u := range unpriced {
		fmt.Fprintln(g.stdio.Err, u)
	}
	if len(all) == 0 {
		return exit(ExitFailed, fmt.Errorf("%s has no pipeline that runs on AWS", o.file))
	}
	if o.json {
		b, _ := json.MarshalIndent(all, "", "  ")
		fmt.Fprintln(g.stdio.Out, string(b))
		return nil
	}
	out := g.stdio.Out
	for i, e := range all {
		if i > 0 {
			fmt.Fprintln(out)
		}
		fmt.Fprintf(out, "pipeline %s, one run:\n", e.Pipeline)
		for _, a := range e.Actions {
			fmt.Fprintf(out, "  %-28s %6.2f min  (CodePipeline bills %d)\n", a.Name, a.Minutes, a.CodePipelineMinutes)
		}
		fmt.Fprintf(out, "  stepline:       %3d state transitions   $%.6f\n", e.Transitions, e.StepFunctions)
		fmt.Fprintf(out, "                  %3d Lambda requests, %.2f GB-s   $%.6f\n", e.LambdaRequests, e.LambdaGBSeconds, e.Lambda)
		fmt.Fprintf(out, "                  total   $%.6f\n", e.Total)
		fmt.Fprintf(out, "  CodePipeline V2: $%.6f  (%.0f× stepline)\n", e.CodePipeline, e.Cheaper)
		if o := e.Original; o != nil && o.Type == "V2" {
			fmt.Fprintf(out, "  imported from CodePipeline V2 pipeline %s: %d action minutes, $%.6f a run  (%.0f× stepline)\n", o.Name, o.Minutes, o.PerRunUSD, o.Times)
		} else if o != nil {
			fmt.Fprintf(out, "  imported from CodePipeline V1 pipeline %s: $%.2f a month with a run, whatever the number of runs  (the price of %.0f stepline runs)\n", o.Name, o.PerMonthUSD, o.SteplineRuns)
		}
	}
	return nil
}

// importedFrom reads the x-codepipeline block `stepline import` writes, by stepline pipeline.
func importedFrom(file string) (map[string]cost.Original, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read pipeline file: %w", err)
	}
	origins, err := cpimport.ReadOrigins(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	out := map[string]cost.Original{}
	for _, o := range origins {
		orig := cost.Original{Name: o.Name, Type: o.Type}
		for _, a := range o.Actions {
			orig.Actions = append(orig.Actions, cost.OriginalAction{Name: a.Name, Category: a.Category, Owner: a.Owner, Stepline: a.Stepline})
		}
		out[o.Pipeline] = orig
	}
	return out, nil
}
