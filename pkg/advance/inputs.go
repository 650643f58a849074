package advance

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/stepline/stepline/pkg/approval"
	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/statemachine"
)

// finalErrors are failures a retry cannot fix.
var finalErrors = []string{statemachine.ErrSourceNotFound, statemachine.ErrSourceUnauthorized, statemachine.ErrSourceInvalidInput,
	statemachine.ErrSourceInvalidArchive, statemachine.ErrActionRejected}

// inputs turns what a wave brought back into engine inputs.
func (h *Handler) inputs(cfg Config, s statemachine.State) []engine.Input {
	var out []engine.Input
	for _, o := range s.Outcomes() {
		if o.Task.Kind == statemachine.KindPark && o.Error != nil && o.Error.Error == "States.Timeout" {
			// An hour without an answer: a notice was lost. No input: the engine asks for the
			// lock again, which grants it if it is free.
			continue
		}
		out = append(out, input(cfg, o))
	}
	return out
}

func input(cfg Config, o statemachine.Outcome) engine.Input {
	t := o.Task.Task
	if o.Task.Kind == statemachine.KindPark {
		return parkInput(t.Stage, o)
	}
	if t.Provider == engine.ProviderApproval {
		if in, ok := decision(t, o); ok {
			return in
		}
	}
	if o.Error != nil {
		in := t.Failed(failure(o.Error), slices.Contains(finalErrors, o.Error.Error))
		if o.Task.Kind == statemachine.KindCodeBuild {
			// The build's log is what a failed build is read for: its id, as for a success,
			// links the dashboard and notifications to it.
			in.External = failedBuild(o.Error.Cause)
		}
		return in
	}
	switch o.Task.Kind {
	case statemachine.KindSource:
		var out struct {
			Artifact struct{ Bucket, Key string } `json:"artifact"`
		}
		if err := json.Unmarshal(o.Output, &out); err != nil || out.Artifact.Bucket == "" {
			return t.Failed("the source step answered without an artifact", false)
		}
		return t.Succeeded(map[string]string{firstOr(t.Outputs, "source"): "s3://" + out.Artifact.Bucket + "/" + out.Artifact.Key}, nil)
	case statemachine.KindCodeBuild:
		return BuildResult(cfg, t, o.Output)
	default:
		var out struct {
			Outputs   map[string]string `json:"outputs"`
			Variables map[string]string `json:"variables"`
			Payload   struct {
				Outputs   map[string]string `json:"outputs"`
				Variables map[string]string `json:"variables"`
			} `json:"payload"`
		}
		_ = json.Unmarshal(o.Output, &out)
		if out.Outputs == nil && out.Variables == nil {
			out.Outputs, out.Variables = out.Payload.Outputs, out.Payload.Variables
		}
		return t.Succeeded(out.Outputs, out.Variables)
	}
}

// decision reads a person's answer to an approval: the page's or `stepline approve --aws`'s
// approval.Output, or `stepline reject --aws`'s approval.Rejection. Anything else (a timeout,
// the page's plain rejection) is read as any other outcome.
func decision(t engine.Task, o statemachine.Outcome) (engine.Input, bool) {
	in := engine.Input{Kind: engine.KindApproval, Stage: t.Stage, Action: t.Action, Attempt: t.Attempt}
	if o.Error != nil {
		r, ok := approval.ParseRejection(o.Error.Cause)
		if o.Error.Error != statemachine.ErrActionRejected || !ok {
			return engine.Input{}, false
		}
		in.Status, in.Who, in.Message = engine.Failed, r.By, r.Comment
		return in, true
	}
	var out approval.Output
	if json.Unmarshal(o.Output, &out) != nil || !out.Approved {
		return engine.Input{}, false
	}
	in.Status, in.Who, in.Message = engine.Succeeded, out.By, out.Comment
	return in, true
}

// BuildResult reads a finished build, {"build": <CodeBuild's Build>} as the state machine's
// ResultSelector shapes startBuild.sync's answer: a build that did not succeed fails the
// attempt; one that did yields its output artifacts and exported variables.
func BuildResult(cfg Config, t engine.Task, raw json.RawMessage) engine.Input {
	var out struct {
		Build struct {
			ID       string `json:"Id"`
			Status   string `json:"BuildStatus"`
			Exported []struct {
				Name  string `json:"Name"`
				Value string `json:"Value"`
			} `json:"ExportedEnvironmentVariables"`
		} `json:"build"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return t.Failed("the build's result could not be read", false)
	}
	if out.Build.Status != "SUCCEEDED" {
		in := t.Failed(fmt.Sprintf("build %s ended %s", out.Build.ID, out.Build.Status), false)
		in.External = out.Build.ID
		return in
	}
	outputs := map[string]string{}
	for _, name := range t.Outputs {
		outputs[name] = "s3://" + cfg.Bucket + "/" + cfg.prefix() + t.Run + "/" + name + ".zip"
	}
	var vars map[string]string
	if len(out.Build.Exported) > 0 {
		vars = map[string]string{}
		for _, v := range out.Build.Exported {
			vars[v.Name] = v.Value
		}
	}
	in := t.Succeeded(outputs, vars)
	in.External = out.Build.ID
	return in
}

func parkInput(stage string, o statemachine.Outcome) engine.Input {
	if o.Error != nil {
		return engine.Input{Kind: engine.KindCancel, Message: "stopped waiting for stage " + stage + ": " + failure(o.Error)}
	}
	var a parkAnswer
	_ = json.Unmarshal(o.Output, &a)
	if a.SupersededBy != "" {
		return engine.Input{Kind: engine.KindSuperseded, By: a.SupersededBy}
	}
	return engine.Input{Kind: engine.KindGranted, Stage: cmp.Or(a.Granted, stage)}
}

// causeBuild is the build a failed startBuild.sync's Cause holds: the whole Build as JSON
// (the ASL's CodeBuild state says so), or the Build under "Build".
type causeBuild struct {
	Build  struct{ ID, BuildStatus string } `json:"Build"`
	Status string                           `json:"BuildStatus"`
	ID     string                           `json:"Id"`
}

// failedBuild returns the id of the build a failed CodeBuild state's cause holds, "" when it
// holds none.
func failedBuild(cause string) string {
	var b causeBuild
	if json.Unmarshal([]byte(strings.TrimSpace(cause)), &b) != nil {
		return ""
	}
	return cmp.Or(b.ID, b.Build.ID)
}

// failure summarises a caught error in one line: its name and the start of its cause.
func failure(e *statemachine.TaskError) string {
	cause := strings.TrimSpace(e.Cause)
	// CodeBuild's cause is the whole build as JSON; its status says enough.
	var b causeBuild
	if json.Unmarshal([]byte(cause), &b) == nil && (b.Status != "" || b.Build.BuildStatus != "") {
		return fmt.Sprintf("build %s ended %s", cmp.Or(b.ID, b.Build.ID), cmp.Or(b.Status, b.Build.BuildStatus))
	}
	if i := strings.IndexByte(cause, '\n'); i >= 0 {
		cause = cause[:i]
	}
	if len(cause) > 300 {
		cause = cause[:300] + "…"
	}
	if cause == "" {
		return e.Error
	}
	return e.Error + ": " + cause
}
