package stepline

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/jsii-runtime-go"
)

// alarm is one CloudWatch alarm: the sum (or maximum) of a metric over 5 minutes at least
// threshold (1 when zero).
type alarm struct {
	id, name, description string
	namespace, metric     string
	statistic             string
	dimension, value      string
	threshold             float64
}

// alarms creates the nine alarms of docs/stack.md, each publishing to the topic. Missing
// data is not breaching: an idle stack sends no metrics and must stay quiet.
func (s *Stepline) alarms() {
	list := []alarm{{
		id: "PipelineFailedAlarm", name: s.name("-pipeline-failed"),
		description: "A pipeline execution failed",
		namespace:   "AWS/States", metric: "ExecutionsFailed", statistic: "Sum",
		dimension: "StateMachineArn", value: *s.StateMachine.Ref(),
	}}
	for _, fn := range FunctionNames() {
		f := function{name: fn}
		list = append(list, alarm{
			id: f.logicalID() + "ErrorsAlarm", name: s.name("-" + fn + "-errors"),
			description: "The " + fn + " function returned errors",
			namespace:   "AWS/Lambda", metric: "Errors", statistic: "Sum",
			dimension: "FunctionName", value: *s.Functions[fn].Ref(),
		})
	}
	list = append(list, alarm{
		id: "DeadLetterQueueAlarm", name: s.name("-dead-letters"),
		description: "Events or trigger queue messages reached the dead-letter queue",
		namespace:   "AWS/SQS", metric: "ApproximateNumberOfMessagesVisible", statistic: "Maximum",
		dimension: "QueueName", value: *s.DeadLetterQueue.AttrQueueName(),
	}, alarm{
		// A retryable trigger failure is not a Lambda error (the batch reports it), so an
		// outage shows as messages waiting: 15 minutes is two or three failed receives.
		id: "TriggerQueueAgeAlarm", name: s.name("-trigger-backlog"),
		description: "Trigger inputs have waited over 15 minutes: the trigger keeps failing (provider API, DynamoDB, Step Functions)",
		namespace:   "AWS/SQS", metric: "ApproximateAgeOfOldestMessage", statistic: "Maximum",
		dimension: "QueueName", value: *s.TriggerQueue.AttrQueueName(), threshold: 900,
	})

	for _, a := range list {
		if a.threshold == 0 {
			a.threshold = 1
		}
		cfn := awscloudwatch.NewCfnAlarm(s.Construct, jsii.String(a.id), &awscloudwatch.CfnAlarmProps{
			AlarmName:          jsii.String(a.name),
			AlarmDescription:   jsii.String(a.description),
			Namespace:          jsii.String(a.namespace),
			MetricName:         jsii.String(a.metric),
			Dimensions:         []any{&awscloudwatch.CfnAlarm_DimensionProperty{Name: jsii.String(a.dimension), Value: jsii.String(a.value)}},
			Statistic:          jsii.String(a.statistic),
			Period:             jsii.Number(300),
			EvaluationPeriods:  jsii.Number(1),
			Threshold:          jsii.Number(a.threshold),
			ComparisonOperator: jsii.String("GreaterThanOrEqualToThreshold"),
			TreatMissingData:   jsii.String("notBreaching"),
			AlarmActions:       &[]any{s.NotificationTopic.Ref()},
		})
		cfn.OverrideLogicalId(jsii.String(a.id))
	}
}
