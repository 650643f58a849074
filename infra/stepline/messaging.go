package stepline

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsscheduler"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"
)

// Detail types of the events stepline puts on its bus.
const (
	detailSourceEvent    = "stepline Source Event"
	detailPipelineChange = "stepline Pipeline Execution State Change"
	detailStageChange    = "stepline Stage Execution State Change"
	detailActionChange   = "stepline Action Execution State Change"
	detailApproval       = "stepline Approval Requested"
)

// Settings of the trigger queue (docs/stack.md).
const (
	// triggerTimeout is the trigger function's timeout in seconds.
	triggerTimeout = 60
	// triggerVisibility is six times the function's timeout, as Lambda asks of a queue it
	// polls: a batch whose invocation was throttled is retried before it reappears.
	triggerVisibility = 6 * triggerTimeout
	// triggerReceives is how often a message is received before it goes to the dead-letter
	// queue: one retry per visibility timeout, 60 × 6 min, about 6 hours of a provider
	// outage lose nothing.
	triggerReceives = 60
	// triggerRetention is 4 days, SQS's default.
	triggerRetention = 4 * 24 * 60 * 60
	// notifyTimeout is the notify function's timeout in seconds; its queue keeps the
	// trigger queue's rules: six timeouts of visibility, 60 receives (about 6 hours of a
	// provider outage delay a status, then the message waits in the dead-letter queue).
	notifyTimeout = 60
)

// messaging creates the bus, the queues, the topic and the schedule group: the resources the
// functions' environment refers to.
func (s *Stepline) messaging() {
	s.EventBus = awsevents.NewCfnEventBus(s.Construct, jsii.String("EventBus"), &awsevents.CfnEventBusProps{
		Name: jsii.String(s.Props.Name),
	})
	s.EventBus.OverrideLogicalId(jsii.String("EventBus"))

	s.DeadLetterQueue = awssqs.NewCfnQueue(s.Construct, jsii.String("DeadLetterQueue"), &awssqs.CfnQueueProps{
		QueueName:              jsii.String(s.name("-dlq")),
		SqsManagedSseEnabled:   jsii.Bool(true),
		MessageRetentionPeriod: jsii.Number(14 * 24 * 60 * 60),
	})
	s.DeadLetterQueue.OverrideLogicalId(jsii.String("DeadLetterQueue"))

	s.TriggerQueue = awssqs.NewCfnQueue(s.Construct, jsii.String("TriggerQueue"), &awssqs.CfnQueueProps{
		QueueName:              jsii.String(s.name("-trigger")),
		SqsManagedSseEnabled:   jsii.Bool(true),
		VisibilityTimeout:      jsii.Number(triggerVisibility),
		MessageRetentionPeriod: jsii.Number(triggerRetention),
		RedrivePolicy: map[string]any{
			"deadLetterTargetArn": *s.DeadLetterQueue.AttrArn(),
			"maxReceiveCount":     triggerReceives,
		},
	})
	s.TriggerQueue.OverrideLogicalId(jsii.String("TriggerQueue"))

	s.NotifyQueue = awssqs.NewCfnQueue(s.Construct, jsii.String("NotifyQueue"), &awssqs.CfnQueueProps{
		QueueName:              jsii.String(s.name("-notify")),
		SqsManagedSseEnabled:   jsii.Bool(true),
		VisibilityTimeout:      jsii.Number(6 * notifyTimeout),
		MessageRetentionPeriod: jsii.Number(triggerRetention),
		RedrivePolicy: map[string]any{
			"deadLetterTargetArn": *s.DeadLetterQueue.AttrArn(),
			"maxReceiveCount":     triggerReceives,
		},
	})
	s.NotifyQueue.OverrideLogicalId(jsii.String("NotifyQueue"))

	s.NotificationTopic = awssns.NewCfnTopic(s.Construct, jsii.String("NotificationTopic"), &awssns.CfnTopicProps{
		TopicName: jsii.String(s.name("-notifications")),
	})
	s.NotificationTopic.OverrideLogicalId(jsii.String("NotificationTopic"))

	if s.Props.NotificationEmail != "" {
		sub := awssns.NewCfnSubscription(s.Construct, jsii.String("NotificationSubscription"), &awssns.CfnSubscriptionProps{
			TopicArn: s.NotificationTopic.Ref(),
			Protocol: jsii.String("email"),
			Endpoint: jsii.String(s.Props.NotificationEmail),
		})
		sub.OverrideLogicalId(jsii.String("NotificationSubscription"))
	}

	s.ScheduleGroup = awsscheduler.NewCfnScheduleGroup(s.Construct, jsii.String("ScheduleGroup"), &awsscheduler.CfnScheduleGroupProps{
		Name: jsii.String(s.Props.Name),
	})
	s.ScheduleGroup.OverrideLogicalId(jsii.String("ScheduleGroup"))
}

