package pipeline

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/engine"
)

func mustParse(t *testing.T, src string) *File {
	t.Helper()
	f, err := Parse("test.yml", []byte(yml(src)))
	require.NoError(t, err)
	return f
}

const twoPipelines = `
	version: 1
	pipelines:
	  - {name: api, stages: [{name: S, actions: [{name: A, provider: codebuild}]}]}
	  - {name: web, stages: [{name: S, actions: [{name: A, provider: codebuild}]}]}
`

func TestPipelineSelection(t *testing.T) {
	t.Parallel()
	one := mustParse(t, `
		version: 1
		pipelines: [{name: api, stages: [{name: S, actions: [{name: A, provider: codebuild}]}]}]
	`)
	two := mustParse(t, twoPipelines)
	cases := []struct {
		name    string
		file    *File
		ask     string
		want    string
		wantErr error
		msg     string
	}{
		{name: "no name selects the only pipeline", file: one, want: "api"},
		{name: "a name selects that pipeline", file: two, ask: "web", want: "web"},
		{name: "no name with several pipelines lists them", file: two, wantErr: ErrPipelineAmbiguous, msg: "api, web"},
		{name: "an unknown name lists the known ones", file: two, ask: "cli", wantErr: ErrNoPipeline, msg: `"cli"; the file declares: api, web`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p, err := c.file.Pipeline(c.ask)
			if c.wantErr != nil {
				require.ErrorIs(t, err, c.wantErr)
				assert.Contains(t, err.Error(), c.msg)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.want, p.Name.Value)
		})
	}
}

func TestDefinitionPrependsTheSourceStage(t *testing.T) {
	t.Parallel()
	f := mustParse(t, `
		version: 1
		pipelines: [{name: api, stages: [{name: Build, actions: [{name: A, provider: codebuild, inputs: [source]}]}]}]
	`)
	def := f.Pipelines[0].Definition()
	require.Len(t, def.Stages, 2)
	assert.Equal(t, engine.Stage{Name: "Source", Actions: []engine.Action{{
		Name: "Source", Provider: "source", Outputs: []string{"source"}, Namespace: "source",
	}}}, def.Stages[0])
	assert.Equal(t, engine.ModeSuperseded, def.Mode, "superseded is the default mode")
	assert.Equal(t, "Build", def.Stages[1].Name)
}

func TestDefinitionFillsDefaultsAndImplicitInputs(t *testing.T) {
	t.Parallel()
	f := mustParse(t, `
		version: 1
		pipelines:
		  - name: api
		    stages:
		      - name: Build
		        actions:
		          - {name: B, provider: codebuild, outputs: [bin], env: {A: "#{source.branch}"}}
		      - name: Deploy
		        on_failure: retry
		        actions:
		          - {name: Svc, provider: ecs, cluster: c, service: s, image_definitions: "bin::i.json", inputs: [source]}
		          - {name: Ok, provider: approval, run_order: 2}
		          - {name: Local, provider: local, path: /srv, run_order: 3, health_timeout: 90s, retry: {max_attempts: 2}}
	`)
	def := f.Pipelines[0].Definition()
	build := def.Stages[1].Actions[0]
	assert.Equal(t, map[string]any{"buildspec": "buildspec.yml", "env": map[string]any{"A": "#{source.branch}"}}, build.Config,
		"the buildspec default is filled and variables stay unresolved")
	assert.Equal(t, 1, build.RunOrder)

	deploy := def.Stages[2]
	assert.Equal(t, engine.FailurePolicy{Result: engine.Retry}, deploy.OnFailure)
	svc := deploy.Actions[0]
	assert.Equal(t, []string{"source", "bin"}, svc.Inputs, "the artifact of image_definitions is an implicit input")
	assert.Equal(t, "rolling", svc.Config["strategy"])
	ok := deploy.Actions[1]
	assert.Equal(t, 7*24*time.Hour, ok.Timeout, "an approval waits seven days unless told otherwise")
	assert.Nil(t, ok.Config)
	local := deploy.Actions[2]
	assert.Equal(t, 5, local.Config["keep"])
	assert.Equal(t, "1m30s", local.Config["health_timeout"], "durations in Config use Go syntax")
	assert.Equal(t, engine.RetryPolicy{MaxAttempts: 2}, local.Retry)
}

