package buildspec

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// A build sees an environment built on purpose: the documented host variables, the buildspec's
// env, the overrides and CodeBuild's own, never whatever else the process running stepline
// holds (`stepline serve`'s webhook secret, credentials).
func TestABuildSeesOnlyTheDocumentedEnvironment(t *testing.T) {
	t.Setenv("STEPLINE_WEBHOOK_SECRET", "hook-secret-value")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "host-credential")
	t.Setenv("LC_TIME", "C")
	t.Setenv("TZ", "UTC")
	t.Setenv("BASH_ENV", "/nonexistent/profile")
	b := runYAML(t, `version: 0.2
env:
  variables:
    FROM_SPEC: spec
phases:
  build:
    commands:
      - env
`, nil, func(o *Options) { o.Env = []string{"FROM_OVERRIDE=override"} })

	names := map[string]string{}
	for _, line := range strings.Split(b.log, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.Contains(k, " ") && k != "" {
			names[k] = v
		}
	}
	// The shell's own variables, which bash sets whatever it is given.
	shell := map[string]bool{"PWD": true, "SHLVL": true, "_": true, "OLDPWD": true}
	for k := range names {
		documented := hostAllowed[k] || strings.HasPrefix(k, "LC_") || strings.HasPrefix(k, "CODEBUILD_") ||
			shell[k] || k == "FROM_SPEC" || k == "FROM_OVERRIDE"
		assert.True(t, documented, "the build sees %s, which is not documented", k)
	}
	assert.NotContains(t, b.log, "hook-secret-value")
	assert.NotContains(t, b.log, "host-credential")
	assert.NotContains(t, names, "BASH_ENV")
	assert.Equal(t, os.Getenv("PATH"), names["PATH"])
	assert.Equal(t, os.Getenv("HOME"), names["HOME"])
	assert.Equal(t, "C", names["LC_TIME"])
	assert.Equal(t, "UTC", names["TZ"])
	assert.Equal(t, "spec", names["FROM_SPEC"])
	assert.Equal(t, "override", names["FROM_OVERRIDE"])
	assert.Equal(t, b.src, names["CODEBUILD_SRC_DIR"])
}
