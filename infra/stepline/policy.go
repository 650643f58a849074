package stepline

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// statement is one IAM policy statement. Policies are written out as plain documents rather
// than through awsiam.PolicyStatement or grant* helpers, so the template holds exactly the
// actions docs/stack.md lists and nothing CDK adds on its own.
type statement struct {
	effect    string
	principal map[string]any
	actions   []string
	resources []string
	condition map[string]any
}

// allow grants actions on resources.
func allow(actions []string, resources ...string) statement {
	return statement{effect: "Allow", actions: actions, resources: resources}
}

func (s statement) render() map[string]any {
	effect := s.effect
	if effect == "" {
		effect = "Allow"
	}
	out := map[string]any{
		"Effect": effect,
		"Action": s.actions,
	}
	if len(s.resources) > 0 {
		out["Resource"] = s.resources
	}
	if s.principal != nil {
		out["Principal"] = s.principal
	}
	if s.condition != nil {
		out["Condition"] = s.condition
	}
	return out
}

// document is an IAM policy document of statements.
func document(statements ...statement) map[string]any {
	rendered := make([]any, len(statements))
	for i, s := range statements {
		rendered[i] = s.render()
	}
	return map[string]any{"Version": "2012-10-17", "Statement": rendered}
}

// denyInsecureTransport is the statement every resource policy starts with: requests over
// plain HTTP are refused whoever makes them.
func denyInsecureTransport(action string, resources ...string) statement {
	return statement{
		effect:    "Deny",
		principal: map[string]any{"AWS": "*"},
		actions:   []string{action},
		resources: resources,
		condition: map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
	}
}

// newRole creates role id assumed by service, with one inline policy and no managed
// policies.
func newRole(scope constructs.Construct, id, service string, statements ...statement) awsiam.CfnRole {
	return newConditionalRole(scope, id, service, nil, statements...)
}

// newConditionalRole is newRole whose trust policy lets service assume the role only under
// trust (an IAM condition block), such as aws:SourceAccount against the confused deputy.
func newConditionalRole(scope constructs.Construct, id, service string, trust map[string]any, statements ...statement) awsiam.CfnRole {
	role := awsiam.NewCfnRole(scope, jsii.String(id), &awsiam.CfnRoleProps{
		AssumeRolePolicyDocument: document(statement{
			principal: map[string]any{"Service": service},
			actions:   []string{"sts:AssumeRole"},
			condition: trust,
		}),
		Policies: []any{&awsiam.CfnRole_PolicyProperty{
			PolicyName:     jsii.String(id + "Policy"),
			PolicyDocument: document(statements...),
		}},
	})
	role.OverrideLogicalId(jsii.String(id))
	return role
}

// sub is Fn::Sub of a string with pseudo parameters such as ${AWS::Partition}.
func sub(s string) string { return *awscdk.Fn_Sub(jsii.String(s), nil) }

// arn builds an ARN in this stack's partition, region and account.
func arn(service, resource string) string {
	return sub("arn:${AWS::Partition}:" + service + ":${AWS::Region}:${AWS::AccountId}:" + resource)
}
