package iamcheck

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stack is a small template in the shapes both templates use: a parameter, fixed names
// through Fn::Sub, GetAtt in policies, Fn::Join for objects, a separate AWS::IAM::Policy.
const stack = `{
  "Parameters": {"Name": {"Type": "String", "Default": "stepline"}},
  "Resources": {
    "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {"TableName": {"Ref": "Name"}}},
    "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": {"Fn::Sub": "${Name}-artifacts-${AWS::AccountId}"}}},
    "SchedulerRole": {"Type": "AWS::IAM::Role", "Properties": {}},
    "Machine": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {"StateMachineName": {"Fn::Sub": "${Name}-pipeline"}}},
    "TriggerFunction": {"Type": "AWS::Lambda::Function", "Properties": {
      "FunctionName": {"Fn::Sub": "${Name}-trigger"},
      "Role": {"Fn::GetAtt": ["TriggerFunctionRole", "Arn"]},
      "Environment": {"Variables": {"STEPLINE_TABLE": {"Ref": "Table"}, "STEPLINE_BUCKET": {"Ref": "Bucket"},
        "STEPLINE_SCHEDULER_ROLE_ARN": {"Fn::GetAtt": ["SchedulerRole", "Arn"]}}}}},
    "TriggerFunctionRole": {"Type": "AWS::IAM::Role", "Properties": {"Policies": [{"PolicyDocument": {"Statement": [
      {"Effect": "Allow", "Action": ["dynamodb:GetItem"], "Resource": [{"Fn::GetAtt": ["Table", "Arn"]}]},
      {"Effect": "Allow", "Action": "s3:GetObject", "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": ["Bucket", "Arn"]}, "/webhooks/*"]]}},
      {"Effect": "Allow", "Action": ["iam:PassRole"], "Resource": [{"Fn::GetAtt": "SchedulerRole.Arn"}],
       "Condition": {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}}}
    ]}}]}},
    "Extra": {"Type": "AWS::IAM::Policy", "Properties": {"Roles": [{"Ref": "TriggerFunctionRole"}], "PolicyDocument": {"Statement": [
      {"Effect": "Allow", "Action": ["states:StartExecution"], "Resource": [{"Ref": "Machine"}]}]}}}
  }
}`

