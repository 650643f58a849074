package stepline

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"

	"github.com/stepline/stepline/pkg/statemachine"
)

// executionEnded creates ExecutionEndedRule: an execution of the pipeline state machine that
// ends FAILED, TIMED_OUT or ABORTED is sent to the advance function, which abandons its run
// when no Advance did (StopExecution, the execution's timeout, States.Runtime and
// States.DataLimitExceeded escape every Catch), so the run's stage locks are released.
//
// Step Functions sends "Step Functions Execution Status Change" (source aws.states) to the
// default bus; the detail carries status and stateMachineArn:
// https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-states.html and
// https://docs.aws.amazon.com/step-functions/latest/dg/cw-events.html
//
// The target is the advance function rather than the trigger queue: the abandon path, its
// table, bus and SendTaskSuccess grants live there, while the queue's consumer (the trigger
// function) has none of them. What could lose the event is covered twice: a delivery
// EventBridge cannot make is retried for a day, then sent to the dead-letter queue (the
// target's RetryPolicy and DeadLetterConfig:
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html), and an
// invocation that fails (AdvanceUnavailable) gets Lambda's two asynchronous retries, then goes
// to the same queue (AdvanceFunctionEventInvokeConfig:
// https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html), which
// DeadLetterQueueAlarm watches. The rule invokes the function through a resource-based
// permission scoped to the rule:
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-lambda-permissions
func (s *Stepline) executionEnded(dlq *awsevents.CfnRule_DeadLetterConfigProperty) awsevents.CfnRule {
	fn := s.Functions["advance"]
	rule := awsevents.NewCfnRule(s.Construct, jsii.String("ExecutionEndedRule"), &awsevents.CfnRuleProps{
		Description: jsii.String("Pipeline executions that ended FAILED, TIMED_OUT or ABORTED to the advance function, which releases the stage locks of runs no Advance ended"),
		EventPattern: map[string]any{
			"source":      []any{"aws.states"},
			"detail-type": []any{statemachine.ExecutionStatusChange},
			"detail": map[string]any{
				"status":          statemachine.EndedStatuses(),
				"stateMachineArn": []any{*s.StateMachine.Ref()},
			},
		},
		Targets: []any{&awsevents.CfnRule_TargetProperty{
			Id:               jsii.String("AdvanceFunction"),
			Arn:              fn.AttrArn(),
			DeadLetterConfig: dlq,
			RetryPolicy: &awsevents.CfnRule_RetryPolicyProperty{
				MaximumRetryAttempts:     jsii.Number(185),
				MaximumEventAgeInSeconds: jsii.Number(24 * 60 * 60),
			},
		}},
	})
	rule.OverrideLogicalId(jsii.String("ExecutionEndedRule"))

	permission := awslambda.NewCfnPermission(s.Construct, jsii.String("AdvanceFunctionExecutionEndedPermission"), &awslambda.CfnPermissionProps{
		Action:       jsii.String("lambda:InvokeFunction"),
		FunctionName: fn.AttrArn(),
		Principal:    jsii.String("events.amazonaws.com"),
		SourceArn:    rule.AttrArn(),
	})
	permission.OverrideLogicalId(jsii.String("AdvanceFunctionExecutionEndedPermission"))

	invoke := awslambda.NewCfnEventInvokeConfig(s.Construct, jsii.String("AdvanceFunctionEventInvokeConfig"), &awslambda.CfnEventInvokeConfigProps{
		FunctionName:             fn.Ref(),
		Qualifier:                jsii.String("$LATEST"),
		MaximumRetryAttempts:     jsii.Number(2),
		MaximumEventAgeInSeconds: jsii.Number(21600),
		DestinationConfig: &awslambda.CfnEventInvokeConfig_DestinationConfigProperty{
			OnFailure: &awslambda.CfnEventInvokeConfig_OnFailureProperty{Destination: s.DeadLetterQueue.AttrArn()},
		},
	})
	invoke.OverrideLogicalId(jsii.String("AdvanceFunctionEventInvokeConfig"))
	return rule
}
