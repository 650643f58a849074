package pipeline

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Rules about how the parts of a file refer to each other and about values.

func TestArtifactRule(t *testing.T) {
	t.Parallel()
	runRuleCases(t, []ruleCase{
		{name: "a misspelt input suggests the artifact", src: `
			version: 1
			pipelines:
			  - name: p
			    stages:
			      - {name: B, actions: [{name: A, provider: codebuild, outputs: [bin]}]}
			      - {name: D, actions: [{name: A, provider: codebuild, inputs: [bni]}]}
		`, want: []expect{"6:69 artifact input \"bni\" is not produced by any action; did you mean \"bin\"?"}},
		{name: "an input produced later names its producer", src: `
			version: 1
			pipelines:
			  - name: p
			    stages:
			      - {name: D, actions: [{name: A, provider: codebuild, inputs: [bin]}]}
			      - {name: B, actions: [{name: A, provider: codebuild, outputs: [bin]}]}
		`, want: []expect{"5:69 artifact input \"bin\" is produced by action \"B/A\", which does not run before it"}},
		{name: "an input produced in the same run_order group runs at the same time", src: `
			version: 1
			pipelines:
			  - name: p
			    stages:
			      - name: S
			        actions:
			          - {name: A, provider: codebuild, outputs: [bin]}
			          - {name: B, provider: codebuild, inputs: [bin]}
			          - {name: C, provider: codebuild, inputs: [bin], run_order: 2}
		`, want: []expect{"8:53 artifact which runs at the same time (same stage and run_order)"}},
		{name: "an artifact produced twice points at the first producer", src: `
			version: 1
			pipelines:
			  - name: p
			    stages:
			      - name: S
			        actions:
			          - {name: A, provider: codebuild, outputs: [bin]}
			          - {name: B, provider: codebuild, outputs: [bin]}
		`, want: []expect{"8:54 artifact artifact \"bin\" is already produced by action \"S/A\" at 7:54"}},
		{name: "source is reserved as an output", src: `
			version: 1
			pipelines:
			  - name: p
			    stages: [{name: S, actions: [{name: A, provider: codebuild, outputs: [source]}]}]
		`, want: []expect{"4:75 artifact artifact name \"source\" is reserved"}},
		{name: "an artifact::path key is an implicit input", src: `
			version: 1
			pipelines:
			  - name: p
			    stages: [{name: S, actions: [{name: A, provider: cloudformation, stack: s, template: "bin::t.yml"}]}]
		`, want: []expect{"4:90 artifact input \"bin\" is not produced by any action"}},
		{name: "an s3 deploy needs exactly one input", src: `
			version: 1
			pipelines:
			  - name: p
			    stages: [{name: S, actions: [{name: A, provider: s3, bucket: b, inputs: [source, source]}]}]
		`, want: []expect{"4:34 artifact an s3 action deploys exactly one input artifact, found 2"}},
		{name: "a codebuild action's secondary artifacts need identifier names", src: `
			version: 1
			pipelines:
			  - name: p
			    stages:
			      - {name: B, actions: [{name: A, provider: codebuild, outputs: [web-bin, test-report]}]}
			      - {name: D, actions: [{name: A, provider: codebuild, inputs: [source, web-bin]}]}
		`, want: []expect{
			"5:79 artifact artifact \"test-report\": a codebuild action's second and later inputs and outputs become CodeBuild secondary sources",
			"6:77 artifact artifact \"web-bin\": a codebuild action's second and later",
		}},
	})
}

