package buildspec

import (
	"fmt"
	"strconv"
	"strings"
)

// hostOnly are host variables that describe the developer's shell rather than the machine:
// files a shell sources or options it turns on at startup, and the directory stepline was
// started from. A CodeBuild container has none of them, so they are not passed on unless the
// buildspec or Options.Env sets them.
var hostOnly = map[string]bool{"BASH_ENV": true, "ENV": true, "SHELLOPTS": true, "BASHOPTS": true, "OLDPWD": true}

// envList is an ordered environment in which a later Set replaces an earlier value in place.
type envList struct {
	order []string
	vals  map[string]string
}

func (e *envList) Set(k, v string) {
	if e.vals == nil {
		e.vals = map[string]string{}
	}
	if _, ok := e.vals[k]; !ok {
		e.order = append(e.order, k)
	}
	e.vals[k] = v
}

func (e *envList) Environ() []string {
	out := make([]string, 0, len(e.order))
	for _, k := range e.order {
		out = append(out, k+"="+e.vals[k])
	}
	return out
}

// buildEnv assembles the environment of the build's shell. Precedence follows CodeBuild's
// documented order, lowest first: the image's environment (here the host's), the buildspec's
// env.variables, then start-build overrides (Options.Env). The CODEBUILD_ variables come last:
// CodeBuild reserves the prefix and sets them itself.
func buildEnv(host []string, spec *Spec, overrides []string, builtins [][2]string) ([]string, error) {
	var env envList
	for _, kv := range host {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" || hostOnly[k] {
			continue
		}
		env.Set(k, v)
	}
	for _, v := range spec.Env.Variables {
		env.Set(v.Name, v.Value)
	}
	for _, kv := range overrides {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("environment override %q is not NAME=value", kv)
		}
		env.Set(k, v)
	}
	for _, kv := range builtins {
		env.Set(kv[0], kv[1])
	}
	return env.Environ(), nil
}

// builtinEnv lists the CODEBUILD_ variables a local build provides, with values that say they
// come from a local build where CodeBuild's would name an AWS resource.
func builtinEnv(b *build) [][2]string {
	return [][2]string{
		{"CODEBUILD_BUILD_ID", b.id},
		{"CODEBUILD_BUILD_ARN", "arn:aws:codebuild:local:000000000000:build/" + b.id},
		{"CODEBUILD_BUILD_NUMBER", strconv.Itoa(b.number)},
		{"CODEBUILD_BUILD_IMAGE", "local"},
		{"CODEBUILD_BUILD_SUCCEEDING", "1"},
		{"CODEBUILD_INITIATOR", b.initiator},
		{"CODEBUILD_LOCAL_BUILD", "1"},
		{"CODEBUILD_RESOLVED_SOURCE_VERSION", b.sourceVersion},
		{"CODEBUILD_SOURCE_VERSION", b.sourceVersion},
		{"CODEBUILD_SRC_DIR", b.srcDir},
		{"CODEBUILD_START_TIME", strconv.FormatInt(b.start.UnixMilli(), 10)},
		// The shell starts in CODEBUILD_SRC_DIR; PWD must agree or `cd -` and $PWD mislead.
		{"PWD", b.srcDir},
	}
}