func TestATemplateResolvesToItsPhysicalNames(t *testing.T) {
	t.Parallel()
	tmpl, err := ParseTemplate([]byte(stack))
	require.NoError(t, err)
	for in, want := range map[string]string{
		"arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${Table}": "arn:aws:dynamodb:us-east-1:123456789012:table/stepline",
		"${Bucket.Arn}/x":            "arn:aws:s3:::stepline-artifacts-123456789012/x",
		"${Machine}":                 "arn:aws:states:us-east-1:123456789012:stateMachine:stepline-pipeline",
		"${Machine.Name}":            "stepline-pipeline",
		"${SchedulerRole.Arn}":       "arn:aws:iam::123456789012:role/SchedulerRole",
		"${!Literal} and ${env:ONE}": "${Literal} and 1",
	} {
		got, err := tmpl.Sub(in, map[string]string{"env:ONE": "1"})
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	_, err = tmpl.Sub("${Nothing}", nil)
	assert.ErrorContains(t, err, "no resource Nothing")

	f, err := tmpl.Function(FunctionID("trigger"))
	require.NoError(t, err)
	assert.Equal(t, "TriggerFunctionRole", f.Role)
	assert.Equal(t, "stepline-artifacts-123456789012", f.Env["STEPLINE_BUCKET"])

	policy, err := tmpl.RolePolicy(f.Role)
	require.NoError(t, err)
	assert.Len(t, policy, 4, "the inline statements and the attached policy's")
	assert.True(t, policy.Allows(Request{Action: "states:StartExecution", Resource: "arn:aws:states:us-east-1:123456789012:stateMachine:stepline-pipeline"}))
}

func TestTheContractIsCheckedAgainstTheFunctionsRole(t *testing.T) {
	t.Parallel()
	tmpl, err := ParseTemplate([]byte(stack))
	require.NoError(t, err)
	const p = "arn:${AWS::Partition}:"
	allowed := []Request{
		{Action: "dynamodb:GetItem", Resource: p + "dynamodb:${AWS::Region}:${AWS::AccountId}:table/${env:STEPLINE_TABLE}"},
		{Action: "s3:GetObject", Resource: p + "s3:::${env:STEPLINE_BUCKET}/webhooks/*"},
		{Action: "iam:PassRole", Resource: "${env:STEPLINE_SCHEDULER_ROLE_ARN}", Context: map[string]string{"iam:PassedToService": "scheduler.amazonaws.com"}},
		{Action: "states:StartExecution", Resource: "${Machine}"},
	}
	assert.Empty(t, Contract{"trigger": {"pkg/triggerstep": allowed}}.Check(tmpl))

	for _, c := range []struct {
		name string
		req  Request
		want string
	}{
		{"an action the role lacks is DENIED", Request{Action: "dynamodb:PutItem", Resource: allowed[0].Resource},
			"trigger (TriggerFunction, role TriggerFunctionRole) is denied dynamodb:PutItem on arn:aws:dynamodb:us-east-1:123456789012:table/stepline"},
		{"an object outside the grant is DENIED", Request{Action: "s3:GetObject", Resource: p + "s3:::${env:STEPLINE_BUCKET}/runs/*"},
			"is denied s3:GetObject on arn:aws:s3:::stepline-artifacts-123456789012/runs/*"},
		{"PassRole to another service is DENIED", Request{Action: "iam:PassRole", Resource: "${env:STEPLINE_SCHEDULER_ROLE_ARN}", Context: map[string]string{"iam:PassedToService": "lambda.amazonaws.com"}},
			"Allow iam:PassRole on arn:aws:iam::123456789012:role/SchedulerRole if"},
		{"a name the function is not given cannot be resolved", Request{Action: "dynamodb:GetItem", Resource: "${env:STEPLINE_NOTHING}"},
			"${env:STEPLINE_NOTHING}: no resource env:STEPLINE_NOTHING"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			problems := Contract{"trigger": {"pkg/triggerstep": append(allowed[:len(allowed):len(allowed)], c.req)}}.Check(tmpl)
			require.Len(t, problems, 1)
			assert.Contains(t, problems[0], c.want)
			assert.Contains(t, problems[0], "pkg/triggerstep")
		})
	}

	problems := Contract{"deploy": {"pkg/deploy": allowed}}.Check(tmpl)
	require.Len(t, problems, 1)
	assert.True(t, strings.HasPrefix(problems[0], "deploy: no resource DeployFunction"), problems[0])
}

// A statement granted only when a parameter names its targets: Fn::If over a condition on
// the parameter, Fn::Split of its comma list; nothing at the default, the targets once set.
func TestConditionalStatementsFollowTheParameters(t *testing.T) {
	doc := map[string]any{
		"Parameters": map[string]any{"Clusters": map[string]any{"Type": "String", "Default": ""}},
		"Conditions": map[string]any{"HasClusters": map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "Clusters"}, ""}}}}},
		"Resources": map[string]any{"Role": map[string]any{"Type": "AWS::IAM::Role", "Properties": map[string]any{
			"Policies": []any{map[string]any{"PolicyDocument": map[string]any{"Statement": []any{
				map[string]any{"Fn::If": []any{"HasClusters", map[string]any{"Effect": "Allow", "Action": []any{"ecs:UpdateService"},
					"Resource": map[string]any{"Fn::Split": []any{",", map[string]any{"Fn::Join": []any{"", []any{
						"arn:*:ecs:*:*:service/", map[string]any{"Fn::Join": []any{"/*,arn:*:ecs:*:*:service/", map[string]any{"Fn::Split": []any{",", map[string]any{"Ref": "Clusters"}}}}}, "/*"}}}}}},
					map[string]any{"Ref": "AWS::NoValue"}}},
			}}}},
		}}},
	}
	tmpl := NewTemplate(doc)
	req := Request{Action: "ecs:UpdateService", Resource: "arn:aws:ecs:us-east-1:123456789012:service/b/api"}
	p, err := tmpl.RolePolicy("Role")
	require.NoError(t, err)
	assert.Empty(t, p, "nothing granted at the default")

	tmpl.SetParameters(map[string]string{"Clusters": "a,b"})
	p, err = tmpl.RolePolicy("Role")
	require.NoError(t, err)
	require.Len(t, p, 1)
	assert.Equal(t, []string{"arn:*:ecs:*:*:service/a/*", "arn:*:ecs:*:*:service/b/*"}, p[0].Resource)
	assert.True(t, p.Allows(req))
	req.Resource = "arn:aws:ecs:us-east-1:123456789012:service/c/api"
	assert.False(t, p.Allows(req))
}