// rules creates the four EventBridge rules, each with the dead-letter queue, and the queue
// and topic policies, which name the rules as the only senders.
func (s *Stepline) rules() {
	dlq := &awsevents.CfnRule_DeadLetterConfigProperty{Arn: s.DeadLetterQueue.AttrArn()}
	triggerQueue := s.TriggerQueue.AttrArn()

	source := awsevents.NewCfnRule(s.Construct, jsii.String("SourceEventRule"), &awsevents.CfnRuleProps{
		Description:  jsii.String("Normalised source events from the webhook function to the trigger queue"),
		EventBusName: s.EventBus.Ref(),
		EventPattern: map[string]any{
			"source":      []any{"stepline"},
			"detail-type": []any{detailSourceEvent},
		},
		Targets: []any{&awsevents.CfnRule_TargetProperty{
			Id:               jsii.String("TriggerQueue"),
			Arn:              triggerQueue,
			DeadLetterConfig: dlq,
			// EventBridge's maximum: a delivery failure of up to a day loses no push.
			RetryPolicy: &awsevents.CfnRule_RetryPolicyProperty{
				MaximumRetryAttempts:     jsii.Number(185),
				MaximumEventAgeInSeconds: jsii.Number(24 * 60 * 60),
			},
		}},
	})
	source.OverrideLogicalId(jsii.String("SourceEventRule"))

	aws := awsevents.NewCfnRule(s.Construct, jsii.String("AwsEventRule"), &awsevents.CfnRuleProps{
		Description: jsii.String("ECR image pushes, S3 object creations and CodeCommit reference changes on the default bus to the trigger queue"),
		// One rule with $or rather than a rule per service: one target and one queue policy
		// source to keep in line.
		EventPattern: map[string]any{
			"$or": []any{
				map[string]any{
					"source":      []any{"aws.ecr"},
					"detail-type": []any{"ECR Image Action"},
					"detail": map[string]any{
						"action-type": []any{"PUSH"},
						"result":      []any{"SUCCESS"},
					},
				},
				// Only buckets with EventBridge notifications on send these (docs/pipeline.md).
				map[string]any{
					"source":      []any{"aws.s3"},
					"detail-type": []any{"Object Created"},
				},
				// Reference changes only: pull request, comment and approval events start
				// nothing. Deletions pass, so the function logs that they start nothing.
				map[string]any{
					"source":      []any{"aws.codecommit"},
					"detail-type": []any{"CodeCommit Repository State Change"},
					"detail": map[string]any{
						"event": []any{"referenceCreated", "referenceUpdated", "referenceDeleted"},
					},
				},
			},
		},
		Targets: []any{&awsevents.CfnRule_TargetProperty{
			Id:               jsii.String("TriggerQueue"),
			Arn:              triggerQueue,
			DeadLetterConfig: dlq,
		}},
	})
	aws.OverrideLogicalId(jsii.String("AwsEventRule"))

	// Every state change and approval request goes to the notify function's queue; the
	// function decides what is worth a message (notify.Kind) and sends it. Pattern:
	// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html; an SQS
	// target and its dead-letter queue:
	// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html.
	notify := awsevents.NewCfnRule(s.Construct, jsii.String("NotificationRule"), &awsevents.CfnRuleProps{
		Description:  jsii.String("Pipeline, stage and action state changes and approval requests to the notify queue"),
		EventBusName: s.EventBus.Ref(),
		EventPattern: map[string]any{
			"source":      []any{"stepline"},
			"detail-type": []any{detailPipelineChange, detailStageChange, detailActionChange, detailApproval},
		},
		Targets: []any{&awsevents.CfnRule_TargetProperty{
			Id:               jsii.String("NotifyQueue"),
			Arn:              s.NotifyQueue.AttrArn(),
			DeadLetterConfig: dlq,
			RetryPolicy: &awsevents.CfnRule_RetryPolicyProperty{
				MaximumRetryAttempts:     jsii.Number(185),
				MaximumEventAgeInSeconds: jsii.Number(24 * 60 * 60),
			},
		}},
	})
	notify.OverrideLogicalId(jsii.String("NotificationRule"))

	ended := s.executionEnded(dlq)
	senders := []any{*source.AttrArn(), *aws.AttrArn(), *notify.AttrArn(), *ended.AttrArn()}
	for _, r := range s.deployRules(dlq) {
		senders = append(senders, *r.AttrArn())
	}

	// EventBridge sends to a queue target as the service: the two rules of the trigger are
	// the only senders the queue lets in. Scheduler sends as SchedulerRole, whose own
	// policy grants it.
	triggerArn := *triggerQueue
	triggerPolicy := awssqs.NewCfnQueuePolicy(s.Construct, jsii.String("TriggerQueuePolicy"), &awssqs.CfnQueuePolicyProps{
		Queues: jsii.Strings(*s.TriggerQueue.Ref()),
		PolicyDocument: document(
			denyInsecureTransport("sqs:*", triggerArn),
			statement{
				principal: map[string]any{"Service": "events.amazonaws.com"},
				actions:   []string{"sqs:SendMessage"},
				resources: []string{triggerArn},
				condition: map[string]any{"ArnEquals": map[string]any{"aws:SourceArn": []any{
					*source.AttrArn(), *aws.AttrArn(),
				}}},
			},
		),
	})
	triggerPolicy.OverrideLogicalId(jsii.String("TriggerQueuePolicy"))

	// The notification rule is the one sender the notify queue lets in
	// (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sqs-permissions).
	notifyArn := *s.NotifyQueue.AttrArn()
	notifyPolicy := awssqs.NewCfnQueuePolicy(s.Construct, jsii.String("NotifyQueuePolicy"), &awssqs.CfnQueuePolicyProps{
		Queues: jsii.Strings(*s.NotifyQueue.Ref()),
		PolicyDocument: document(
			denyInsecureTransport("sqs:*", notifyArn),
			statement{
				principal: map[string]any{"Service": "events.amazonaws.com"},
				actions:   []string{"sqs:SendMessage"},
				resources: []string{notifyArn},
				condition: map[string]any{"ArnEquals": map[string]any{"aws:SourceArn": []any{*notify.AttrArn()}}},
			},
		),
	})
	notifyPolicy.OverrideLogicalId(jsii.String("NotifyQueuePolicy"))

	queueArn := *s.DeadLetterQueue.AttrArn()
	queuePolicy := awssqs.NewCfnQueuePolicy(s.Construct, jsii.String("DeadLetterQueuePolicy"), &awssqs.CfnQueuePolicyProps{
		Queues: jsii.Strings(*s.DeadLetterQueue.Ref()),
		PolicyDocument: document(
			denyInsecureTransport("sqs:*", queueArn),
			// EventBridge delivers to a target's dead-letter queue as the service, so the
			// queue must let it in; only the stack's rules may.
			statement{
				principal: map[string]any{"Service": "events.amazonaws.com"},
				actions:   []string{"sqs:SendMessage"},
				resources: []string{queueArn},
				condition: map[string]any{"ArnEquals": map[string]any{"aws:SourceArn": senders}},
			},
		),
	})
	queuePolicy.OverrideLogicalId(jsii.String("DeadLetterQueuePolicy"))

	topicArn := *s.NotificationTopic.Ref()
	topicPolicy := awssns.NewCfnTopicPolicy(s.Construct, jsii.String("NotificationTopicPolicy"), &awssns.CfnTopicPolicyProps{
		Topics: jsii.Strings(topicArn),
		PolicyDocument: document(
			denyInsecureTransport("sns:Publish", topicArn),
			// The notify function publishes with its role, whose own policy grants it.
			// A topic policy replaces the default one, so CloudWatch alarms of this account
			// must be let in explicitly.
			statement{
				principal: map[string]any{"Service": "cloudwatch.amazonaws.com"},
				actions:   []string{"sns:Publish"},
				resources: []string{topicArn},
				condition: map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": sub("${AWS::AccountId}")}},
			},
		),
	})
	topicPolicy.OverrideLogicalId(jsii.String("NotificationTopicPolicy"))
}
