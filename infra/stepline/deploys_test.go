package stepline_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/infra/stepline"
	"github.com/stepline/stepline/pkg/iamcheck"
)

// deployTargets name what pkg/waitstep's recorded deploys touch (its deploy_aws_test.go), so
// the permission proofs check the role the stack grants them; the sample events' application
// is there too, for the rules' patterns.
var deployTargets = map[string]string{
	"EcsClusters":            "stepline-rec,default",
	"CodeDeployApplications": "stepline-rec-app,myApplication",
	"StackNamePrefix":        "stepline-rec",
	"DeployBuckets":          "stepline-rec-site",
	"DeployRoleArns":         "arn:aws:iam::123456789012:role/stepline-rec-deploy,arn:aws:iam::911362649988:role/ecsTaskExecutionRole",
}

// withDeployTargets sets the deploy targets on p as the CDK construct takes them.
func withDeployTargets(p stepline.Props) stepline.Props {
	list := func(k string) []string { return strings.Split(deployTargets[k], ",") }
	p.EcsClusters, p.CodeDeployApplications = list("EcsClusters"), list("CodeDeployApplications")
	p.StackNamePrefix, p.DeployBuckets, p.DeployRoleArns = deployTargets["StackNamePrefix"], list("DeployBuckets"), list("DeployRoleArns")
	return p
}

// resolved writes v (an event pattern) with its intrinsics resolved in tmpl's terms: SAM's
// Fn::Split of a parameter and CDK's list become the same list.
func resolved(t *testing.T, tmpl *iamcheck.Template, v any) any {
	t.Helper()
	switch x := v.(type) {
	case []any:
		var out []any
		for _, e := range x {
			if m, ok := e.(map[string]any); ok && (m["Fn::Split"] != nil || m["Fn::If"] != nil) {
				l, err := tmpl.Strings(m, nil)
				require.NoError(t, err)
				for _, s := range l {
					out = append(out, s)
				}
				continue
			}
			out = append(out, resolved(t, tmpl, e))
		}
		return out
	case map[string]any:
		if len(x) == 1 {
			for k := range x {
				if k == "Fn::Split" {
					l, err := tmpl.Strings(x, nil)
					require.NoError(t, err)
					out := make([]any, len(l))
					for i, s := range l {
						out[i] = s
					}
					return out
				}
				if k == "Ref" || strings.HasPrefix(k, "Fn::") {
					s, err := tmpl.String(x, nil)
					require.NoError(t, err)
					return s
				}
			}
		}
		out := map[string]any{}
		for k, e := range x {
			out[k] = resolved(t, tmpl, e)
		}
		return out
	}
	return v
}