func TestProviderRule(t *testing.T) {
	t.Parallel()
	runRuleCases(t, []ruleCase{
		{name: "a misspelt provider suggests the closest", src: `
			version: 1
			pipelines: [{name: p, stages: [{name: S, actions: [{name: A, provider: lamda, function: f}]}]}]
		`, want: []expect{"2:72 provider unknown provider \"lamda\"; expected one of codebuild, local, approval, ecs, codedeploy, cloudformation, s3, lambda; did you mean \"lambda\"?"}},
		{name: "the source provider is reserved for the implicit stage", src: `
			version: 1
			pipelines: [{name: p, stages: [{name: S, actions: [{name: A, provider: source}]}]}]
		`, want: []expect{"2:72 provider provider \"source\" is reserved"}},
		{name: "keys of an unknown provider are not guessed at", src: `
			version: 1
			pipelines: [{name: p, stages: [{name: S, actions: [{name: A, provider: docker, cluster: c}]}]}]
		`, want: []expect{"2:72 provider unknown provider \"docker\""}},
	})
}

func TestGlobRule(t *testing.T) {
	t.Parallel()
	runRuleCases(t, []ruleCase{
		{name: "unclosed brackets and braces and empty patterns are reported one by one", src: `
			version: 1
			pipelines:
			  - name: p
			    triggers:
			      - on: push
			        branches: ["[", "{a,b", "", "release/**"]
			    environments:
			      - {branches: ["main["], name: prod}
			    stages: [{name: S, actions: [{name: A, provider: codebuild}]}]
		`, want: []expect{
			"6:20 glob invalid glob pattern \"[\"",
			"6:25 glob invalid glob pattern \"{a,b\"",
			"6:33 glob empty glob pattern",
			"8:21 glob invalid glob pattern \"main[\"",
		}},
	})
}

func TestDurationRule(t *testing.T) {
	t.Parallel()
	runRuleCases(t, []ruleCase{
		{name: "days, Go syntax and their mix are durations", src: `
			version: 1
			pipelines:
			  - name: p
			    stages:
			      - name: S
			        actions:
			          - {name: A, provider: codebuild, timeout: 1d12h, retry: {max_attempts: 2, backoff: 1m30s, max_backoff: 7d}}
			          - {name: B, provider: approval, timeout: 7d}
		`},
		{name: "words, zero and negative durations are refused", src: `
			version: 1
			pipelines:
			  - name: p
			    stages:
			      - name: S
			        actions:
			          - {name: A, provider: codebuild, timeout: 10 minutes}
			          - {name: B, provider: codebuild, timeout: 0s}
			          - {name: C, provider: codebuild, timeout: -1h}
			          - {name: D, provider: local, path: /srv, health_timeout: 1.5d}
		`, want: []expect{
			"7:53 duration invalid duration \"10 minutes\"",
			"8:53 duration duration \"0s\" must be positive",
			"9:53 duration duration \"-1h\" must be positive",
			"10:68 duration invalid duration \"1.5d\"",
		}},
		{name: "an approval waits at most seven days", src: `
			version: 1
			pipelines:
			  - name: p
			    stages: [{name: S, actions: [{name: A, provider: approval, timeout: 7d1s}]}]
		`, want: []expect{"4:73 duration an approval waits at most 7d"}},
		{name: "a max_backoff shorter than the backoff is refused", src: `
			version: 1
			pipelines:
			  - name: p
			    stages: [{name: S, actions: [{name: A, provider: lambda, function: f, retry: {max_attempts: 3, backoff: 1m, max_backoff: 10s}}]}]
		`, want: []expect{"4:126 duration retry.max_backoff 10s is shorter than backoff 1m0s"}},
	})
}

