// Package local runs pipelines on one machine: executors for each provider that works without
// AWS (git source, buildspec builds, release-directory deploys, terminal approvals) and the
// Runner that drives pkg/engine with them, exactly as the AWS state machine does with Lambda.
package local

import (
	"context"
	"io"
	"sort"

	"github.com/stepline/stepline/pkg/engine"
)

// Executor runs one action attempt of the providers it serves.
type Executor interface {
	// Execute runs the attempt until it ends or ctx is canceled. It never panics on bad
	// configuration: that is a final failure in the Outcome.
	Execute(ctx context.Context, t engine.Task, env Env) Outcome
}

// Env is what the runner gives an executor for one attempt.
type Env struct {
	// Work is a fresh directory for the attempt's files.
	Work string
	// Log receives the attempt's output; the runner keeps it in a file and may stream it.
	Log io.Writer
	// LogPath is the file behind Log, shown to users.
	LogPath string
	// Artifacts stores and fetches artifacts.
	Artifacts Artifacts
	// Vars are the run's variables by namespace, those it was created with and those its
	// actions exported (engine.State.Namespaces), for executors that pass them on; read only.
	Vars map[string]map[string]string
	// Started is told each process group the attempt starts (builds run in their own), before
	// the group runs anything, so the group can be ended should stepline be killed.
	Started func(pgid int)
	// Untrusted is set for an untrusted run's attempts (docs/trust.md): a build then gets no
	// secrets, whatever its executor was given.
	Untrusted bool
}

// Artifacts is the part of the artifact store executors use.
type Artifacts interface {
	PutDir(ctx context.Context, run, name, dir string) (string, error)
	PutReader(ctx context.Context, run, name string, r io.Reader) (string, error)
	Extract(ctx context.Context, location, dest string) error
}

// Outcome is how an attempt ended.
type Outcome struct {
	// Err is nil on success; otherwise its text is the failure message.
	Err error
	// Final marks failures that retrying cannot fix.
	Final bool
	// Outputs maps output artifact names to locations.
	Outputs map[string]string
	// Variables are the attempt's exported variables.
	Variables map[string]string
	// Message is shown with a success (e.g. "approved by terminal").
	Message string
}

// input turns an outcome into the engine's result input for t.
func (o Outcome) input(t engine.Task, external string) engine.Input {
	var in engine.Input
	if o.Err != nil {
		in = t.Failed(o.Err.Error(), o.Final)
	} else {
		in = t.Succeeded(o.Outputs, o.Variables)
		in.Message = o.Message
	}
	in.External = external
	return in
}

// failf is a final failure for configuration mistakes.
func failf(err error) Outcome { return Outcome{Err: err, Final: true} }

// configString reads a string setting of a task's configuration.
func configString(t engine.Task, key string) string {
	s, _ := t.Config[key].(string)
	return s
}

// configEnv reads the task's "env" map as KEY=VALUE pairs, sorted for stable logs.
func configEnv(t engine.Task) []string {
	m, _ := t.Config["env"].(map[string]any)
	var out []string
	for k, v := range m {
		if s, ok := v.(string); ok {
			out = append(out, k+"="+s)
		}
	}
	sort.Strings(out)
	return out
}
