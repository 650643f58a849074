package pipeline

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Rules about the shape of the file: syntax, keys, types and names.

func TestSyntaxRule(t *testing.T) {
	t.Parallel()
	runRuleCases(t, []ruleCase{
		{name: "a tab in the indentation is a syntax error on its line", src: "version: 1\npipelines:\n\t- name: p\n",
			want: []expect{"3:1 syntax found character that cannot start any token"}},
		{name: "an error on the first line is placed on line 1", src: "version: [1\n",
			want: []expect{"1:1 syntax did not find expected"}},
		{name: "an unknown anchor is placed at its alias", src: "version: 1\npipelines: *nope\n",
			want: []expect{"2:12 syntax unknown anchor 'nope' referenced"}},
		{name: "a second YAML document is refused", src: "version: 1\n---\nversion: 1\n",
			want: []expect{"2:1 syntax one YAML document"}},
		{name: "a self-merging mapping does not loop", src: "x-a: &a {<<: *a}\nversion: 1\npipelines: []\n",
			want: []expect{"3:12 required the list is empty"}},
	})
}

func TestUnknownKeyRule(t *testing.T) {
	t.Parallel()
	runRuleCases(t, []ruleCase{
		{name: "a misspelt top-level key suggests the right one", src: `
			version: 1
			pipeline: []
		`, want: []expect{
			"1:1 required missing required key \"pipelines\"",
			"2:1 unknown-key unknown key \"pipeline\" in the pipeline file; did you mean \"pipelines\"?",
		}},
		{name: "a key in the wrong case suggests the right case", src: `
			version: 1
			pipelines:
			  - name: p
			    Stages: []
		`, want: []expect{
			"3:5 required pipeline is missing required key \"stages\"",
			"4:5 unknown-key did you mean \"stages\"?",
		}},
		{name: "a provider key of another provider names its owner", src: `
			version: 1
			pipelines:
			  - name: p
			    stages:
			      - name: S
			        actions:
			          - name: A
			            provider: codebuild
			            inputs: [source]
			            cluster: main
		`, want: []expect{"10:13 unknown-key key \"cluster\" is not valid for provider codebuild (it belongs to ecs)"}},
		{name: "a misspelt key of another trigger kind says whose it is", src: `
			version: 1
			pipelines:
			  - name: p
			    triggers:
			      - {on: image, repository: r, branchs: [main]}
			    stages:
			      - {name: S, actions: [{name: A, provider: codebuild}]}
		`, want: []expect{"5:36 unknown-key unknown key \"branchs\" for on: image; did you mean \"branches\"? (it belongs to push, pull_request)"}},
		{name: "retry on an approval is refused", src: `
			version: 1
			pipelines:
			  - name: p
			    stages:
			      - {name: S, actions: [{name: A, provider: approval, retry: {max_attempts: 2}}]}
		`, want: []expect{"5:59 unknown-key retry is not allowed on approval actions"}},
		{name: "an unrelated key gets no suggestion", src: `
			version: 1
			pipelines:
			  - name: p
			    stages:
			      - {name: S, actions: [{name: A, provider: lambda, function: f, zzzzzz: 1}]}
		`, want: []expect{"5:70 unknown-key unknown key \"zzzzzz\" for provider lambda"}},
		{name: "x- keys at the top level hold anchors", src: `
			version: 1
			x-common: {anything: goes}
			pipelines:
			  - {name: p, stages: [{name: S, actions: [{name: A, provider: codebuild}]}]}
		`},
	})
}

func TestTypeRule(t *testing.T) {
	t.Parallel()
	runRuleCases(t, []ruleCase{
		{name: "a quoted version is a string, not an integer", src: `
			version: "1"
			pipelines: [{name: p, stages: [{name: S, actions: [{name: A, provider: codebuild}]}]}]
		`, want: []expect{"1:10 type version: expected an integer, found string \"1\""}},
		{name: "a list where a string is expected says what was found", src: `
			version: 1
			pipelines: [{name: [p], stages: [{name: S, actions: [{name: A, provider: codebuild}]}]}]
		`, want: []expect{"2:20 type pipeline name: expected a string, found list"}},
		{name: "a boolean is not a string", src: `
			version: 1
			pipelines: [{name: p, stages: [{name: S, actions: [{name: A, provider: codebuild, image: true}]}]}]
		`, want: []expect{"2:90 type image: expected a string, found boolean true"}},
		{name: "a quoted boolean is not a boolean", src: `
			version: 1
			pipelines: [{name: p, stages: [{name: S, actions: [{name: A, provider: codebuild, privileged: "yes"}]}]}]
		`, want: []expect{"2:95 type privileged: expected true or false"}},
		{name: "a bare number is not a duration", src: `
			version: 1
			pipelines: [{name: p, stages: [{name: S, actions: [{name: A, provider: codebuild, timeout: 30}]}]}]
		`, want: []expect{"2:92 type timeout: expected a duration such as 30m"}},
		{name: "a scalar where a filter is expected names both accepted shapes", src: `
			version: 1
			pipelines:
			  - name: p
			    triggers: [{on: push, branches: main}]
			    stages: [{name: S, actions: [{name: A, provider: codebuild}]}]
		`, want: []expect{"4:37 type branches: expected {include: [...], exclude: [...]} or a list of patterns"}},
		{name: "a null list item is reported where it is", src: `
			version: 1
			pipelines:
			  - name: p
			    stages: [{name: S, actions: [{name: A, provider: codebuild, inputs: [source, ~]}]}]
		`, want: []expect{"4:82 type inputs item: expected a string, found null"}},
		{name: "variables turn numbers and booleans into text", src: `
			version: 1
			pipelines:
			  - name: p
			    variables: {N: 3, B: true, F: 1.50}
			    stages: [{name: S, actions: [{name: A, provider: codebuild}]}]
		`},
	})
}

