package trigger

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/pipeline"
	"github.com/stepline/stepline/pkg/scm"
)

func TestTriggerOrder(t *testing.T) {
	t.Parallel()
	runCases(t, []matchCase{
		{name: "the first matching trigger wins", triggers: []string{`{on: push, branches: ["**"]}`, `{on: push, branches: [main]}`},
			ev: push("main"), run: true, trigger: 0, at: "#0", reason: `branch "main" matches "**"`},
		{name: "a later trigger matches when an earlier one does not", triggers: []string{`{on: push, branches: [dev]}`, `{on: push, branches: [main]}`},
			ev: push("main"), run: true, trigger: 1, at: "#1", reason: `branch "main" matches "main"`},
		{name: "the trigger that got furthest explains a miss", triggers: []string{
			`{on: pull_request}`, `{on: push, tags: ["v*"]}`, `{on: push, branches: [main], paths: ["api/**"]}`, `{on: push, branches: [dev]}`},
			ev: push("main", "web/x"), trigger: 2, at: `"api/**"`,
			reason: `path "web/x" is not included by [api/**]`},
		{name: "the first of equally far triggers explains a miss", triggers: []string{`{on: push, branches: [dev]}`, `{on: push, branches: [qa]}`},
			ev: push("main"), trigger: 0, at: "dev]",
			reason: `branch "main" is not included by [dev]`},
		{name: "a trigger of the right kind that does not listen explains a miss", triggers: []string{`{on: image, repository: api}`, `{on: push, tags: [v1]}`},
			ev: push("main"), trigger: 1, at: "[v1]",
			reason: `branch "main": the trigger has tags but no branches filter, so it listens to tag pushes only`},
		{name: "a pipeline without triggers starts only by hand",
			ev: push("main"), trigger: -1,
			reason: "the pipeline has no triggers: it starts only by hand"},
		{name: "each kind is named once among the triggers", triggers: []string{`{on: push}`, `{on: schedule, cron: "rate(1 day)"}`, `{on: push, tags: [v1]}`},
			ev: image("api", "latest"), trigger: -1,
			reason: "no trigger listens to image pushes (the pipeline's triggers: push, schedule)"},
	})
}

func TestEnvironment(t *testing.T) {
	t.Parallel()
	f := parse(t, pipelineYAML(`{on: push, tags: ["**"], branches: ["**"]}`, `{on: pull_request}`, `{on: image, repository: api}`))
	p := f.Pipelines[0]
	cases := []struct {
		name string
		ev   scm.Event
		want string
	}{
		{"a push to main gets the prod environment", push("main"), "prod"},
		{"a push to another branch gets the environment as written, variables unexpanded", push("feature/x"), "br-#{source.branch_slug}"},
		{"a pull request gets its source branch's environment", with(pr("opened", "main", "release"), func(e *scm.Event) { e.Branch = "" }), "prod"},
		{"a pull request into main does not get prod", pr("opened", "feature/x", "main"), "br-#{source.branch_slug}"},
		{"a tag has no branch, which only ** matches", tagPush("v1"), "br-#{source.branch_slug}"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			d := Match(p, c.ev)
			assert.True(t, d.Run, d.Reason)
			assert.Equal(t, c.want, d.Environment)
		})
	}
	t.Run("a pipeline that does not run has no environment", func(t *testing.T) {
		t.Parallel()
		d := Match(p, scm.Event{Kind: scm.KindPing})
		assert.False(t, d.Run)
		assert.Empty(t, d.Environment)
	})
	t.Run("a branch no environment matches has none", func(t *testing.T) {
		t.Parallel()
		src := "version: 1\npipelines:\n  - name: api\n    triggers: [{on: push}]\n" +
			"    environments: [{branches: [main], name: prod}]\n" +
			"    stages: [{name: B, actions: [{name: B, provider: codebuild}]}]\n"
		d := Match(parse(t, src).Pipelines[0], push("dev"))
		assert.True(t, d.Run, d.Reason)
		assert.Empty(t, d.Environment)
	})
}