func TestDefinitionDoesNotShareMapsWithTheModel(t *testing.T) {
	t.Parallel()
	f := mustParse(t, `
		version: 1
		pipelines:
		  - name: api
		    stages: [{name: S, actions: [{name: A, provider: cloudformation, stack: s, action: delete, parameters: {P: v}, capabilities: [CAPABILITY_IAM]}]}]
	`)
	p := f.Pipelines[0]
	def := p.Definition()
	def.Stages[1].Actions[0].Config["parameters"].(map[string]any)["P"] = "changed"
	def.Stages[1].Actions[0].Config["capabilities"].([]any)[0] = "changed"
	again := p.Definition()
	assert.Equal(t, map[string]any{"P": "v"}, again.Stages[1].Actions[0].Config["parameters"])
	assert.Equal(t, []any{"CAPABILITY_IAM"}, again.Stages[1].Actions[0].Config["capabilities"])
}

func TestModelKeepsPositions(t *testing.T) {
	t.Parallel()
	f := mustParse(t, `
		version: 1
		pipelines:
		  - name: api
		    triggers:
		      - on: push
		        branches: {include: [main], exclude: ["old/**"]}
		    stages:
		      - name: S
		        actions:
		          - {name: A, provider: codebuild}
	`)
	p := f.Pipelines[0]
	assert.Equal(t, Pos{Line: 3, Col: 11}, p.Name.Pos)
	tr := p.Triggers[0]
	assert.Equal(t, Pos{Line: 5, Col: 9}, tr.Pos)
	assert.Equal(t, Pos{Line: 6, Col: 19}, tr.Branches.Pos)
	assert.Equal(t, String{Value: "main", Pos: Pos{Line: 6, Col: 30}}, tr.Branches.Include[0])
	assert.Equal(t, String{Value: "old/**", Pos: Pos{Line: 6, Col: 47}}, tr.Branches.Exclude[0])
	a := p.Stages[0].Actions[0]
	assert.Equal(t, "S/A", a.ID())
	assert.Same(t, p.Stages[0], a.Stage())
	assert.True(t, a.RunOrder.Pos.IsZero(), "a default has no position")
	s, ok := a.Setting("buildspec")
	require.True(t, ok)
	assert.Equal(t, "buildspec.yml", s.Value)
	assert.True(t, s.Pos.IsZero())
}

func TestPullRequestTriggersDefaultToOpenedAndUpdated(t *testing.T) {
	t.Parallel()
	f := mustParse(t, `
		version: 1
		pipelines:
		  - name: api
		    triggers: [{on: pull_request}, {on: pull_request, events: [merged]}]
		    stages: [{name: S, actions: [{name: A, provider: codebuild}]}]
	`)
	tr := f.Pipelines[0].Triggers
	assert.Equal(t, []String{{Value: "opened"}, {Value: "updated"}}, tr[0].Events)
	assert.Equal(t, "merged", tr[1].Events[0].Value)
}

func TestMergeKeysLetExplicitKeysWin(t *testing.T) {
	t.Parallel()
	f := mustParse(t, `
		version: 1
		x-base: &base {provider: codebuild, buildspec: base.yml, timeout: 5m}
		pipelines:
		  - name: api
		    stages: [{name: S, actions: [{<<: *base, name: A, buildspec: own.yml}]}]
	`)
	a := f.Pipelines[0].Stages[0].Actions[0]
	s, _ := a.Setting("buildspec")
	assert.Equal(t, "own.yml", s.Value)
	assert.Equal(t, 5*time.Minute, a.Timeout.Value)
	assert.Equal(t, "codebuild", a.Provider.Value)
}

func TestEnvironmentSelection(t *testing.T) {
	t.Parallel()
	f := mustParse(t, `
		version: 1
		pipelines:
		  - name: api
		    environments:
		      - {branches: [main], name: prod}
		      - {branches: ["release/**"], name: staging}
		    stages: [{name: S, actions: [{name: A, provider: codebuild}]}]
	`)
	p := f.Pipelines[0]
	cases := []struct {
		branch, want string
	}{{"main", "prod"}, {"release/1.2", "staging"}, {"feature/x", ""}}
	for _, c := range cases {
		e := p.Environment(c.branch)
		if c.want == "" {
			assert.Nil(t, e, c.branch)
			continue
		}
		require.NotNil(t, e, c.branch)
		assert.Equal(t, c.want, e.Name.Value)
	}
}

