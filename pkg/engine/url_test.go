package engine

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The environment's address names an action's output, so it is known only once that action
// has run; it survives the state's JSON round trip as written.
func TestTheEnvironmentURLResolvesOnceTheActionsItNamesHaveRun(t *testing.T) {
	t.Parallel()
	r := newRun(t, buildDeploy(ModeParallel), RunInfo{URL: "https://#{build.VERSION}.#{source.branch}.preview.example.com",
		Variables: map[string]map[string]string{"source": {"branch": "pr-7"}}})
	r.advance()
	_, ok := r.st.EnvironmentURL()
	assert.False(t, ok, "build.VERSION is not known before Compile has run")

	r.succeed("Source", "Source")
	r.succeed("Build", "Test")
	r.succeed("Build", "Compile", "VERSION", "v12")
	r.succeed("Build", "Package")
	r.succeed("Deploy", "Release")
	require.Equal(t, Succeeded, r.st.Status)
	data, err := r.st.Marshal()
	require.NoError(t, err)
	st, err := Unmarshal(data)
	require.NoError(t, err)
	u, ok := st.EnvironmentURL()
	assert.True(t, ok)
	assert.Equal(t, "https://v12.pr-7.preview.example.com", u)

	_, ok = New(buildDeploy(ModeParallel), RunInfo{}).EnvironmentURL()
	assert.False(t, ok, "a run without an environment url has none")
}

// An action that reads #{env.*} in a run without an environment (a fork's pull request)
// fails before it starts, saying why the environment is missing.
func TestAnActionReadingTheEnvironmentOfARunWithoutOneFailsNamingWhy(t *testing.T) {
	t.Parallel()
	def := sourced(ModeParallel, Stage{Name: "Preview", Actions: []Action{
		act("Stack", "cloudformation", cfg("stack", "preview-#{env.name}")),
	}})
	r := newRun(t, def, RunInfo{Variables: map[string]map[string]string{"source": {"branch": "main", "fork": "true"}}})
	r.advance()
	d := r.succeed("Source", "Source")
	assert.Empty(t, d.Start, "the deploy never starts")
	assert.Equal(t, Failed, r.st.Status)
	assert.Contains(t, r.st.Stages[1].Actions[0].Message, "unresolved variable #{env.name}: the run has no environment")
}
