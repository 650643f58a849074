package buildspec

import (
	"fmt"
	"strconv"
	"strings"
)

// hostAllowed are the host variables a local build inherits: what a CodeBuild image's
// environment holds too (where programs are, whose home, the locale, the time zone, the temporary
// directory, the certificate authorities). Everything else in stepline's own environment stays out: it may hold the webhook
// secret of `stepline serve`, AWS credentials or tokens, and a build runs whatever the commit
// under test says. A build that needs more gets it on purpose, through the buildspec's env or
// Options.Env (`--env NAME` passes one host variable on).
var hostAllowed = map[string]bool{
	"PATH": true, "HOME": true, "USER": true, "LOGNAME": true, "HOSTNAME": true,
	"LANG": true, "LANGUAGE": true, "TZ": true, "TMPDIR": true,
	// Where TLS clients find the machine's certificate authorities (a company's own among them).
	"SSL_CERT_FILE": true, "SSL_CERT_DIR": true,
}

// HostEnv returns the entries of environ (os.Environ's form) that a build or a deploy's health
// check inherits: the variables of hostAllowed and the locale's LC_*.
func HostEnv(environ []string) []string {
	var out []string
	for _, kv := range environ {
		k, _, ok := strings.Cut(kv, "=")
		if ok && (hostAllowed[k] || strings.HasPrefix(k, "LC_")) {
			out = append(out, kv)
		}
	}
	return out
}

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
// documented order, lowest first: the image's environment (here HostEnv of the host's), the
// buildspec's env.variables and the values fetched for its parameter-store and secrets-manager
// variables, then start-build overrides (Options.Env, then Options.Secrets). The CODEBUILD_
// variables come last: CodeBuild reserves the prefix and sets them itself.
func buildEnv(host []string, spec *Spec, fetched [][2]string, overrides []string, builtins [][2]string) ([]string, error) {
	var env envList
	for _, kv := range HostEnv(host) {
		k, v, _ := strings.Cut(kv, "=")
		env.Set(k, v)
	}
	for _, v := range spec.Env.Variables {
		env.Set(v.Name, v.Value)
	}
	for _, kv := range fetched {
		env.Set(kv[0], kv[1])
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
