package local

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/stepline/stepline/pkg/deploy"
	"github.com/stepline/stepline/pkg/engine"
)

// AWSDeploy runs the AWS deploy providers (ecs, codedeploy, cloudformation, s3) from this
// machine against the user's own account (`stepline run --aws-deploy`), through the very
// provider code the state machine uses. No EventBridge event can reach a laptop, so after
// Start it asks the provider's Poll (the describe APIs) every Every until the deploy ends,
// the action's timeout passes, or the run is canceled.
type AWSDeploy struct {
	// Providers serve the actions by provider name.
	Providers map[string]deploy.Provider
	// Every is the polling interval.
	Every time.Duration
	// Now is the clock of the progress lines (time.Now when nil).
	Now func() time.Time
}

// Fetcher copies an artifact that is not on this machine (an S3 location, with --aws) into
// a local zip file; an artifact store that keeps artifacts remotely implements it.
type Fetcher interface {
	Fetch(ctx context.Context, location, path string) error
}

// outputReader is what a provider offers when a deploy that ended within Start (an empty
// change set) still has outputs to export: the cloudformation provider's stack outputs.
type outputReader interface {
	Outputs(ctx context.Context, stackID string) (map[string]string, error)
}

// pollErrors is how many polls in a row may fail (throttling, a network blip) before the
// action fails: the deploy itself goes on in AWS either way.
const pollErrors = 3

// timeoutMargin is how long before the action's timeout the executor stops waiting, so its
// own message, which names what it waited for, ends the attempt rather than the engine's
// bare "timed out".
func timeoutMargin(timeout time.Duration) time.Duration {
	return min(timeout/10, 2*time.Second)
}

// Execute starts the deploy and waits for it.
func (d AWSDeploy) Execute(ctx context.Context, t engine.Task, env Env) Outcome {
	p := d.Providers[t.Provider]
	if p == nil {
		return failf(fmt.Errorf("provider %s has no AWS deploy here", t.Provider))
	}
	now := d.Now
	if now == nil {
		now = time.Now
	}
	if t.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, t.Timeout-timeoutMargin(t.Timeout), errTimeout)
		defer cancel()
	}
	inputs, closeAll, err := d.open(ctx, t, env)
	defer closeAll()
	if err != nil {
		return Outcome{Err: err}
	}
	req := deploy.Request{Run: t.Run, Stage: t.Stage, Action: t.Action, Config: t.Config, Inputs: inputs, Previous: t.Rollback}
	start := now()
	w, err := p.Start(ctx, req)
	if err != nil {
		return Outcome{Err: stopped(ctx, t, "starting the "+t.Provider+" deploy", err)}
	}
	if w.Done {
		fmt.Fprintf(env.Log, "[stepline] %s\n", w.Outcome.Message)
		return d.finish(ctx, p, w, w.Outcome)
	}
	fmt.Fprintf(env.Log, "[stepline] waiting for %s (polling every %s)\n", w.What, d.Every)
	tick := time.NewTicker(d.Every)
	defer tick.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return Outcome{Err: stopped(ctx, t, w.What, ctx.Err())}
		case <-tick.C:
		}
		out, err := p.Poll(ctx, w)
		switch {
		case ctx.Err() != nil:
			return Outcome{Err: stopped(ctx, t, w.What, err)}
		case err != nil:
			failures++
			fmt.Fprintf(env.Log, "[stepline] could not ask how the deploy stands (%d of %d): %v\n", failures, pollErrors, err)
			if failures >= pollErrors {
				return Outcome{Err: fmt.Errorf("waiting for %s: %w", w.What, err)}
			}
			continue
		}
		failures = 0
		if !out.Done {
			fmt.Fprintf(env.Log, "[stepline] waiting for %s … (%s)\n", w.What, now().Sub(start).Round(time.Second))
			continue
		}
		fmt.Fprintf(env.Log, "[stepline] %s\n", out.Message)
		return d.finish(ctx, p, w, out)
	}
}

// errTimeout is the cause of the action's own deadline, telling it from a cancellation.
var errTimeout = errors.New("the action's timeout passed")

// stopped explains why waiting for what ended: the action's timeout (naming what it waited
// for; the deploy goes on in AWS), a cancellation, or err.
func stopped(ctx context.Context, t engine.Task, what string, err error) error {
	switch {
	case errors.Is(context.Cause(ctx), errTimeout):
		return fmt.Errorf("timed out after %s waiting for %s", t.Timeout, what)
	case ctx.Err() != nil:
		return fmt.Errorf("canceled while waiting for %s; whatever AWS had started goes on", what)
	}
	return err
}

// finish turns a provider's final outcome into the attempt's: a stack's outputs become the
// action's variables, as CodePipeline's CloudFormation action exports them.
func (d AWSDeploy) finish(ctx context.Context, p deploy.Provider, w deploy.Wait, out deploy.Outcome) Outcome {
	if !out.Succeeded {
		msg := out.Message
		// ECS and CodeDeploy say so in their messages; a stack's names the resource that
		// failed, not the rollback that followed.
		if out.RolledBack && !strings.Contains(strings.ToLower(msg), "roll") {
			msg += " (" + w.Provider + " rolled it back)"
		}
		return Outcome{Err: errors.New(msg)}
	}
	vars := out.Outputs
	// The stack is the wait's Resource: its Key also carries the deploy's request token, so
	// that a late event of an earlier deploy finishes nothing (pkg/deploy/cloudformation).
	if r, ok := p.(outputReader); ok && vars == nil && w.Resource != "" {
		var err error
		if vars, err = r.Outputs(ctx, w.Resource); err != nil {
			return Outcome{Err: fmt.Errorf("read the outputs of %s: %w", w.Resource, err)}
		}
	}
	return Outcome{Message: out.Message, Variables: vars}
}

// open opens every input artifact as a zip on disk; one kept in S3 (--aws) is fetched into the
// attempt's scratch directory first. The returned function closes them all.
func (d AWSDeploy) open(ctx context.Context, t engine.Task, env Env) (map[string]deploy.Artifact, func(), error) {
	inputs := map[string]deploy.Artifact{}
	var files []*deploy.ZipFile
	closeAll := func() {
		for _, f := range files {
			f.Close()
		}
	}
	for _, in := range t.Inputs {
		path, loc := in.Location, deploy.Location{}
		if strings.Contains(in.Location, "://") {
			bucket, key, ok := strings.Cut(strings.TrimPrefix(in.Location, "s3://"), "/")
			f, fetches := env.Artifacts.(Fetcher)
			if !strings.HasPrefix(in.Location, "s3://") || !ok || !fetches {
				return nil, closeAll, fmt.Errorf("input artifact %s at %s cannot be read here", in.Name, in.Location)
			}
			path, loc = filepath.Join(env.Work, "inputs", in.Name+".zip"), deploy.Location{Bucket: bucket, Key: key}
			if err := f.Fetch(ctx, in.Location, path); err != nil {
				return nil, closeAll, fmt.Errorf("fetch input artifact %s: %w", in.Name, err)
			}
		}
		z, err := deploy.OpenZip(path, loc)
		if err != nil {
			return nil, closeAll, fmt.Errorf("input artifact %s: %w", in.Name, err)
		}
		files = append(files, z)
		inputs[in.Name] = z
	}
	return inputs, closeAll, nil
}
