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

	"github.com/stepline/stepline/pkg/approval"
	"github.com/stepline/stepline/pkg/changes"
	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/local"
	"github.com/stepline/stepline/pkg/notify"
	"github.com/stepline/stepline/pkg/pipeline"
	"github.com/stepline/stepline/pkg/store"
)

type notifyOptions struct {
	file, pipeline string
	dryRun, body   bool
}

func newNotify(g *globals) *cobra.Command {
	var o notifyOptions
	cmd := &cobra.Command{
		Use:   "notify --dry-run [-f FILE] [-p PIPELINE] [--body]",
		Short: "Show who a pipeline's notifications: block tells of each change, and what they get",
		Long: "For a sample run of each pipeline of the file (this repository's HEAD), print every kind of\n" +
			"change (pipeline started, succeeded, failed, superseded, canceled; stage failed; action\n" +
			"failed; approval needed; rollback), the targets its notifications: rules send it to, and\n" +
			"the message: its title (Chatbot and chat) and its SNS subject (email). --body prints what\n" +
			"each target receives: the Chatbot custom notification published to a topic, or the Slack or\n" +
			"Teams webhook body. Nothing is sent: notifications leave from the notify function on AWS.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Context(), g) },
	}
	f := cmd.Flags()
	f.BoolVar(&o.dryRun, "dry-run", false, "print the notifications instead of sending them (required: sending happens on AWS)")
	f.StringVarP(&o.file, "file", "f", "", "the pipeline file (default: .stepline.yml at the repository root)")
	f.StringVarP(&o.pipeline, "pipeline", "p", "", "only this pipeline")
	f.BoolVar(&o.body, "body", false, "print the body each target receives")
	return cmd
}

func (o notifyOptions) run(ctx context.Context, g *globals) error {
	if !o.dryRun {
		return exit(ExitUsage, errors.New("notify sends nothing from this machine: give --dry-run to see what would be sent"))
	}
	wd, err := os.Getwd()
	if err != nil {
		return exit(ExitUsage, err)
	}
	co, repoErr := local.Inspect(ctx, wd)
	file := o.file
	if file == "" {
		if repoErr != nil {
			return exit(ExitUsage, fmt.Errorf("no pipeline file: give -f (%v)", repoErr))
		}
		file = filepath.Join(co.Root, defaultFile)
	}
	pf, err := loadFile(file)
	if err != nil {
		var probs pipeline.Problems
		if errors.As(err, &probs) {
			fmt.Fprintln(g.stdio.Err, probs.Error())
			return exit(ExitFailed, fmt.Errorf("%s has %d problem%s", file, len(probs), plural(len(probs))))
		}
		return exit(ExitUsage, err)
	}
	pipelines := pf.Pipelines
	if o.pipeline != "" {
		p, err := pf.Pipeline(o.pipeline)
		if err != nil {
			return exit(ExitUsage, err)
		}
		pipelines = []*pipeline.Pipeline{p}
	}
	for i, p := range pipelines {
		if i > 0 {
			fmt.Fprintln(g.stdio.Out)
		}
		if err := o.print(g.stdio.Out, p, co); err != nil {
			return exit(ExitFailed, err)
		}
	}
	return nil
}

// print shows each kind of change of a sample run of p, its targets and its message.
func (o notifyOptions) print(out io.Writer, p *pipeline.Pipeline, co local.Checkout) error {
	def := p.Definition()
	rules := "no notifications: block, every change goes to the stack's topic"
	if n := len(def.Notifications); n > 0 {
		rules = fmt.Sprintf("%d notification rule%s", n, plural(n))
	}
	fmt.Fprintf(out, "pipeline %s (%s)\n", def.Pipeline, rules)
	s := newSampleRun(p, co)
	for _, kind := range notify.Kinds() {
		c, rec, note := s.change(kind)
		targets := notify.Route(def, kind)
		if note != "" {
			fmt.Fprintf(out, "  %-19s %s\n", kind, note)
			continue
		}
		if len(targets) == 0 {
			fmt.Fprintf(out, "  %-19s → nobody (no rule chooses %s)\n", kind, kind)
			continue
		}
		names := make([]string, len(targets))
		for i, t := range targets {
			names[i] = targetName(t)
		}
		fmt.Fprintf(out, "  %-19s → %s\n", kind, strings.Join(names, ", "))
		n, ok := notify.Notify(c, notify.RunOf(rec), notify.Links{})
		if !ok {
			return fmt.Errorf("no %s notification for the sample change", kind)
		}
		fmt.Fprintf(out, "      title:   %s\n      subject: %s\n", n.Message.Content.Title, n.Subject)
		if o.body {
			for _, t := range targets {
				body, err := targetBody(t, n)
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "      %s receives:\n%s\n", targetName(t), indent(string(body), "        "))
			}
		}
	}
	return nil
}

// targetName says where a target sends, naming a webhook by its secret.
func targetName(t engine.NotificationTarget) string {
	switch {
	case t.Kind == notify.TargetTopic && t.TopicARN == "":
		return "the stack's topic"
	case t.Kind == notify.TargetTopic:
		return "topic " + t.TopicARN
	}
	return t.Kind + " webhook (secret " + t.SecretID + ")"
}