func TestVariableRule(t *testing.T) {
	t.Parallel()
	runRuleCases(t, []ruleCase{
		{name: "every reference in one string is placed at its own column", src: `
			version: 1
			pipelines:
			  - name: p
			    stages:
			      - name: S
			        actions:
			          - name: A
			            provider: codebuild
			            image: "#{source.branch}-#{source.nope}-#{source.nope}"
		`, want: []expect{
			"9:38 variable #{source.nope}: unknown variable \"nope\" in namespace source",
			"9:53 variable #{source.nope}",
		}},
		{name: "malformed references say what is wrong", src: `
			version: 1
			pipelines:
			  - name: p
			    stages: [{name: S, actions: [{name: A, provider: codebuild, image: "#{} #{x} #{a.b"}]}]
		`, want: []expect{
			"4:73 variable empty variable reference #{}",
			"4:77 variable variable reference \"#{x}\" has no namespace",
			"4:82 variable unterminated variable reference",
		}},
		{name: "an action namespace must be produced earlier", src: `
			version: 1
			pipelines:
			  - name: p
			    stages:
			      - name: S
			        actions:
			          - {name: A, provider: codebuild, image: "#{b.X}"}
			          - {name: B, provider: codebuild, namespace: b}
			          - {name: C, provider: codebuild, image: "#{b.X}", run_order: 2}
		`, want: []expect{"7:52 variable #{b.X}: namespace \"b\" belongs to action \"S/B\", which runs at the same time"}},
		{name: "env is known only when the pipeline has environments", src: `
			version: 1
			pipelines:
			  - name: p
			    stages: [{name: S, actions: [{name: A, provider: codebuild, image: "#{env.name}"}]}]
		`, want: []expect{"4:73 variable #{env.name}: the pipeline declares no environments"}},
		{name: "environment variables are known in any environment's keys", src: `
			version: 1
			pipelines:
			  - name: p
			    environments:
			      - {branches: [main], name: prod, variables: {URL: u}}
			      - {branches: ["**"], name: dev, variables: {HOST: h}}
			    stages: [{name: S, actions: [{name: A, provider: codebuild, image: "#{env.URL}#{env.HOST}#{env.PORT}", env: {X: "#{variables.X}"}}]}]
		`, want: []expect{
			"7:94 variable #{env.PORT}: unknown variable \"PORT\" in namespace env",
			"7:118 variable #{variables.X}: unknown variable \"X\" in namespace variables",
		}},
		{name: "a misspelt namespace suggests an action namespace", src: `
			version: 1
			pipelines:
			  - name: p
			    stages:
			      - {name: S, actions: [{name: A, provider: codebuild, namespace: build}]}
			      - {name: T, actions: [{name: A, provider: codebuild, image: "#{biuld.X}"}]}
		`, want: []expect{"6:68 variable unknown namespace \"biuld\"; did you mean \"build\"?"}},
		{name: "a reserved namespace cannot be declared", src: `
			version: 1
			pipelines:
			  - name: p
			    stages: [{name: S, actions: [{name: A, provider: codebuild, namespace: env}]}]
		`, want: []expect{"4:76 variable namespace \"env\" is reserved"}},
	})
}

func TestCycleRule(t *testing.T) {
	t.Parallel()
	runRuleCases(t, []ruleCase{
		{name: "two actions needing each other's artifacts are one cycle, not two artifact problems", src: `
			version: 1
			pipelines:
			  - name: p
			    stages:
			      - {name: S, actions: [{name: A, provider: codebuild, inputs: [b], outputs: [a]}]}
			      - {name: T, actions: [{name: B, provider: codebuild, inputs: [a], outputs: [b]}]}
		`, want: []expect{"5:69 cycle actions depend on each other in a cycle, each needing the next: S/A -> T/B -> S/A"}},
		{name: "a cycle through a variable namespace and an artifact is found", src: `
			version: 1
			pipelines:
			  - name: p
			    stages:
			      - {name: S, actions: [{name: A, provider: codebuild, image: "#{b.X}", outputs: [a]}]}
			      - {name: T, actions: [{name: B, provider: codebuild, inputs: [a], namespace: b}]}
		`, want: []expect{"5:68 cycle S/A -> T/B -> S/A"}},
		{name: "an action reading its own output depends on itself", src: `
			version: 1
			pipelines:
			  - name: p
			    stages: [{name: S, actions: [{name: A, provider: codebuild, inputs: [a], outputs: [a]}]}]
		`, want: []expect{"4:74 cycle action \"S/A\" depends on itself: S/A -> S/A"}},
		{name: "a longer cycle is reported once with its whole path", src: `
			version: 1
			pipelines:
			  - name: p
			    stages:
			      - {name: S, actions: [{name: A, provider: codebuild, inputs: [c], outputs: [a]}]}
			      - {name: T, actions: [{name: B, provider: codebuild, inputs: [a], outputs: [b]}]}
			      - {name: U, actions: [{name: C, provider: codebuild, inputs: [b], outputs: [c]}]}
		`, want: []expect{"5:69 cycle S/A -> U/C -> T/B -> S/A"}},
	})
}