func TestMatchFileDecidesEveryPipelineInOrder(t *testing.T) {
	t.Parallel()
	src := `version: 1
pipelines:
  - name: api
    triggers:
      - {on: push, branches: [main], paths: ["services/api/**"]}
    stages: [{name: B, actions: [{name: B, provider: codebuild}]}]
  - name: web
    triggers:
      - {on: push, branches: [main], paths: ["services/web/**"]}
    stages: [{name: B, actions: [{name: B, provider: codebuild}]}]
  - name: nightly
    triggers:
      - {on: schedule, cron: "cron(0 3 * * ? *)"}
    stages: [{name: B, actions: [{name: B, provider: codebuild}]}]
`
	ds := MatchFile(parse(t, src), push("main", "services/api/x.go"))
	assert.Equal(t, []Decision{
		{Pipeline: "api", Run: true, Trigger: 0, On: "push", Pos: posOf(t, src, "{on: push, branches: [main], paths: [\"services/api"),
			Reason: `branch "main" matches "main"; path "services/api/x.go" matches "services/api/**"`},
		{Pipeline: "web", Run: false, Trigger: 0, On: "push", Pos: posOf(t, src, `"services/web/**"`),
			Reason: `path "services/api/x.go" is not included by [services/web/**]`},
		{Pipeline: "nightly", Run: false, Trigger: -1, Pos: posOf(t, src, "name: nightly"),
			Reason: "no trigger listens to branch pushes (the pipeline's triggers: schedule)"},
	}, ds)
}

func TestAForksPullRequestGetsNoEnvironmentWhateverItsBranchIsCalled(t *testing.T) {
	t.Parallel()
	f, err := pipeline.Parse(".stepline.yml", []byte(`version: 1
pipelines:
  - name: app
    triggers:
      - on: pull_request
        branches: [main]
    environments:
      - {branches: [main], name: prod}
    stages:
      - name: Build
        actions:
          - {name: Build, provider: codebuild}
`))
	require.NoError(t, err)
	pr := scm.Event{Provider: scm.GitHub, Kind: scm.KindPullRequest, Ref: "refs/pull/7/head", Branch: "main",
		PullRequest: &scm.PullRequest{Number: 7, Action: scm.PROpened, SourceBranch: "main", TargetBranch: "main", HeadSHA: "abc", Fork: true}}
	d := MatchFile(f, pr)[0]
	assert.True(t, d.Run)
	assert.Empty(t, d.Environment, "a fork's main is not this repository's main")

	p, _ := f.Pipeline("app")
	vars, err := p.RunVariables(pr.Variables(), "app-1", 1)
	require.NoError(t, err)
	assert.NotContains(t, vars, "env", "the run's variables agree")

	pr.PullRequest.Fork = false
	assert.Equal(t, "prod", MatchFile(f, pr)[0].Environment, "the same branch of this repository does get it")
}

func TestAForksPullRequestAndAnUntrustedTriggerStartUntrustedRuns(t *testing.T) {
	t.Parallel()
	f := parse(t, pipelineYAML(`{on: push, branches: [main]}`, `{on: push, branches: ["**"], trusted: false}`,
		`{on: pull_request, trusted: true}`, `{on: image, repository: api, trusted: false}`))
	p := f.Pipelines[0]
	fork := pr("opened", "main", "main")
	fork.PullRequest.Fork = true
	cases := []struct {
		name      string
		ev        scm.Event
		untrusted bool
	}{
		{"a push a trusted trigger matches is trusted", push("main"), false},
		{"a push only a trusted: false trigger matches is untrusted", push("feature/x"), true},
		{"a pull request of this repository is trusted", pr("opened", "feature/x", "main"), false},
		{"a fork's pull request is untrusted even where the trigger says trusted: true", fork, true},
		{"an image trigger marked trusted: false starts untrusted runs", image("api", "latest"), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			d := Match(p, c.ev)
			require.True(t, d.Run, d.Reason)
			assert.Equal(t, c.untrusted, d.Untrusted)
			assert.Equal(t, c.untrusted, strings.Contains(Format(".stepline.yml", d), "untrusted"))
		})
	}
}
