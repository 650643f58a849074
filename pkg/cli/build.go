package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stepline/stepline/pkg/buildspec"
)

type buildOptions struct {
	src, spec, out string
	env            []string
	secrets        buildSecrets
	json           bool
}

func newBuild(g *globals) *cobra.Command {
	var o buildOptions
	cmd := &cobra.Command{
		Use:   "build --src DIR [--buildspec FILE] [--out DIR] [--env K=V]... [--json]",
		Short: "Run one CodeBuild buildspec on this machine",
		Long: "Run one buildspec (version 0.2) like CodeBuild's local agent: one shell session for all\n" +
			"phases, CodeBuild's phase transitions, CODEBUILD_* variables, artifacts and reports.\n" +
			"A relative --buildspec is looked up in the working directory, then in --src.\n" +
			"Exit status: 0 the build succeeded, 1 it failed or was stopped, 2 it could not start.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			spec, err := o.load()
			if err != nil {
				return err
			}
			logTo := g.stdio.Out
			if o.json {
				logTo = g.stdio.Err
			}
			for _, w := range spec.warnings {
				fmt.Fprintln(g.stdio.Err, "warning:", w)
			}
			secretEnv, source, err := o.secrets.resolve(cmd.Context())
			if err != nil {
				return err
			}
			res, err := buildspec.Run(cmd.Context(), spec.spec, buildspec.Options{SrcDir: o.src, OutDir: o.out, Env: spec.env, Log: logTo,
				Secrets: secretEnv, SecretSource: source})
			if res == nil {
				return exit(ExitUsage, err)
			}
			if o.json {
				enc := json.NewEncoder(g.stdio.Out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(res); err != nil {
					return exit(ExitUsage, err)
				}
			} else {
				summary(g.stdio.Out, res)
			}
			if err != nil {
				return exit(ExitFailed, err)
			}
			if res.Status != buildspec.StatusSucceeded {
				return exit(ExitFailed, nil)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.src, "src", "", "the source directory (CODEBUILD_SRC_DIR)")
	f.StringVar(&o.spec, "buildspec", "buildspec.yml", "the buildspec file")
	f.StringVar(&o.out, "out", "", "where artifacts and reports are written (default: not copied)")
	f.StringArrayVar(&o.env, "env", nil, "an environment variable override K=V, or NAME to pass this shell's NAME on (repeatable; builds see only a few host variables)")
	o.secrets.addFlags(f)
	f.BoolVar(&o.json, "json", false, "print the result as JSON (the build log goes to standard error)")
	_ = cmd.MarkFlagRequired("src")
	return cmd
}

type loadedSpec struct {
	spec     *buildspec.Spec
	warnings []buildspec.Warning
	env      []string
}

func (o buildOptions) load() (loadedSpec, error) {
	env, err := resolveEnv(o.env)
	if err != nil {
		return loadedSpec{}, err
	}
	if fi, err := os.Stat(o.src); err != nil || !fi.IsDir() {
		return loadedSpec{}, exit(ExitUsage, fmt.Errorf("--src %s is not a directory", o.src))
	}
	path := o.spec
	if !filepath.IsAbs(path) {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			path = filepath.Join(o.src, path)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return loadedSpec{}, exit(ExitUsage, fmt.Errorf("read buildspec: %w", err))
	}
	spec, warnings, err := buildspec.Parse(path, data)
	if err != nil {
		return loadedSpec{}, exit(ExitUsage, err)
	}
	return loadedSpec{spec: spec, warnings: warnings, env: env}, nil
}

// resolveEnv turns --env values into KEY=VALUE pairs: a bare NAME passes this process's value
// of NAME on, since builds see only a few host variables (docs/buildspec.md) and a value given
// on the command line is visible in ps.
func resolveEnv(env []string) ([]string, error) {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		k, _, ok := strings.Cut(kv, "=")
		switch {
		case k == "":
			return nil, exit(ExitUsage, fmt.Errorf("--env %q: want KEY=VALUE or NAME", kv))
		case ok:
			out = append(out, kv)
		default:
			v, set := os.LookupEnv(k)
			if !set {
				return nil, exit(ExitUsage, fmt.Errorf("--env %s: %s is not set in this environment", k, k))
			}
			out = append(out, k+"="+v)
		}
	}
	return out, nil
}

func summary(w io.Writer, res *buildspec.Result) {
	fmt.Fprintf(w, "\nbuild %s: %s in %.1fs\n", res.BuildID, res.Status, float64(res.DurationMS)/1000)
	for _, p := range res.Phases {
		line := fmt.Sprintf("  %-17s %-9s %6.1fs", p.Name, p.Status, float64(p.DurationMS)/1000)
		if p.Message != "" {
			line += "  " + p.Message
		}
		fmt.Fprintln(w, line)
	}
	for _, k := range slices.Sorted(maps.Keys(res.Exported)) {
		fmt.Fprintf(w, "  exported %s=%s\n", k, res.Exported[k])
	}
	for _, a := range res.Artifacts {
		fmt.Fprintf(w, "  artifact %s: %d file%s %s\n", a.Name, len(a.Files), plural(len(a.Files)), a.Dir)
	}
}
