package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/stepline/stepline/pkg/buildspec"
	"github.com/stepline/stepline/pkg/engine"
)

// Build runs "codebuild" actions with the local buildspec runner, the way CodePipeline hands an
// action's artifacts to CodeBuild: the first input artifact is the primary source
// (CODEBUILD_SRC_DIR), the others are secondary sources (CODEBUILD_SRC_DIR_<name>); the first
// output artifact is the buildspec's primary artifact, the others its secondary artifacts of
// the same identifier; env.exported-variables become the action's variables.
type Build struct {
	// Env holds extra KEY=VALUE pairs for every build of the run (stepline run --env); an
	// action's own env wins over them.
	Env []string
	// Secrets holds KEY=VALUE pairs for every build whose values the logs hide (stepline run
	// --secret-env); they win over Env and the action's env.
	Secrets []string
	// SecretSource fetches the buildspecs' parameter-store and secrets-manager variables;
	// nil fetches nothing.
	SecretSource buildspec.SecretSource
}

// Execute runs the attempt's build.
func (b Build) Execute(ctx context.Context, t engine.Task, env Env) Outcome {
	if len(t.Inputs) == 0 {
		return failf(errors.New("a codebuild action needs at least one input artifact, its source"))
	}
	src := filepath.Join(env.Work, "src")
	if err := env.Artifacts.Extract(ctx, t.Inputs[0].Location, src); err != nil {
		return Outcome{Err: fmt.Errorf("unpack %s: %w", t.Inputs[0].Name, err)}
	}
	vars := append(append([]string(nil), b.Env...), configEnv(t)...)
	for _, in := range t.Inputs[1:] {
		dir := filepath.Join(env.Work, "src-"+safe(in.Name))
		if err := env.Artifacts.Extract(ctx, in.Location, dir); err != nil {
			return Outcome{Err: fmt.Errorf("unpack %s: %w", in.Name, err)}
		}
		vars = append(vars, "CODEBUILD_SRC_DIR_"+in.Name+"="+dir)
	}
	spec, err := loadBuildspec(src, configString(t, "buildspec"))
	if err != nil {
		fmt.Fprintln(env.Log, err)
		return failf(err)
	}
	secrets, source := b.Secrets, b.SecretSource
	if env.Untrusted {
		// An untrusted build runs code nobody vetted: it gets no secret, neither the run's
		// nor the buildspec's parameter-store and secrets-manager values (docs/trust.md).
		secrets, source = nil, nil
		if len(b.Secrets) > 0 || b.SecretSource != nil {
			fmt.Fprintln(env.Log, "[stepline] this run is untrusted: its build gets no secrets")
		}
	}
	res, err := buildspec.Run(ctx, spec, buildspec.Options{
		SrcDir: src, OutDir: filepath.Join(env.Work, "out"), Env: vars, Log: env.Log,
		Secrets: secrets, SecretSource: source,
		BuildID:       fmt.Sprintf("%s:%s-%d", t.Action, t.Run, t.Attempt),
		BuildNumber:   t.Attempt,
		SourceVersion: env.Vars["source"]["commit_id"],
		Started:       env.Started,
	})
	if err != nil {
		return Outcome{Err: fmt.Errorf("run the build: %w", err)}
	}
	if res.Status != buildspec.StatusSucceeded {
		return Outcome{Err: buildFailure(res)}
	}
	outputs, err := b.store(ctx, t, env, spec, res)
	if err != nil {
		return Outcome{Err: err, Final: true}
	}
	return Outcome{Outputs: outputs, Variables: res.Exported}
}

// loadBuildspec reads the buildspec named by the action (a path in the source, default
// buildspec.yml), or takes the setting itself as the buildspec when it spans several lines,
// as a CodeBuild project's inline buildspec does.
func loadBuildspec(src, setting string) (*buildspec.Spec, error) {
	name, data := setting, []byte(setting)
	if !strings.Contains(setting, "\n") {
		if name == "" {
			name = "buildspec.yml"
		}
		path := filepath.Join(src, filepath.FromSlash(name))
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return nil, fmt.Errorf("read buildspec %s: %w", name, err)
		}
	} else {
		name = "inline buildspec"
	}
	spec, _, err := buildspec.Parse(name, data)
	if err != nil {
		return nil, fmt.Errorf("buildspec %s:\n%w", name, err)
	}
	return spec, nil
}

// buildFailure names the phase that failed and CodeBuild's reason for it.
func buildFailure(res *buildspec.Result) error {
	for _, p := range res.Phases {
		if p.Status == buildspec.StatusFailed || p.Status == buildspec.StatusStopped {
			if p.Message != "" {
				return fmt.Errorf("build %s in phase %s: %s", strings.ToLower(string(res.Status)), p.Name, p.Message)
			}
			return fmt.Errorf("build %s in phase %s", strings.ToLower(string(res.Status)), p.Name)
		}
	}
	return fmt.Errorf("build %s", strings.ToLower(string(res.Status)))
}

// store saves the build's artifacts under the action's output names.
func (b Build) store(ctx context.Context, t engine.Task, env Env, spec *buildspec.Spec, res *buildspec.Result) (map[string]string, error) {
	if len(t.Outputs) == 0 {
		return nil, nil
	}
	secondary := map[string]bool{}
	if spec.Artifacts != nil {
		for _, s := range spec.Artifacts.Secondary {
			secondary[s.Identifier] = true
		}
	}
	outputs := map[string]string{}
	for k, name := range t.Outputs {
		var found *buildspec.ArtifactResult
		for i := range res.Artifacts {
			a := &res.Artifacts[i]
			if (k == 0 && !secondary[a.Name]) || (k > 0 && secondary[a.Name] && a.Name == name) {
				found = a
				break
			}
		}
		if found == nil {
			if k == 0 {
				return nil, fmt.Errorf("output artifact %q: the buildspec has no artifacts section with files", name)
			}
			return nil, fmt.Errorf("output artifact %q: the buildspec has no secondary artifact with that identifier", name)
		}
		loc, err := env.Artifacts.PutDir(ctx, t.Run, name, found.Dir)
		if err != nil {
			return nil, fmt.Errorf("store artifact %s: %w", name, err)
		}
		outputs[name] = loc
	}
	return outputs, nil
}