func TestValueRule(t *testing.T) {
	t.Parallel()
	runRuleCases(t, []ruleCase{
		{name: "only version 1 exists", src: `
			version: 2
			pipelines: [{name: p, stages: [{name: S, actions: [{name: A, provider: codebuild}]}]}]
		`, want: []expect{"1:10 value unsupported version 2"}},
		{name: "enum values list the allowed ones and suggest", src: `
			version: 1
			pipelines:
			  - name: p
			    execution_mode: queue
			    triggers: [{on: pull_request, events: [open]}]
			    stages:
			      - name: S
			        on_failure: rolback
			        actions: [{name: A, provider: ecs, cluster: c, service: s, image_definitions: "source::i.json", strategy: canary}]
		`, want: []expect{
			"4:21 value execution_mode: unknown value \"queue\"; expected one of queued, superseded, parallel; did you mean \"queued\"?",
			"5:44 value events: unknown value \"open\"",
			"8:21 value on_failure: unknown value \"rolback\"",
			"9:115 value strategy: unknown value \"canary\"; expected one of rolling, blue_green",
		}},
		{name: "names use a safe charset", src: `
			version: 1
			pipelines: [{name: "my pipeline", stages: [{name: -S, actions: [{name: A.b, provider: codebuild}]}]}]
		`, want: []expect{
			"2:20 value invalid pipeline name \"my pipeline\"",
			"2:51 value invalid stage name \"-S\"",
			"2:72 value invalid action name \"A.b\"",
		}},
		{name: "integers outside their range are refused", src: `
			version: 1
			pipelines:
			  - name: p
			    stages:
			      - name: S
			        on_failure: {result: retry, attempts: 11}
			        actions: [{name: A, provider: local, path: /p, keep: 0, run_order: 0, retry: {max_attempts: 3, factor: 0.5}}]
		`, want: []expect{
			"6:47 value on_failure.attempts: 11 is out of range: expected 1 to 10",
			"7:62 value keep: 0 is out of range",
			"7:76 value run_order: 0 is out of range: expected 1 to 999",
			"7:112 value retry.factor: 0.5 is out of range",
		}},
		{name: "attempts only make sense for a retry", src: `
			version: 1
			pipelines:
			  - name: p
			    stages: [{name: S, on_failure: {result: rollback, scope: all_actions}, actions: [{name: A, provider: codebuild}]}]
		`, want: []expect{"4:62 value on_failure.scope applies only to result: retry, not rollback"}},
		{name: "the Source stage name is reserved", src: `
			version: 1
			pipelines: [{name: p, stages: [{name: Source, actions: [{name: A, provider: codebuild}]}]}]
		`, want: []expect{"2:39 value stage name \"Source\" is reserved"}},
		{name: "artifact paths need the artifact::path shape", src: `
			version: 1
			pipelines: [{name: p, stages: [{name: S, actions: [{name: A, provider: cloudformation, stack: s, template: t.yml}]}]}]
		`, want: []expect{"2:108 value template: expected \"artifact::path\""}},
		{name: "schedules are EventBridge expressions", src: `
			version: 1
			pipelines:
			  - name: p
			    triggers:
			      - {on: schedule, cron: "cron(0 3 * * ? *)"}
			      - {on: schedule, cron: "rate(1 day)"}
			      - {on: schedule, cron: "rate(2 days)"}
			      - {on: schedule, cron: "0 3 * * *"}
			    stages: [{name: S, actions: [{name: A, provider: codebuild}]}]
		`, want: []expect{"8:30 value cron: expected an EventBridge schedule"}},
		{name: "environment and cloudformation parameter names are checked", src: `
			version: 1
			pipelines:
			  - name: p
			    stages: [{name: S, actions: [{name: A, provider: cloudformation, stack: s, action: delete, parameters: {my-param: x}, env: {1X: y}}]}]
		`, want: []expect{
			"4:109 value parameters: invalid name \"my-param\"",
			"4:129 value env: invalid name \"1X\"",
		}},
	})
}