func TestRequiredRule(t *testing.T) {
	t.Parallel()
	runRuleCases(t, []ruleCase{
		{name: "an empty file lacks everything", src: "", want: []expect{"1:1 required the file is empty"}},
		{name: "a missing key is reported at the mapping that lacks it", src: `
			version: 1
			pipelines:
			  - name: p
			    stages:
			      - name: S
			        actions:
			          - name: A
		`, want: []expect{"7:13 required action is missing required key \"provider\""}},
		{name: "a key without a value is reported at the key", src: `
			version: 1
			pipelines:
			  - name: p
			    stages:
			      - name: S
			        actions:
			          - name:
			            provider: codebuild
		`, want: []expect{"7:13 required action: key \"name\" has no value"}},
		{name: "provider keys are required by provider", src: `
			version: 1
			pipelines:
			  - name: p
			    stages:
			      - name: S
			        actions:
			          - name: Deploy
			            provider: ecs
			            cluster: main
		`, want: []expect{
			"7:13 required ecs action is missing required key \"service\"",
			"7:13 required ecs action is missing required key \"image_definitions\"",
		}},
		{name: "a cloudformation delete needs no template", src: `
			version: 1
			pipelines:
			  - name: p
			    stages:
			      - name: S
			        actions:
			          - {name: Delete, provider: cloudformation, stack: old, action: delete}
		`},
		{name: "a schedule trigger needs its cron", src: `
			version: 1
			pipelines:
			  - name: p
			    triggers:
			      - on: schedule
			    stages: [{name: S, actions: [{name: A, provider: codebuild}]}]
		`, want: []expect{"5:9 required schedule trigger is missing required key \"cron\""}},
		{name: "an empty events or environment branches list is a mistake, not a default", src: `
			version: 1
			pipelines:
			  - name: p
			    triggers: [{on: pull_request, events: []}]
			    environments: [{branches: [], name: e}]
			    stages: [{name: S, actions: [{name: A, provider: codebuild}]}]
		`, want: []expect{
			"4:43 required events: the list is empty",
			"5:31 required branches: the list is empty",
		}},
		{name: "an empty stage list is reported at the list", src: `
			version: 1
			pipelines:
			  - name: p
			    stages: []
		`, want: []expect{"4:13 required stages: the list is empty"}},
	})
}

func TestDuplicateRule(t *testing.T) {
	t.Parallel()
	runRuleCases(t, []ruleCase{
		{name: "a duplicate YAML key names the first one", src: `
			version: 1
			version: 1
			pipelines: [{name: p, stages: [{name: S, actions: [{name: A, provider: codebuild}]}]}]
		`, want: []expect{"2:1 duplicate duplicate key \"version\" (first at 1:1)"}},
		{name: "duplicate pipeline, stage and action names are each reported at the second", src: `
			version: 1
			pipelines:
			  - name: p
			    stages:
			      - {name: S, actions: [{name: A, provider: codebuild}, {name: A, provider: codebuild}]}
			      - {name: S, actions: [{name: A, provider: codebuild}]}
			  - name: p
			    stages: [{name: S, actions: [{name: A, provider: codebuild}]}]
		`, want: []expect{
			"5:68 duplicate duplicate action name \"A\" in stage \"S\" (first at 5:36)",
			"6:16 duplicate duplicate stage name \"S\" (first at 5:16)",
			"7:11 duplicate duplicate pipeline name \"p\" (first at 3:11)",
		}},
		{name: "the same action name in two stages is fine", src: `
			version: 1
			pipelines:
			  - name: p
			    stages:
			      - {name: S1, actions: [{name: A, provider: codebuild}]}
			      - {name: S2, actions: [{name: A, provider: codebuild}]}
		`},
		{name: "a namespace used twice names the first action", src: `
			version: 1
			pipelines:
			  - name: p
			    stages:
			      - {name: S, actions: [{name: A, provider: codebuild, namespace: b}, {name: B, provider: codebuild, namespace: b}]}
		`, want: []expect{"5:117 duplicate namespace \"b\" is already used by action \"S/A\" (at 5:71)"}},
	})
}

