// Package runopstest is for tests only: a deployed stepline on moto, as `stepline ... --aws
// --stack NAME` finds one: a stack whose TableName and StateMachineArn outputs name a
// stepline table and the pipeline state machine.
package runopstest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/stepline/stepline/pkg/awstest"
	"github.com/stepline/stepline/pkg/statemachine"
	"github.com/stepline/stepline/pkg/store/dynamo/dynamotest"
)

// Stack is a deployed stepline on moto.
type Stack struct {
	// Name is the CloudFormation stack's name.
	Name string
	// Table and StateMachine are what its outputs name.
	Table, StateMachine string
}

// Deploy creates a stepline table, the pipeline state machine (the real ASL) and a stack
// whose outputs name them, with names unique on the server.
func Deploy(tb testing.TB, moto *awstest.Moto) Stack {
	tb.Helper()
	ctx := context.Background()
	cfg := moto.Config()
	// Stack names take letters, digits and hyphens only.
	s := Stack{Name: strings.ReplaceAll(dynamotest.Name("stepline"), ".", "-"), Table: dynamotest.Table(tb, moto, "ops")}
	sm, err := sfn.NewFromConfig(cfg).CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name:       aws.String(s.Name + "-pipeline"),
		Definition: aws.String(string(statemachine.Definition())),
		RoleArn:    aws.String("arn:aws:iam::123456789012:role/" + s.Name + "-PipelineStateMachineRole"),
	})
	if err != nil {
		tb.Fatalf("create the state machine on moto: %v", err)
	}
	s.StateMachine = aws.ToString(sm.StateMachineArn)
	template, _ := json.Marshal(map[string]any{
		"Resources": map[string]any{"Topic": map[string]any{"Type": "AWS::SNS::Topic"}},
		"Outputs": map[string]any{
			"TableName":       map[string]any{"Value": s.Table},
			"StateMachineArn": map[string]any{"Value": s.StateMachine},
		},
	})
	if _, err := cloudformation.NewFromConfig(cfg).CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName: aws.String(s.Name), TemplateBody: aws.String(string(template))}); err != nil {
		tb.Fatalf("create stack %s on moto: %v", s.Name, err)
	}
	return s
}
