package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stepline/stepline/pkg/pipeline"
	"github.com/stepline/stepline/pkg/scm"
	"github.com/stepline/stepline/pkg/trigger"
)

func newTrigger(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "trigger",
		Short: "Explain which pipelines an event starts",
	}
	cmd.AddCommand(newTriggerExplain(g))
	return cmd
}

type explainOptions struct {
	event, file, provider string
	headers               []string
	json                  bool
}

func newTriggerExplain(g *globals) *cobra.Command {
	var o explainOptions
	cmd := &cobra.Command{
		Use:   "explain --event FILE [-f .stepline.yml] [--provider P --header 'X-GitHub-Event: push']",
		Short: "Say, for every pipeline, whether an event would start it and which filter decided",
		Long: "Read an event and a pipeline file and print, for every pipeline, whether the event would\n" +
			"start it and the exact trigger filter (file:line:col) that decided. The event is a\n" +
			"normalised event as `stepline webhook parse` prints it (one object or an array), or, with\n" +
			"--provider, a raw delivery body whose event name comes from --header.\n" +
			"Exit status: 0 explained, 1 the pipeline file or the event is invalid or the delivery\n" +
			"starts nothing (stepline ignores its event), 2 bad usage.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(g) },
	}
	f := cmd.Flags()
	f.StringVar(&o.event, "event", "", "the event file (required)")
	f.StringVarP(&o.file, "file", "f", defaultFile, "the pipeline file")
	f.StringVar(&o.provider, "provider", "", "read --event as a raw delivery of this provider (github, bitbucket, bitbucket-server)")
	f.StringArrayVar(&o.headers, "header", nil, "a delivery header 'Name: value' (repeatable), e.g. 'X-GitHub-Event: push'")
	f.BoolVar(&o.json, "json", false, "print the decisions as JSON")
	return cmd
}

func (o explainOptions) run(g *globals) error {
	if o.event == "" {
		return exit(ExitUsage, errors.New("--event FILE is required"))
	}
	evs, err := o.events()
	if err != nil {
		return err
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
	type explained struct {
		Event     scm.Event          `json:"event"`
		Decisions []trigger.Decision `json:"decisions"`
	}
	var all []explained
	for _, ev := range evs {
		all = append(all, explained{Event: ev, Decisions: trigger.MatchFile(pf, ev)})
	}
	if o.json {
		b, err := json.MarshalIndent(all, "", "  ")
		if err != nil {
			return exit(ExitFailed, err)
		}
		fmt.Fprintln(g.stdio.Out, string(b))
		return nil
	}
	name := filepath.ToSlash(o.file)
	for i, e := range all {
		if len(all) > 1 {
			if i > 0 {
				fmt.Fprintln(g.stdio.Out)
			}
			fmt.Fprintf(g.stdio.Out, "event %d of %d: %s %s %s\n", i+1, len(all), e.Event.Provider, e.Event.Kind, e.Event.Ref)
		}
		if err := trigger.Explain(g.stdio.Out, name, e.Decisions); err != nil {
			return exit(ExitFailed, err)
		}
	}
	return nil
}

// events reads --event: a raw delivery with --provider, else one normalised event or an array.
func (o explainOptions) events() ([]scm.Event, error) {
	if o.provider != "" {
		h, ok := scm.HeadersOf(o.provider)
		if !ok {
			return nil, exit(ExitUsage, fmt.Errorf("--provider must be one of %s", strings.Join(scm.Providers(), ", ")))
		}
		var event, delivery string
		for _, hv := range o.headers {
			name, value, ok := strings.Cut(hv, ":")
			if !ok {
				return nil, exit(ExitUsage, fmt.Errorf("--header %q: want 'Name: value'", hv))
			}
			name, value = strings.TrimSpace(name), strings.TrimSpace(value)
			switch {
			case strings.EqualFold(name, h.Event):
				event = value
			case strings.EqualFold(name, h.Delivery):
				delivery = value
			}
		}
		if event == "" {
			return nil, exit(ExitUsage, fmt.Errorf("a raw %s delivery needs its event name: --header '%s: NAME'", o.provider, h.Event))
		}
		if delivery == "" {
			delivery = "local"
		}
		evs, err := parseDelivery(o.provider, event, delivery, o.event)
		if reason, ok := scm.IsIgnored(err); ok {
			return nil, exit(ExitFailed, fmt.Errorf("the delivery starts nothing: %s", reason))
		}
		return evs, err
	}
	data, err := os.ReadFile(o.event)
	if err != nil {
		return nil, exit(ExitUsage, err)
	}
	var evs []scm.Event
	trimmed := strings.TrimSpace(string(data))
	if strings.HasPrefix(trimmed, "[") {
		err = json.Unmarshal(data, &evs)
	} else {
		var ev scm.Event
		err = json.Unmarshal(data, &ev)
		evs = []scm.Event{ev}
	}
	if err != nil {
		return nil, exit(ExitFailed, fmt.Errorf("%s is not a normalised event (use --provider for a raw delivery): %w", o.event, err))
	}
	for i, ev := range evs {
		// What the webhook and the trigger refuse is never explained as if it could run.
		if err := ev.Check(); err != nil {
			return nil, exit(ExitFailed, fmt.Errorf("%s: event %d: %w", o.event, i+1, err))
		}
	}
	return evs, nil
}