// wave is a pipeline whose stage Test has, per run_order, that many codebuild actions.
func wave(orders ...int) string {
	var b strings.Builder
	b.WriteString("version: 1\npipelines:\n  - name: p\n    stages:\n      - name: Test\n        actions:\n")
	for o, n := range orders {
		for i := range n {
			fmt.Fprintf(&b, "          - {name: A%d_%d, provider: codebuild, run_order: %d, inputs: [source]}\n", o+1, i, o+1)
		}
	}
	return b.String()
}

func TestWaveRule(t *testing.T) {
	t.Parallel()
	require.Equal(t, 15, MaxWave, "docs/pipeline.md and pkg/statemachine's size test say 15")
	for _, c := range []struct {
		name   string
		orders []int
		want   []expect
	}{
		{"the widest wave allowed passes", []int{MaxWave}, nil},
		{"one more action is reported at it", []int{MaxWave + 1}, []expect{
			expect(fmt.Sprintf("%d:20 wave stage \"Test\" starts 16 actions at run_order 1; at most 15 run at once", 7+MaxWave))}},
		{"each run_order counts on its own", []int{MaxWave, MaxWave}, nil},
		{"a crowded later run_order is reported at its own first action beyond the limit", []int{2, MaxWave + 3}, []expect{
			expect(fmt.Sprintf("%d:20 wave stage \"Test\" starts 18 actions at run_order 2", 7+2+MaxWave))}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			assertProblems(t, problemsOf(t, wave(c.orders...)), c.want...)
		})
	}
}

// sized is a pipeline of stages stages, the first with actions actions (in run orders of
// MaxWave), the others with one.
func sized(stages, actions int) string {
	var b strings.Builder
	b.WriteString("version: 1\npipelines:\n  - name: p\n    stages:\n")
	for s := range stages {
		fmt.Fprintf(&b, "      - name: S%d\n        actions:\n", s)
		n := 1
		if s == 0 {
			n = actions
		}
		for i := range n {
			fmt.Fprintf(&b, "          - {name: A%d, provider: codebuild, run_order: %d, inputs: [source]}\n", i, i/MaxWave+1)
		}
	}
	return b.String()
}

func TestSizeRule(t *testing.T) {
	t.Parallel()
	require.Equal(t, 50, MaxStages, "CodePipeline's quota, docs/pipeline.md and pkg/store/dynamo's size test")
	require.Equal(t, 50, MaxActions, "CodePipeline's quota, docs/pipeline.md and pkg/store/dynamo's size test")
	for _, c := range []struct {
		name            string
		stages, actions int
		want            []expect
	}{
		{"the largest pipeline allowed passes", MaxStages, MaxActions, nil},
		{"one stage more is reported at it", MaxStages + 1, 1, []expect{
			expect(fmt.Sprintf("%d:9 size stages: 51 stages; a pipeline has at most 50", 5+3*MaxStages))}},
		{"one action more is reported at it", 1, MaxActions + 1, []expect{
			expect(fmt.Sprintf("%d:13 size stage \"S0\" has 51 actions; a stage has at most 50", 7+MaxActions))}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			assertProblems(t, problemsOf(t, sized(c.stages, c.actions)), c.want...)
		})
	}
}