// targetBody is what t receives: the Chatbot message on a topic, else the webhook body.
func targetBody(t engine.NotificationTarget, n notify.Notification) ([]byte, error) {
	if t.Kind == notify.TargetTopic {
		return n.Message.JSON()
	}
	return notify.Webhook(t.Kind, n)
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// sampleRun is a run of a pipeline that never ran: run 1, built from the repository's HEAD
// (or a sample commit outside a repository), started five minutes before it ends.
type sampleRun struct {
	def engine.Definition
	rec store.Record
	end time.Time
	// stop is where a failure happens: the first action after the Source stage.
	stop [2]int
}

func newSampleRun(p *pipeline.Pipeline, co local.Checkout) sampleRun {
	def := p.Definition()
	source := co.Variables()
	if co.Commit == "" {
		co = local.Checkout{Root: "repository", Commit: strings.Repeat("0", 40), Branch: "main", Author: "Jane Doe", Message: "A sample commit"}
		source = co.Variables()
	}
	vars, err := p.RunVariables(source, def.Pipeline+"-1", 1)
	if err != nil {
		vars = map[string]map[string]string{"source": source}
	}
	end := time.Date(2026, 1, 1, 12, 5, 0, 0, time.UTC)
	st := engine.New(def, engine.RunInfo{ID: def.Pipeline + "-1", Seq: 1, Variables: vars})
	st.Started = end.Add(-5 * time.Minute).UnixMilli()
	repo := filepath.Base(co.Root)
	if _, r, ok := parseRemote(co.Origin); ok {
		repo = r
	}
	s := sampleRun{def: def, end: end, rec: store.Record{Definition: def, State: st, Repo: repo, Branch: co.Branch, Commit: co.Commit}}
	s.stop = [2]int{min(1, len(def.Stages)-1), 0}
	return s
}

// failed is the run's record with its failure: the stop action failed on its first attempt.
func (s sampleRun) failed() store.Record {
	rec := s.rec
	st := rec.State
	st.Stages = append([]engine.StageState(nil), st.Stages...)
	sg := &st.Stages[s.stop[0]]
	sg.Actions = append([]engine.ActionState(nil), sg.Actions...)
	sg.Status, sg.Message = engine.Failed, "action "+s.def.Stages[s.stop[0]].Actions[0].Name+" failed: (a sample failure)"
	sg.Actions[s.stop[1]] = engine.ActionState{Status: engine.Failed, Attempt: 1, Message: "(a sample failure)"}
	st.Status, st.Message = engine.Failed, sg.Message
	rec.State = st
	return rec
}

// change is the sample change of kind and the run's record then, or a note saying why the
// pipeline has none.
func (s sampleRun) change(kind notify.Kind) (notify.Change, store.Record, string) {
	c, note := s.detail(kind)
	switch kind {
	case notify.PipelineFailed, notify.StageFailed, notify.ActionFailed:
		return c, s.failed(), note
	}
	return c, s.rec, note
}

func (s sampleRun) detail(kind notify.Kind) (notify.Change, string) {
	d := changes.Detail{Pipeline: s.def.Pipeline, ExecutionID: s.rec.State.Run, Version: 1,
		StartTime: s.end.Format(time.RFC3339), Repository: s.rec.Repo, Branch: s.rec.Branch, Commit: s.rec.Commit}
	c := notify.Change{DetailType: changes.DetailPipeline, Time: s.end}
	stage, action := s.def.Stages[s.stop[0]].Name, s.def.Stages[s.stop[0]].Actions[s.stop[1]].Name
	failed := "action " + action + " failed: (a sample failure)"
	switch kind {
	case notify.PipelineStarted:
		d.State = engine.Started
	case notify.PipelineSucceeded:
		d.State = string(engine.Succeeded)
	case notify.PipelineFailed:
		d.State, d.Message = string(engine.Failed), failed
	case notify.PipelineSuperseded:
		d.State, d.Message = string(engine.Superseded), "superseded by run "+s.def.Pipeline+"-2"
	case notify.PipelineCanceled:
		d.State, d.Message = string(engine.Canceled), "canceled"
	case notify.StageFailed:
		c.DetailType, d.State, d.Stage, d.Message = changes.DetailStage, string(engine.Failed), stage, failed
	case notify.ActionFailed:
		c.DetailType, d.State, d.Stage, d.Action, d.Attempt, d.Message = changes.DetailAction, string(engine.Failed), stage, action, 1, "(a sample failure)"
	case notify.Rollback:
		st, ok := s.stageWith(func(st engine.Stage) bool { return st.OnFailure.Result == engine.Rollback })
		if !ok {
			return c, "(no stage has on_failure: rollback)"
		}
		c.DetailType, d.State, d.Stage, d.Message = changes.DetailStage, engine.RollingBack, st.Name, "action "+st.Actions[0].Name+" failed: (a sample failure)"
	case notify.ApprovalNeeded:
		for _, st := range s.def.Stages {
			for _, a := range st.Actions {
				if a.Provider == engine.ProviderApproval {
					msg, _ := a.Config["message"].(string)
					c.DetailType = approval.DetailRequested
					c.Approval = approval.RequestedDetail{Pipeline: s.def.Pipeline, Run: s.rec.State.Run, Stage: st.Name, Action: a.Name,
						Attempt: 1, Message: msg}
					return c, ""
				}
			}
		}
		return c, "(no approval action)"
	}
	c.State = d
	return c, ""
}

func (s sampleRun) stageWith(match func(engine.Stage) bool) (engine.Stage, bool) {
	for _, st := range s.def.Stages {
		if match(st) {
			return st, true
		}
	}
	return engine.Stage{}, false
}