func TestMergeKeysThatDoubleAtEveryLevelStopAtTheLimit(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("version: 1\nx-m0: &m0 {a0: 1}\n")
	for i := 1; i < 40; i++ {
		fmt.Fprintf(&b, "x-m%d: &m%d {<<: [*m%d, *m%d], a%d: 1}\n", i, i, i-1, i-1, i)
	}
	b.WriteString("pipelines:\n  - {<<: *m39, name: p, stages: [{name: S, actions: [{name: A, provider: codebuild}]}]}\n")
	probs := problemsOf(t, b.String())
	require.Len(t, probs, 1)
	assert.Equal(t, RuleSyntax, probs[0].Rule)
	assert.Contains(t, probs[0].Msg, "YAML aliases expand the file beyond")
}

func TestObjectTriggerRules(t *testing.T) {
	t.Parallel()
	runRuleCases(t, []ruleCase{
		{name: "an object trigger with a bucket and a keys filter is valid", src: `
			version: 1
			pipelines:
			  - name: p
			    triggers:
			      - {on: object, bucket: releases.example-1, keys: {include: ["bundles/**/*.zip"], exclude: ["**/tmp/**"]}}
			      - {on: object, bucket: drops, keys: ["*.tar.gz"]}
			    stages:
			      - {name: S, actions: [{name: A, provider: codebuild}]}
		`},
		{name: "an object trigger without a bucket is reported at the trigger", src: `
			version: 1
			pipelines:
			  - name: p
			    triggers:
			      - {on: object, keys: ["*.zip"]}
			    stages:
			      - {name: S, actions: [{name: A, provider: codebuild}]}
		`, want: []expect{"5:9 required object trigger is missing required key \"bucket\""}},
		{name: "a misspelt bucket key suggests bucket", src: `
			version: 1
			pipelines:
			  - name: p
			    triggers:
			      - {on: object, bucket: b1b, bukcet: b2b}
			    stages:
			      - {name: S, actions: [{name: A, provider: codebuild}]}
		`, want: []expect{"5:35 unknown-key unknown key \"bukcet\" for on: object; did you mean \"bucket\"?"}},
		{name: "a singular key suggests keys", src: `
			version: 1
			pipelines:
			  - name: p
			    triggers:
			      - {on: object, bucket: b1b, key: ["*.zip"]}
			    stages:
			      - {name: S, actions: [{name: A, provider: codebuild}]}
		`, want: []expect{"5:35 unknown-key unknown key \"key\" for on: object; did you mean \"keys\"?"}},
		{name: "a key of the image trigger on an object trigger names its owner", src: `
			version: 1
			pipelines:
			  - name: p
			    triggers:
			      - {on: object, bucket: b1b, tags: [latest]}
			    stages:
			      - {name: S, actions: [{name: A, provider: codebuild}]}
		`, want: []expect{"5:35 unknown-key key \"tags\" is not valid for on: object (it belongs to push, image)"}},
		{name: "bucket on an image trigger names the object trigger", src: `
			version: 1
			pipelines:
			  - name: p
			    triggers:
			      - {on: image, repository: api, bucket: b1b}
			    stages:
			      - {name: S, actions: [{name: A, provider: codebuild}]}
		`, want: []expect{"5:38 unknown-key key \"bucket\" is not valid for on: image (it belongs to object)"}},
		{name: "a glob or an ARN is not a bucket name", src: `
			version: 1
			pipelines:
			  - name: p
			    triggers:
			      - {on: object, bucket: "releases-*"}
			      - {on: object, bucket: "arn:aws:s3:::releases"}
			    stages:
			      - {name: S, actions: [{name: A, provider: codebuild}]}
		`, want: []expect{
			"5:30 value bucket: \"releases-*\" is not an S3 bucket name",
			"6:30 value bucket: \"arn:aws:s3:::releases\" is not an S3 bucket name",
		}},
		{name: "an invalid keys pattern is a glob problem", src: `
			version: 1
			pipelines:
			  - name: p
			    triggers:
			      - {on: object, bucket: b1b, keys: {include: ["in/[x"], exlude: []}}
			    stages:
			      - {name: S, actions: [{name: A, provider: codebuild}]}
		`, want: []expect{
			"5:52 glob keys.include: invalid glob pattern \"in/[x\"",
			"5:62 unknown-key unknown key \"exlude\" in keys filter; did you mean \"exclude\"?",
		}},
		{name: "a misspelt kind suggests object", src: `
			version: 1
			pipelines:
			  - name: p
			    triggers:
			      - {on: objekt, bucket: b1b}
			    stages:
			      - {name: S, actions: [{name: A, provider: codebuild}]}
		`, want: []expect{"5:14 value on: unknown value \"objekt\"; expected one of push, pull_request, image, object, schedule; did you mean \"object\"?"}},
	})
}