func TestRunVariablesResolveInRunOrder(t *testing.T) {
	t.Parallel()
	f := mustParse(t, `
		version: 1
		pipelines:
		  - name: api
		    variables: {TAG: "#{source.short_commit_id}-#{pipeline.run_number}", REGION: eu-west-1}
		    environments:
		      - {branches: [main], name: prod, variables: {URL: "https://#{variables.REGION}.example.com"}}
		      - {branches: ["**"], name: "br-#{source.branch_slug}"}
		    stages: [{name: S, actions: [{name: A, provider: codebuild}]}]
	`)
	p := f.Pipelines[0]
	vars, err := p.RunVariables(map[string]string{"branch": "main", "short_commit_id": "abc1234"}, "run-1", 7)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"TAG": "abc1234-7", "REGION": "eu-west-1"}, vars["variables"])
	assert.Equal(t, map[string]string{"name": "prod", "URL": "https://eu-west-1.example.com"}, vars["env"])
	assert.Equal(t, map[string]string{"name": "api", "execution_id": "run-1", "run_number": "7"}, vars["pipeline"])

	vars, err = p.RunVariables(map[string]string{"branch": "feat/x", "branch_slug": "feat-x", "short_commit_id": "1"}, "run-2", 8)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"name": "br-feat-x"}, vars["env"])

	_, err = p.RunVariables(map[string]string{"branch": "main"}, "run-3", 9)
	assert.ErrorContains(t, err, "unresolved variable #{source.short_commit_id}", "a missing source value is an error, not empty text")
}

// The run's url is its environment's, as written (resolved only once the run has succeeded);
// a fork's pull request, which gets no environment, gets no url either.
func TestRunURLIsTheEnvironmentsAsWritten(t *testing.T) {
	t.Parallel()
	f := mustParse(t, `
		version: 1
		pipelines:
		  - name: preview
		    environments:
		      - {branches: [main], name: prod}
		      - {branches: ["**"], name: "pr-#{source.pr_number}", url: "#{stack.URL}/?pr=#{source.pr_number}"}
		    stages: [{name: S, actions: [{name: A, provider: cloudformation, stack: "p-#{env.name}", template: "source::t.yml", namespace: stack}]}]
	`)
	p := f.Pipelines[0]
	assert.Equal(t, "#{stack.URL}/?pr=#{source.pr_number}", p.RunURL(map[string]string{"branch": "feat/x", "pr_number": "7", "fork": "false"}))
	assert.Empty(t, p.RunURL(map[string]string{"branch": "feat/x", "pr_number": "7", "fork": "true"}), "a fork gets no environment")
	assert.Empty(t, p.RunURL(map[string]string{"branch": "main"}), "prod has no url")
}

func TestNamespacesListWhatActionsCanRead(t *testing.T) {
	t.Parallel()
	f := mustParse(t, `
		version: 1
		pipelines:
		  - name: api
		    variables: {A: a}
		    stages: [{name: S, actions: [{name: B, provider: codebuild, namespace: build}]}]
	`)
	ns := f.Pipelines[0].Namespaces()
	var names []string
	for _, n := range ns {
		names = append(names, n.Name)
	}
	assert.Equal(t, []string{"source", "pipeline", "variables", "build"}, names, "env is absent without environments")
	assert.Equal(t, []string{"A"}, ns[2].Names)
	assert.Equal(t, "S/B", ns[3].Action)
	assert.Nil(t, ns[3].Names, "an action namespace is open")
}

func TestProblemsPrintOnePerLineInFileOrder(t *testing.T) {
	t.Parallel()
	_, err := Parse("p.yml", []byte("pipelines: []\nversion: 3\n"))
	var probs Problems
	require.True(t, errors.As(err, &probs))
	assert.Equal(t, "p.yml:1:12: pipelines: the list is empty: declare at least one pipeline [required]\n"+
		"p.yml:2:10: version: unsupported version 3: this stepline reads version 1 [value]", err.Error())
}
