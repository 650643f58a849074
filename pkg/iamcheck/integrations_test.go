package iamcheck

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/statemachine"
)

func TestEveryTaskStateOfThePipelineHasItsIntegrationsRow(t *testing.T) {
	t.Parallel()
	needs, err := TaskNeeds(statemachine.Definition())
	require.NoError(t, err)
	byState := map[string]TaskNeed{}
	for _, n := range needs {
		byState[n.State] = n
		assert.NotEmpty(t, n.Requests, n.State)
		assert.NotEmpty(t, n.Page, n.State)
	}
	// The Map's item processor is walked too.
	require.Contains(t, byState, "Dispatch/MapCodeBuild")
	assert.Contains(t, byState["Dispatch/MapCodeBuild"].Requests, Request{Action: "events:PutRule",
		Resource: "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/StepFunctionsGetEventForCodeBuildStartBuildRule"})
	assert.Contains(t, byState["Advance"].Requests, Request{Action: "lambda:InvokeFunction", Resource: "${AdvanceFunctionArn}"})
	assert.Contains(t, byState["Wait"].Requests, Request{Action: "lambda:InvokeFunction", Resource: "${WaitFunctionArn}"})
	assert.Contains(t, byState["Dispatch/MapLambda"].Requests, Request{Action: "lambda:InvokeFunction",
		Resource: "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${Name}-action-example"})
}

func TestATaskResourceWithoutARowFailsNamingIt(t *testing.T) {
	t.Parallel()
	def, err := json.Marshal(map[string]any{"StartAt": "M", "States": map[string]any{
		"M": map[string]any{"Type": "Map", "ItemProcessor": map[string]any{"StartAt": "Deploy", "States": map[string]any{
			"Deploy": map[string]any{"Type": "Task", "Resource": "arn:aws:states:::ecs:runTask.sync", "End": true},
		}}, "End": true},
	}})
	require.NoError(t, err)
	_, err = TaskNeeds(def)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `state M/Deploy: Resource "arn:aws:states:::ecs:runTask.sync" has no row in iamcheck.Integrations`)
}

func TestTheStateMachineRoleIsCheckedAgainstTheRows(t *testing.T) {
	t.Parallel()
	def := []byte(`{"StartAt": "Build", "States": {
	  "Build": {"Type": "Task", "Resource": "arn:aws:states:::codebuild:startBuild.sync", "Parameters": {"ProjectName.$": "$.p"}, "Next": "Advance"},
	  "Advance": {"Type": "Task", "Resource": "${AdvanceFunctionArn}", "End": true}}}`)
	template := func(rule, untrusted string) *Template {
		doc := map[string]any{"Resources": map[string]any{
			"Project":               map[string]any{"Type": "AWS::CodeBuild::Project", "Properties": map[string]any{"Name": "stepline-build"}},
			"UntrustedBuildProject": map[string]any{"Type": "AWS::CodeBuild::Project", "Properties": map[string]any{"Name": untrusted}},
			"AdvanceFunction":       map[string]any{"Type": "AWS::Lambda::Function", "Properties": map[string]any{"FunctionName": "stepline-advance"}},
			"Machine": map[string]any{"Type": "AWS::StepFunctions::StateMachine", "Properties": map[string]any{
				"RoleArn":                 map[string]any{"Fn::GetAtt": []any{"Role", "Arn"}},
				"DefinitionSubstitutions": map[string]any{"AdvanceFunctionArn": map[string]any{"Fn::GetAtt": []any{"AdvanceFunction", "Arn"}}},
			}},
			"Role": map[string]any{"Type": "AWS::IAM::Role", "Properties": map[string]any{"Policies": []any{map[string]any{"PolicyDocument": map[string]any{"Statement": []any{
				map[string]any{"Effect": "Allow", "Action": []any{"lambda:InvokeFunction"}, "Resource": []any{map[string]any{"Fn::GetAtt": []any{"AdvanceFunction", "Arn"}}}},
				map[string]any{"Effect": "Allow", "Action": []any{"codebuild:StartBuild", "codebuild:StopBuild", "codebuild:BatchGetBuilds"},
					"Resource": []any{map[string]any{"Fn::Sub": "arn:${AWS::Partition}:codebuild:${AWS::Region}:${AWS::AccountId}:project/stepline-*"}}},
				map[string]any{"Effect": "Allow", "Action": ManagedRuleActions,
					"Resource": []any{map[string]any{"Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/" + rule}}},
			}}}}}},
		}}
		// The project's logical id in this template.
		doc["Resources"].(map[string]any)["BuildProject"] = doc["Resources"].(map[string]any)["Project"]
		raw, err := json.Marshal(doc)
		require.NoError(t, err)
		tmpl, err := ParseTemplate(raw)
		require.NoError(t, err)
		return tmpl
	}
	assert.Empty(t, CheckStateMachine(template("StepFunctionsGetEventForCodeBuildStartBuildRule", "stepline-untrusted"), "Machine", def, "stepline"))

	problems := CheckStateMachine(template("StepFunctionsGetEventsForCodeBuildRule", "stepline-untrusted"), "Machine", def, "stepline")
	require.Len(t, problems, 3, "PutTargets, PutRule, DescribeRule on the rule the page names")
	assert.Contains(t, problems[0], "state Build (Resource arn:aws:states:::codebuild:startBuild.sync) needs events:PutTargets on arn:aws:events:us-east-1:123456789012:rule/StepFunctionsGetEventForCodeBuildStartBuildRule")
	assert.Contains(t, problems[0], "https://docs.aws.amazon.com/step-functions/latest/dg/codebuild-iam.html")

	assert.Len(t, CheckStateMachine(template("StepFunctionsGetEventForCodeBuildStartBuildRule", "stepline-untrusted"), "Machine", def, "other"), 3,
		"a stack named otherwise may not build in other-* projects under a stepline-* grant")

	problems = CheckStateMachine(template("StepFunctionsGetEventForCodeBuildStartBuildRule", "untrusted-builds"), "Machine", def, "stepline")
	require.Len(t, problems, 3, "StartBuild, StopBuild and BatchGetBuilds on the untrusted project too")
	assert.Contains(t, problems[0], "project/untrusted-builds")
}