// matches is EventBridge's matching for the subset the stack's patterns use: exact values,
// prefix, nested detail fields, and a list field (resources) matching when any element does.
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html
func matches(pattern map[string]any, event map[string]any) bool {
	for k, want := range pattern {
		got, present := event[k]
		if !present {
			return false
		}
		switch w := want.(type) {
		case map[string]any:
			sub, ok := got.(map[string]any)
			if !ok || !matches(w, sub) {
				return false
			}
		case []any:
			values := []any{got}
			if l, ok := got.([]any); ok {
				values = l
			}
			if !slices.ContainsFunc(values, func(v any) bool { return slices.ContainsFunc(w, func(p any) bool { return matchValue(p, v) }) }) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func matchValue(pattern, v any) bool {
	if m, ok := pattern.(map[string]any); ok {
		if p, ok := m["prefix"].(string); ok {
			s, isString := v.(string)
			return isString && strings.HasPrefix(s, p)
		}
		return false
	}
	return pattern == v
}

func TestTheMatcherFollowsEventBridge(t *testing.T) {
	ev := map[string]any{"source": "aws.ecs", "resources": []any{"arn:a", "arn:b"}, "detail": map[string]any{"x": "1"}}
	assert.True(t, matches(map[string]any{"source": []any{"aws.ecs"}, "detail": map[string]any{"x": []any{"1", "2"}}}, ev))
	assert.True(t, matches(map[string]any{"resources": []any{map[string]any{"prefix": "arn:b"}}}, ev))
	assert.False(t, matches(map[string]any{"resources": []any{map[string]any{"prefix": "arn:c"}}}, ev))
	assert.False(t, matches(map[string]any{"source": []any{"aws.s3"}}, ev))
	assert.False(t, matches(map[string]any{"detail": map[string]any{"y": []any{"1"}}}, ev))
}

// sampleEvents reads events/<dir>/*.json, written in the stack's account and region (the
// samples come from other accounts; a rule only ever sees its own account's events) with the
// CloudFormation sample's stack renamed into the stack's prefix.
func sampleEvents(t *testing.T, dir string) map[string]map[string]any {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot, "events", dir, "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	out := map[string]map[string]any{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		s := strings.NewReplacer("111122223333", iamcheck.AccountID, "us-west-2", iamcheck.Region, "stack/api-prod/", "stack/stepline-rec-api/").Replace(string(raw))
		var ev map[string]any
		require.NoError(t, json.Unmarshal([]byte(s), &ev))
		out[filepath.Base(f)] = ev
	}
	return out
}

// Each deploy rule of both templates matches its finishing sample events, and not the
// intermediate ones (an ECS deployment in progress, a stack update in progress), which would
// invoke the function for nothing.
func TestTheDeployRulesMatchTheSampleEvents(t *testing.T) {
	sam := samTemplate(t)
	cdk, _ := cdkTemplate(t)
	want := map[string]map[string]bool{
		"EcsDeploymentRule": {"ecs/deployment-completed.json": true, "ecs/deployment-failed.json": true,
			"ecs/deployment-in-progress.json": false, "ecs/rollback-in-progress.json": false},
		"CodeDeployDeploymentRule": {"codedeploy/deployment-success.json": true, "codedeploy/deployment-failure.json": true,
			"codedeploy/deployment-stop.json": true, "codedeploy/deployment-start.json": false, "codedeploy/deployment-ready.json": false},
		"CloudFormationStackRule": {"cloudformation/create-complete.json": true, "cloudformation/update-complete.json": true,
			"cloudformation/delete-complete.json": true, "cloudformation/rollback-complete.json": true,
			"cloudformation/update-rollback-complete.json": true, "cloudformation/update-in-progress.json": false},
	}
	for name, doc := range map[string]map[string]any{"SAM": sam, "CDK": cdk} {
		raw, err := json.Marshal(doc)
		require.NoError(t, err)
		tmpl, err := iamcheck.ParseTemplate(raw)
		require.NoError(t, err)
		tmpl.SetParameters(deployTargets)
		rules := resources(doc, "AWS::Events::Rule")
		for id, cases := range want {
			require.Contains(t, rules, id, name)
			pattern := resolved(t, tmpl, rules[id]["EventPattern"]).(map[string]any)
			for file, ok := range cases {
				dir, base, _ := strings.Cut(file, "/")
				ev := sampleEvents(t, dir)[base]
				require.NotNil(t, ev, file)
				assert.Equal(t, ok, matches(pattern, ev), "%s %s on %s: %v", name, id, file, pattern)
			}
		}
	}
}

// With its deploy targets named, the stack grants the wait function what the providers call
// on exactly those targets, and brings their events to it; without them (the other tests'
// props) it grants none of it.
func TestDeployTargetsScopeTheWaitFunctionsGrantsAndRules(t *testing.T) {
	tmpl, doc := synth(t, withDeployTargets(props))
	grants := map[string][]string{}
	for _, s := range statements(t, resources(doc, "AWS::IAM::Role")["WaitFunctionRole"]) {
		for _, a := range strs(s["Action"]) {
			grants[a] = append(grants[a], strings.Join(strs(s["Resource"]), " "))
		}
	}
	for action, want := range map[string]string{
		"ecs:UpdateService":           "arn:*:ecs:*:*:service/stepline-rec/* arn:*:ecs:*:*:service/default/*",
		"ecs:RegisterTaskDefinition":  "*",
		"codedeploy:CreateDeployment": "arn:*:codedeploy:*:*:deploymentgroup:stepline-rec-app/* arn:*:codedeploy:*:*:deploymentgroup:myApplication/*",
		"s3:DeleteObject":             "arn:*:s3:::stepline-rec-site/*",
		"s3:ListBucket":               "arn:*:s3:::stepline-rec-site",
		"iam:PassRole":                "arn:aws:iam::123456789012:role/stepline-rec-deploy arn:aws:iam::911362649988:role/ecsTaskExecutionRole",
	} {
		assert.Contains(t, grants[action], want, action)
	}
	assert.Len(t, grants["iam:PassRole"], 2, "the scheduler's and the deploys'")
	rules := resources(doc, "AWS::Events::Rule")
	assert.Len(t, rules, 7)
	tmpl.ResourceCountIs(jsii.String("AWS::Lambda::Permission"), jsii.Number(7))
	for _, id := range []string{"EcsDeploymentRule", "CodeDeployDeploymentRule", "CloudFormationStackRule"} {
		require.Contains(t, rules, id)
		target := rules[id]["Targets"].([]any)[0].(map[string]any)
		assert.Equal(t, getAtt("WaitFunction", "Arn"), target["Arn"], id)
		assert.Equal(t, map[string]any{"Arn": getAtt("DeadLetterQueue", "Arn")}, target["DeadLetterConfig"], id)
		assert.Contains(t, queueSenders(t, doc, "DeadLetterQueuePolicy"), getAtt(id, "Arn"), "EventBridge may send %s's failures to the queue", id)
	}
}
