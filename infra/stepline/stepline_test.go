package stepline_test

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/infra/stepline"
	"github.com/stepline/stepline/pkg/approval"
	"github.com/stepline/stepline/pkg/changes"
	"github.com/stepline/stepline/pkg/statemachine"
	"github.com/stepline/stepline/pkg/store/dynamo"
)

// props are the props most tests synthesize: every optional input set, and retention values
// other than the defaults, so a prop that is ignored shows.
var props = stepline.Props{
	Name:                  "cix",
	NotificationEmail:     "ops@example.com",
	AllowedRepositories:   []string{"github:acme/*", "bitbucket:team/api"},
	LogRetentionDays:      14,
	ArtifactRetentionDays: 9,
}

func TestTemplateHasTheResourcesOfDocsStackMd(t *testing.T) {
	tmpl, doc := synth(t, props)

	t.Run("each resource type appears as often as docs/stack.md says", func(t *testing.T) {
		total := 0
		for typ, n := range map[string]float64{
			"AWS::S3::Bucket":                  1,
			"AWS::S3::BucketPolicy":            1,
			"AWS::DynamoDB::Table":             1,
			"AWS::Events::EventBus":            1,
			"AWS::SQS::Queue":                  3, // the trigger, notify and dead-letter queues
			"AWS::SQS::QueuePolicy":            3,
			"AWS::SNS::Topic":                  1,
			"AWS::SNS::TopicPolicy":            1,
			"AWS::SNS::Subscription":           1,
			"AWS::Lambda::Function":            7,
			"AWS::Lambda::EventSourceMapping":  2,  // the trigger and notify queues feed their functions
			"AWS::Lambda::EventInvokeConfig":   2,  // the deadline schedules invoke the wait function, ExecutionEndedRule the advance function, asynchronously
			"AWS::Lambda::Permission":          4,  // three routes invoke their function, ExecutionEndedRule the advance function
			"AWS::IAM::Role":                   11, // seven functions, two build projects, state machine, scheduler
			"AWS::Logs::LogGroup":              11, // seven functions, state machine, two projects' builds, API access log
			"AWS::CodeBuild::Project":          2,  // trusted and untrusted builds (docs/trust.md)
			"AWS::StepFunctions::StateMachine": 1,
			"AWS::Scheduler::ScheduleGroup":    1,
			"AWS::Events::Rule":                4,
			"AWS::ApiGatewayV2::Api":           1,
			"AWS::ApiGatewayV2::Stage":         1,
			"AWS::ApiGatewayV2::Integration":   2,
			"AWS::ApiGatewayV2::Route":         3,
			"AWS::CloudWatch::Alarm":           10,
			// Inline policies only: no policy resources of their own.
			"AWS::IAM::Policy":        0,
			"AWS::IAM::ManagedPolicy": 0,
		} {
			tmpl.ResourceCountIs(jsii.String(typ), jsii.Number(n))
			total += int(n)
		}
		assert.Len(t, doc["Resources"], total, "a resource of a type not counted above")
	})

	t.Run("every logical id of docs/stack.md is there with its type", func(t *testing.T) {
		want := map[string]string{
			"ArtifactBucket": "AWS::S3::Bucket", "ArtifactBucketPolicy": "AWS::S3::BucketPolicy",
			"Table": "AWS::DynamoDB::Table", "EventBus": "AWS::Events::EventBus",
			"DeadLetterQueue": "AWS::SQS::Queue", "NotificationTopic": "AWS::SNS::Topic",
			"NotificationSubscription": "AWS::SNS::Subscription",
			"BuildProject":             "AWS::CodeBuild::Project", "BuildProjectRole": "AWS::IAM::Role",
			"UntrustedBuildProject": "AWS::CodeBuild::Project", "UntrustedBuildProjectRole": "AWS::IAM::Role",
			"UntrustedBuildProjectLogGroup": "AWS::Logs::LogGroup",
			"PipelineStateMachine":          "AWS::StepFunctions::StateMachine", "PipelineStateMachineRole": "AWS::IAM::Role",
			"PipelineLogGroup": "AWS::Logs::LogGroup", "BuildProjectLogGroup": "AWS::Logs::LogGroup", "SchedulerRole": "AWS::IAM::Role",
			"ScheduleGroup": "AWS::Scheduler::ScheduleGroup", "SourceEventRule": "AWS::Events::Rule",
			"AwsEventRule": "AWS::Events::Rule", "NotificationRule": "AWS::Events::Rule", "ExecutionEndedRule": "AWS::Events::Rule",
			"AdvanceFunctionExecutionEndedPermission": "AWS::Lambda::Permission",
			"AdvanceFunctionEventInvokeConfig":        "AWS::Lambda::EventInvokeConfig",
			"HttpApi":                                 "AWS::ApiGatewayV2::Api", "ApiAccessLogGroup": "AWS::Logs::LogGroup",
			"PipelineFailedAlarm": "AWS::CloudWatch::Alarm", "DeadLetterQueueAlarm": "AWS::CloudWatch::Alarm", "TriggerQueueAgeAlarm": "AWS::CloudWatch::Alarm",
			"TriggerQueue": "AWS::SQS::Queue", "TriggerQueuePolicy": "AWS::SQS::QueuePolicy",
			"DeadLetterQueuePolicy":       "AWS::SQS::QueuePolicy",
			"TriggerFunctionQueueMapping": "AWS::Lambda::EventSourceMapping",
			"NotifyQueue":                 "AWS::SQS::Queue", "NotifyQueuePolicy": "AWS::SQS::QueuePolicy",
			"NotifyFunctionQueueMapping":    "AWS::Lambda::EventSourceMapping",
			"WaitFunctionEventInvokeConfig": "AWS::Lambda::EventInvokeConfig",
		}
		for _, fn := range []string{"Webhook", "Trigger", "Advance", "Source", "Wait", "Callback", "Notify"} {
			want[fn+"Function"] = "AWS::Lambda::Function"
			want[fn+"FunctionRole"] = "AWS::IAM::Role"
			want[fn+"FunctionLogGroup"] = "AWS::Logs::LogGroup"
			want[fn+"FunctionErrorsAlarm"] = "AWS::CloudWatch::Alarm"
		}
		all := doc["Resources"].(map[string]any)
		for id, typ := range want {
			if assert.Contains(t, all, id) {
				assert.Equal(t, typ, all[id].(map[string]any)["Type"], id)
			}
		}
	})

	t.Run("the outputs are the twelve of docs/stack.md", func(t *testing.T) {
		outputs := slices.Sorted(maps.Keys(doc["Outputs"].(map[string]any)))
		assert.Equal(t, []string{"ApiUrl", "ArtifactBucketName", "BuildProjectName", "EventBusName",
			"NotificationTopicArn", "NotifyFunctionRoleArn", "NotifySecretPrefix", "SecretPrefix", "StateMachineArn", "TableName",
			"UntrustedBuildProjectName", "WebhookUrl"}, outputs)
		tmpl.HasOutput(jsii.String("SecretPrefix"), map[string]any{"Value": "cix/repos/"})
		tmpl.HasOutput(jsii.String("NotifySecretPrefix"), map[string]any{"Value": "cix/notify/"})
		tmpl.HasOutput(jsii.String("NotifyFunctionRoleArn"), map[string]any{"Value": getAtt("NotifyFunctionRole", "Arn")})
		tmpl.HasOutput(jsii.String("WebhookUrl"), map[string]any{
			"Value": map[string]any{"Fn::Join": []any{"", []any{getAtt("HttpApi", "ApiEndpoint"), "/webhooks"}}},
		})
	})
}

func TestStateMachineIsTheAslFile(t *testing.T) {
	_, doc := synth(t, props)
	sm := resources(doc, "AWS::StepFunctions::StateMachine")["PipelineStateMachine"]
	require.NotNil(t, sm)

	assert.Equal(t, string(statemachine.Definition()), sm["DefinitionString"], "the definition must be the file's bytes, placeholders and all")
	subs := sm["DefinitionSubstitutions"].(map[string]any)
	assert.ElementsMatch(t, statemachine.Substitutions(), slices.Collect(maps.Keys(subs)))
	for name, fn := range map[string]string{
		"AdvanceFunctionArn": "AdvanceFunction", "SourceFunctionArn": "SourceFunction", "WaitFunctionArn": "WaitFunction",
	} {
		assert.Equal(t, getAtt(fn, "Arn"), subs[name], name)
	}
	assert.Equal(t, "cix-pipeline", sm["StateMachineName"])
	assert.Equal(t, "STANDARD", sm["StateMachineType"])
	assert.Equal(t, getAtt("PipelineStateMachineRole", "Arn"), sm["RoleArn"])
	assert.Equal(t, map[string]any{"Enabled": true}, sm["TracingConfiguration"])
	assert.Equal(t, map[string]any{
		"Level": "ERROR", "IncludeExecutionData": true,
		"Destinations": []any{map[string]any{"CloudWatchLogsLogGroup": map[string]any{"LogGroupArn": getAtt("PipelineLogGroup", "Arn")}}},
	}, sm["LoggingConfiguration"])
}

// wantActions is docs/stack.md's "IAM actions per role" table; function roles also write
// their own log group.
var wantActions = map[string][]string{
	"WebhookFunctionRole": {"logs:CreateLogStream", "logs:PutLogEvents",
		"secretsmanager:GetSecretValue", "events:PutEvents", "s3:PutObject"},
	"TriggerFunctionRole": {"logs:CreateLogStream", "logs:PutLogEvents",
		"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:BatchGetItem",
		"secretsmanager:GetSecretValue", "s3:GetObject", "s3:ListBucket", "states:StartExecution", "states:DescribeExecution",
		"scheduler:CreateSchedule", "scheduler:UpdateSchedule", "scheduler:DeleteSchedule",
		"iam:PassRole", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility",
		"codecommit:GetFile", "codecommit:GetDifferences", "codecommit:GetBranch", "codecommit:GetRepository"},
	"AdvanceFunctionRole": {"logs:CreateLogStream", "logs:PutLogEvents",
		"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:BatchGetItem",
		"events:PutEvents", "states:SendTaskSuccess", "sqs:SendMessage"},
	"SourceFunctionRole": {"logs:CreateLogStream", "logs:PutLogEvents",
		"secretsmanager:GetSecretValue", "s3:PutObject", "s3:AbortMultipartUpload",
		"codecommit:GetFolder", "codecommit:GetBlob"},
	"WaitFunctionRole": {"logs:CreateLogStream", "logs:PutLogEvents",
		"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "events:PutEvents", "states:SendTaskSuccess", "states:SendTaskFailure",
		"scheduler:CreateSchedule", "scheduler:DeleteSchedule", "iam:PassRole", "sqs:SendMessage", "s3:GetObject"},
	"CallbackFunctionRole": {"logs:CreateLogStream", "logs:PutLogEvents",
		"dynamodb:GetItem", "dynamodb:DeleteItem", "events:PutEvents", "states:SendTaskSuccess", "states:SendTaskFailure"},
	"NotifyFunctionRole": {"logs:CreateLogStream", "logs:PutLogEvents",
		"dynamodb:GetItem", "dynamodb:PutItem", "secretsmanager:GetSecretValue", "events:PutEvents", "sns:Publish",
		"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"},
	"PipelineStateMachineRole": {"lambda:InvokeFunction",
		"codebuild:StartBuild", "codebuild:StopBuild", "codebuild:BatchGetBuilds",
		"events:PutTargets", "events:PutRule", "events:DescribeRule",
		"logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
		"logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
		"xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"},
	"BuildProjectRole": {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents",
		"s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:GetBucketAcl", "s3:GetBucketLocation"},
	"UntrustedBuildProjectRole": {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents",
		"s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:GetBucketAcl", "s3:GetBucketLocation"},
	"SchedulerRole": {"lambda:InvokeFunction", "sqs:SendMessage"},
}

// wantPrincipal is the service each role trusts.
var wantPrincipal = map[string]string{
	"PipelineStateMachineRole":  "states.amazonaws.com",
	"BuildProjectRole":          "codebuild.amazonaws.com",
	"UntrustedBuildProjectRole": "codebuild.amazonaws.com",
	"SchedulerRole":             "scheduler.amazonaws.com",
}

// statements returns every statement of a role's inline policies.
func statements(t *testing.T, role map[string]any) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, p := range role["Policies"].([]any) {
		for _, s := range p.(map[string]any)["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			out = append(out, s.(map[string]any))
		}
	}
	return out
}

func strs(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func TestRolesHoldExactlyTheActionsOfDocsStackMd(t *testing.T) {
	_, doc := synth(t, props)
	roles := resources(doc, "AWS::IAM::Role")
	assert.ElementsMatch(t, slices.Collect(maps.Keys(wantActions)), slices.Collect(maps.Keys(roles)))

	for id, role := range roles {
		t.Run(id, func(t *testing.T) {
			assert.NotContains(t, role, "ManagedPolicyArns", "inline policies only")
			principal := wantPrincipal[id]
			if principal == "" {
				principal = "lambda.amazonaws.com"
			}
			trust := role["AssumeRolePolicyDocument"].(map[string]any)["Statement"].([]any)
			require.Len(t, trust, 1)
			assert.Equal(t, map[string]any{"Service": principal}, trust[0].(map[string]any)["Principal"])
			if id == "SchedulerRole" {
				// Against the confused deputy: only this account's schedules assume it.
				assert.Equal(t, map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": map[string]any{"Fn::Sub": "${AWS::AccountId}"}}},
					trust[0].(map[string]any)["Condition"])
			} else {
				assert.NotContains(t, trust[0], "Condition")
			}

			var actions []string
			for _, s := range statements(t, role) {
				assert.Equal(t, "Allow", s["Effect"])
				got := strs(s["Action"])
				actions = append(actions, got...)
				resources, _ := s["Resource"].([]any)
				require.NotEmpty(t, resources)
				for _, a := range got {
					assert.NotContains(t, a, "*", "wildcard action")
				}
				if slices.Contains(strs(s["Resource"]), "*") {
					// Only the log-delivery and X-Ray actions, which accept no resource.
					assert.Equal(t, "PipelineStateMachineRole", id, "Resource * outside the state machine role")
					for _, a := range got {
						assert.True(t, strings.HasPrefix(a, "xray:") || strings.HasPrefix(a, "logs:"), "%s on Resource *", a)
					}
					assert.Len(t, resources, 1, "Resource * mixed with others")
				}
				if slices.Contains(got, "iam:PassRole") {
					assert.Equal(t, []string{"iam:PassRole"}, got, "PassRole shares its statement")
					assert.Equal(t, []any{getAtt("SchedulerRole", "Arn")}, resources, "PassRole on anything but SchedulerRole")
					assert.Equal(t, map[string]any{"StringEquals": map[string]any{"iam:PassedToService": "scheduler.amazonaws.com"}}, s["Condition"])
				} else if slices.Contains(got, "s3:ListBucket") {
					// Listing is what makes S3 answer NoSuchKey; it stops at the spilled events.
					assert.Equal(t, []string{"s3:ListBucket"}, got, "ListBucket shares its statement")
					assert.Equal(t, []any{getAtt("ArtifactBucket", "Arn")}, resources)
					assert.Equal(t, map[string]any{"StringLike": map[string]any{"s3:prefix": "webhooks/*"}}, s["Condition"])
				} else {
					assert.NotContains(t, s, "Condition")
				}
			}
			assert.ElementsMatch(t, wantActions[id], actions)
		})
	}

	t.Run("resources are the ones docs/stack.md names", func(t *testing.T) {
		resourceOf := func(role, action string) []any {
			for _, s := range statements(t, roles[role]) {
				if slices.Contains(strs(s["Action"]), action) {
					return s["Resource"].([]any)
				}
			}
			t.Fatalf("%s has no %s", role, action)
			return nil
		}
		sub := func(s string) map[string]any { return map[string]any{"Fn::Sub": s} }
		prefix := "arn:${AWS::Partition}:"
		region := ":${AWS::Region}:${AWS::AccountId}:"
		sm := sub(prefix + "states" + region + "stateMachine:cix-pipeline")
		within := func(id, suffix string) map[string]any {
			return map[string]any{"Fn::Join": []any{"", []any{getAtt(id, "Arn"), suffix}}}
		}
		table := []any{getAtt("Table", "Arn"), within("Table", "/index/*")}
		items := []any{getAtt("Table", "Arn")}
		for _, c := range []struct {
			role, action string
			want         []any
		}{
			{"WebhookFunctionRole", "secretsmanager:GetSecretValue", []any{sub(prefix + "secretsmanager" + region + "secret:cix/repos/*")}},
			{"WebhookFunctionRole", "events:PutEvents", []any{getAtt("EventBus", "Arn")}},
			{"WebhookFunctionRole", "s3:PutObject", []any{within("ArtifactBucket", "/webhooks/*")}},
			{"WebhookFunctionRole", "logs:PutLogEvents", []any{getAtt("WebhookFunctionLogGroup", "Arn")}},
			{"TriggerFunctionRole", "dynamodb:Query", table},
			{"TriggerFunctionRole", "s3:GetObject", []any{within("ArtifactBucket", "/webhooks/*")}},
			{"TriggerFunctionRole", "states:StartExecution", []any{sm}},
			{"TriggerFunctionRole", "states:DescribeExecution", []any{sub(prefix + "states" + region + "execution:cix-pipeline:*")}},
			{"TriggerFunctionRole", "scheduler:CreateSchedule", []any{sub(prefix + "scheduler" + region + "schedule/cix/*")}},
			{"TriggerFunctionRole", "s3:ListBucket", []any{getAtt("ArtifactBucket", "Arn")}},
			{"TriggerFunctionRole", "sqs:ReceiveMessage", []any{getAtt("TriggerQueue", "Arn")}},
			{"TriggerFunctionRole", "sqs:ChangeMessageVisibility", []any{getAtt("TriggerQueue", "Arn")}},
			{"AdvanceFunctionRole", "states:SendTaskSuccess", []any{sm}},
			{"AdvanceFunctionRole", "sqs:SendMessage", []any{getAtt("DeadLetterQueue", "Arn")}},
			{"SourceFunctionRole", "s3:AbortMultipartUpload", []any{within("ArtifactBucket", "/runs/*"), within("ArtifactBucket", "/untrusted/*")}},
			{"TriggerFunctionRole", "codecommit:GetDifferences", []any{sub(prefix + "codecommit" + region + "*")}},
			{"SourceFunctionRole", "codecommit:GetBlob", []any{sub(prefix + "codecommit" + region + "*")}},
			{"WaitFunctionRole", "dynamodb:PutItem", items},
			{"CallbackFunctionRole", "dynamodb:GetItem", items},
			{"WaitFunctionRole", "states:SendTaskFailure", []any{sm}},
			{"WaitFunctionRole", "s3:GetObject", []any{within("ArtifactBucket", "/runs/*")}},
			{"WaitFunctionRole", "sqs:SendMessage", []any{getAtt("DeadLetterQueue", "Arn")}},
			{"CallbackFunctionRole", "states:SendTaskSuccess", []any{sm}},
			{"NotifyFunctionRole", "dynamodb:PutItem", items},
			{"NotifyFunctionRole", "secretsmanager:GetSecretValue", []any{sub(prefix + "secretsmanager" + region + "secret:cix/repos/*"),
				sub(prefix + "secretsmanager" + region + "secret:cix/notify/*")}},
			{"NotifyFunctionRole", "events:PutEvents", []any{getAtt("EventBus", "Arn")}},
			{"NotifyFunctionRole", "sns:Publish", []any{ref("NotificationTopic")}},
			{"NotifyFunctionRole", "sqs:ReceiveMessage", []any{getAtt("NotifyQueue", "Arn")}},
			{"BuildProjectRole", "logs:CreateLogGroup", []any{sub(prefix + "logs" + region + "log-group:/aws/codebuild/cix-build"), getAtt("BuildProjectLogGroup", "Arn")}},
			{"BuildProjectRole", "s3:GetObjectVersion", []any{within("ArtifactBucket", "/runs/*")}},
			{"BuildProjectRole", "s3:GetBucketAcl", []any{getAtt("ArtifactBucket", "Arn")}},
			{"BuildProjectRole", "s3:GetBucketLocation", []any{getAtt("ArtifactBucket", "Arn")}},
			{"UntrustedBuildProjectRole", "logs:CreateLogGroup", []any{sub(prefix + "logs" + region + "log-group:/aws/codebuild/cix-untrusted"), getAtt("UntrustedBuildProjectLogGroup", "Arn")}},
			{"UntrustedBuildProjectRole", "s3:PutObject", []any{within("ArtifactBucket", "/untrusted/*")}},
			{"UntrustedBuildProjectRole", "s3:GetObject", []any{within("ArtifactBucket", "/untrusted/*")}},
			{"SchedulerRole", "lambda:InvokeFunction", []any{sub(prefix + "lambda" + region + "function:cix-wait")}},
			{"SchedulerRole", "sqs:SendMessage", []any{getAtt("TriggerQueue", "Arn")}},
			{"PipelineStateMachineRole", "lambda:InvokeFunction", []any{
				getAtt("AdvanceFunction", "Arn"), getAtt("SourceFunction", "Arn"), getAtt("WaitFunction", "Arn"),
				sub(prefix + "lambda" + region + "function:cix-action-*")}},
			{"PipelineStateMachineRole", "codebuild:StartBuild", []any{sub(prefix + "codebuild" + region + "project/cix-*")}},
			{"PipelineStateMachineRole", "events:PutRule", []any{sub(prefix + "events" + region + "rule/StepFunctionsGetEventForCodeBuildStartBuildRule")}},
		} {
			assert.Equal(t, c.want, resourceOf(c.role, c.action), "%s %s", c.role, c.action)
		}
	})
}

// denyInsecure matches a resource policy statement refusing requests without TLS.
func denyInsecure() any {
	return assertions.Match_ObjectLike(&map[string]any{
		"Effect":    "Deny",
		"Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
	})
}

func TestResourcePoliciesRefusePlainHttp(t *testing.T) {
	tmpl, _ := synth(t, props)
	for typ, target := range map[string]map[string]any{
		"AWS::S3::BucketPolicy": {"Bucket": ref("ArtifactBucket")},
		"AWS::SQS::QueuePolicy": {"Queues": []any{ref("DeadLetterQueue")}},
		"AWS::SNS::TopicPolicy": {"Topics": []any{ref("NotificationTopic")}},
	} {
		props := map[string]any{
			"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{denyInsecure()})},
		}
		maps.Copy(props, target)
		tmpl.HasResourceProperties(jsii.String(typ), props)
	}
	tmpl.HasResourceProperties(jsii.String("AWS::S3::BucketPolicy"), map[string]any{
		"PolicyDocument": map[string]any{"Statement": []any{map[string]any{
			"Effect": "Deny", "Principal": map[string]any{"AWS": "*"}, "Action": []any{"s3:*"},
			"Resource":  []any{getAtt("ArtifactBucket", "Arn"), map[string]any{"Fn::Join": []any{"", []any{getAtt("ArtifactBucket", "Arn"), "/*"}}}},
			"Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
		}}},
	})
}

func TestDeadLetterQueueCatchesEveryAsynchronousDelivery(t *testing.T) {
	tmpl, doc := synth(t, props)
	dlq := getAtt("DeadLetterQueue", "Arn")
	tmpl.HasResourceProperties(jsii.String("AWS::SQS::Queue"), map[string]any{
		"QueueName": "cix-dlq", "SqsManagedSseEnabled": true, "MessageRetentionPeriod": 1209600,
	})

	rules := resources(doc, "AWS::Events::Rule")
	require.Len(t, rules, 4)
	var sources []any
	for id, rule := range rules {
		sources = append(sources, getAtt(id, "Arn"))
		for _, target := range rule["Targets"].([]any) {
			assert.Equal(t, map[string]any{"Arn": dlq}, target.(map[string]any)["DeadLetterConfig"], "target of %s", id)
		}
	}
	assert.Equal(t, map[string]any{"MaximumRetryAttempts": 185.0, "MaximumEventAgeInSeconds": 86400.0},
		rules["SourceEventRule"]["Targets"].([]any)[0].(map[string]any)["RetryPolicy"])

	// EventBridge delivers to a dead-letter queue as itself: the queue policy must let in
	// exactly these rules.
	assert.ElementsMatch(t, sources, queueSenders(t, doc, "DeadLetterQueuePolicy"))
}

func TestALostExpiryLandsInTheDeadLetterQueue(t *testing.T) {
	tmpl, doc := synth(t, props)
	// The deadline's schedule invokes the wait function asynchronously: an expiry that still
	// fails after Lambda's retries goes to the dead-letter queue, sent with the function's
	// role, instead of leaving the run waiting out the Wait state's 7 days.
	tmpl.HasResourceProperties(jsii.String("AWS::Lambda::EventInvokeConfig"), map[string]any{
		"FunctionName":             ref("WaitFunction"),
		"Qualifier":                "$LATEST",
		"MaximumRetryAttempts":     2,
		"MaximumEventAgeInSeconds": 21600,
		"DestinationConfig":        map[string]any{"OnFailure": map[string]any{"Destination": getAtt("DeadLetterQueue", "Arn")}},
	})
	configs := resources(doc, "AWS::Lambda::EventInvokeConfig")
	assert.ElementsMatch(t, []string{"WaitFunctionEventInvokeConfig", "AdvanceFunctionEventInvokeConfig"}, slices.Collect(maps.Keys(configs)))
	alarm := resources(doc, "AWS::CloudWatch::Alarm")["DeadLetterQueueAlarm"]
	assert.Equal(t, getAtt("DeadLetterQueue", "QueueName"), alarm["Dimensions"].([]any)[0].(map[string]any)["Value"], "the alarm sees it")
}

// queueSenders returns the rules a queue policy lets EventBridge send from.
func queueSenders(t *testing.T, doc map[string]any, id string) []any {
	t.Helper()
	policy := resources(doc, "AWS::SQS::QueuePolicy")[id]
	require.NotNil(t, policy, id)
	var allowed []any
	for _, s := range policy["PolicyDocument"].(map[string]any)["Statement"].([]any) {
		st := s.(map[string]any)
		if st["Effect"] == "Allow" {
			assert.Equal(t, map[string]any{"Service": "events.amazonaws.com"}, st["Principal"])
			assert.Equal(t, []any{"sqs:SendMessage"}, st["Action"])
			allowed = st["Condition"].(map[string]any)["ArnEquals"].(map[string]any)["aws:SourceArn"].([]any)
		}
	}
	return allowed
}

func TestTheTriggerQueueHoldsEveryTriggerInputUntilItIsHandled(t *testing.T) {
	tmpl, doc := synth(t, props)
	queue := getAtt("TriggerQueue", "Arn")
	tmpl.HasResourceProperties(jsii.String("AWS::SQS::Queue"), map[string]any{
		"QueueName": "cix-trigger", "SqsManagedSseEnabled": true,
		"VisibilityTimeout":      360,    // 6 × the function's 60 s, as Lambda asks
		"MessageRetentionPeriod": 345600, // 4 days
		"RedrivePolicy":          map[string]any{"deadLetterTargetArn": getAtt("DeadLetterQueue", "Arn"), "maxReceiveCount": 60},
	})
	fn := resources(doc, "AWS::Lambda::Function")["TriggerFunction"]
	queueProps := resources(doc, "AWS::SQS::Queue")["TriggerQueue"]
	assert.GreaterOrEqual(t, queueProps["VisibilityTimeout"].(float64), 6*fn["Timeout"].(float64))

	rules := resources(doc, "AWS::Events::Rule")
	for _, id := range []string{"SourceEventRule", "AwsEventRule"} {
		targets := rules[id]["Targets"].([]any)
		require.Len(t, targets, 1, id)
		assert.Equal(t, queue, targets[0].(map[string]any)["Arn"], "%s sends to the trigger queue, not the function", id)
	}
	assert.ElementsMatch(t, []any{getAtt("SourceEventRule", "Arn"), getAtt("AwsEventRule", "Arn")}, queueSenders(t, doc, "TriggerQueuePolicy"))
	tmpl.HasResourceProperties(jsii.String("AWS::SQS::QueuePolicy"), map[string]any{
		"Queues":         []any{ref("TriggerQueue")},
		"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{denyInsecure()})},
	})

	tmpl.HasResourceProperties(jsii.String("AWS::Lambda::EventSourceMapping"), map[string]any{
		"EventSourceArn":                 queue,
		"FunctionName":                   ref("TriggerFunction"),
		"BatchSize":                      10,
		"MaximumBatchingWindowInSeconds": 1,
		"FunctionResponseTypes":          []any{"ReportBatchItemFailures"},
	})
	for id, p := range resources(doc, "AWS::Lambda::Permission") {
		if id != "AdvanceFunctionExecutionEndedPermission" {
			assert.NotEqual(t, "events.amazonaws.com", p["Principal"], "%s: EventBridge invokes no function but advance, for ExecutionEndedRule", id)
		}
	}
}

// TestTheNotifyQueueHoldsEveryStateChangeUntilItIsTold: every state change and approval
// request of the bus goes to the notify queue (not to the topic, which only the notify
// function and the alarms publish to), whose messages the notify function takes in batches
// and retries alone; after 60 receives they wait in the dead-letter queue, redrivable.
func TestTheNotifyQueueHoldsEveryStateChangeUntilItIsTold(t *testing.T) {
	tmpl, doc := synth(t, props)
	queue := getAtt("NotifyQueue", "Arn")
	tmpl.HasResourceProperties(jsii.String("AWS::SQS::Queue"), map[string]any{
		"QueueName": "cix-notify", "SqsManagedSseEnabled": true,
		"VisibilityTimeout":      360,
		"MessageRetentionPeriod": 345600,
		"RedrivePolicy":          map[string]any{"deadLetterTargetArn": getAtt("DeadLetterQueue", "Arn"), "maxReceiveCount": 60},
	})
	fn := resources(doc, "AWS::Lambda::Function")["NotifyFunction"]
	assert.GreaterOrEqual(t, resources(doc, "AWS::SQS::Queue")["NotifyQueue"]["VisibilityTimeout"].(float64), 6*fn["Timeout"].(float64))

	rule := resources(doc, "AWS::Events::Rule")["NotificationRule"]
	require.NotNil(t, rule)
	assert.Equal(t, ref("EventBus"), rule["EventBusName"])
	// The detail-types pkg/changes and pkg/approval put on the bus, which notify.Decode reads.
	assert.Equal(t, map[string]any{"source": []any{changes.Source}, "detail-type": []any{changes.DetailPipeline, changes.DetailStage,
		changes.DetailAction, approval.DetailRequested}}, rule["EventPattern"])
	targets := rule["Targets"].([]any)
	require.Len(t, targets, 1)
	assert.Equal(t, queue, targets[0].(map[string]any)["Arn"])
	assert.Equal(t, map[string]any{"MaximumRetryAttempts": 185.0, "MaximumEventAgeInSeconds": 86400.0}, targets[0].(map[string]any)["RetryPolicy"])
	assert.ElementsMatch(t, []any{getAtt("NotificationRule", "Arn")}, queueSenders(t, doc, "NotifyQueuePolicy"))
	tmpl.HasResourceProperties(jsii.String("AWS::SQS::QueuePolicy"), map[string]any{
		"Queues":         []any{ref("NotifyQueue")},
		"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{denyInsecure()})},
	})
	tmpl.HasResourceProperties(jsii.String("AWS::Lambda::EventSourceMapping"), map[string]any{
		"EventSourceArn":                 queue,
		"FunctionName":                   ref("NotifyFunction"),
		"BatchSize":                      10,
		"MaximumBatchingWindowInSeconds": 1,
		"FunctionResponseTypes":          []any{"ReportBatchItemFailures"},
	})

	// Only this account's alarms publish to the topic as a service; EventBridge no longer does.
	policy := resources(doc, "AWS::SNS::TopicPolicy")["NotificationTopicPolicy"]
	for _, st := range policy["PolicyDocument"].(map[string]any)["Statement"].([]any) {
		if st.(map[string]any)["Effect"] == "Allow" {
			assert.Equal(t, map[string]any{"Service": "cloudwatch.amazonaws.com"}, st.(map[string]any)["Principal"])
		}
	}
}

func TestTheDashboardUrlReachesTheNotifyFunction(t *testing.T) {
	p := props
	p.DashboardURL = "https://ci.example.com/runs/{run}"
	_, doc := synth(t, p)
	env := resources(doc, "AWS::Lambda::Function")["NotifyFunction"]["Environment"].(map[string]any)["Variables"].(map[string]any)
	assert.Equal(t, "https://ci.example.com/runs/{run}", env["STEPLINE_DASHBOARD_URL"])
	assert.Equal(t, "cix/notify/", env["STEPLINE_NOTIFY_SECRET_PREFIX"])

	bad := props
	bad.DashboardURL = "ci.example.com"
	assert.ErrorContains(t, bad.Validate(), "DashboardURL")
}

func TestEveryAlarmWatchesItsMetricAndNotifies(t *testing.T) {
	_, doc := synth(t, props)
	alarms := resources(doc, "AWS::CloudWatch::Alarm")
	type metric struct{ namespace, name, dimension string }
	want := map[string]metric{
		"PipelineFailedAlarm":  {"AWS/States", "ExecutionsFailed", "StateMachineArn"},
		"DeadLetterQueueAlarm": {"AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName"},
		"TriggerQueueAgeAlarm": {"AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName"},
	}
	for _, fn := range []string{"Webhook", "Trigger", "Advance", "Source", "Wait", "Callback", "Notify"} {
		want[fn+"FunctionErrorsAlarm"] = metric{"AWS/Lambda", "Errors", "FunctionName"}
	}
	assert.ElementsMatch(t, slices.Collect(maps.Keys(want)), slices.Collect(maps.Keys(alarms)))
	for id, m := range want {
		a := alarms[id]
		if !assert.NotNil(t, a, id) {
			continue
		}
		assert.Equal(t, m.namespace, a["Namespace"], id)
		assert.Equal(t, m.name, a["MetricName"], id)
		assert.Equal(t, m.dimension, a["Dimensions"].([]any)[0].(map[string]any)["Name"], id)
		assert.Equal(t, 300.0, a["Period"], id)
		threshold := 1.0
		if id == "TriggerQueueAgeAlarm" {
			threshold = 900 // seconds the oldest input has waited
		}
		assert.Equal(t, threshold, a["Threshold"], id)
		assert.Equal(t, "GreaterThanOrEqualToThreshold", a["ComparisonOperator"], id)
		assert.Equal(t, []any{ref("NotificationTopic")}, a["AlarmActions"], id)
	}
	assert.Equal(t, ref("WaitFunction"), alarms["WaitFunctionErrorsAlarm"]["Dimensions"].([]any)[0].(map[string]any)["Value"])
}

func TestFunctionsMatchTheFunctionTable(t *testing.T) {
	_, doc := synth(t, props)
	fns := resources(doc, "AWS::Lambda::Function")
	for _, c := range []struct {
		id, name        string
		memory, timeout float64
		env             []string
	}{
		{"WebhookFunction", "webhook", 256, 10, []string{"STEPLINE_EVENT_BUS", "STEPLINE_BUCKET", "STEPLINE_SECRET_PREFIX", "STEPLINE_ALLOWED_REPOS"}},
		{"TriggerFunction", "trigger", 256, 60, []string{"STEPLINE_TABLE", "STEPLINE_STATE_MACHINE_ARN", "STEPLINE_BUCKET", "STEPLINE_SECRET_PREFIX", "STEPLINE_SCHEDULER_ROLE_ARN", "STEPLINE_SCHEDULE_GROUP", "STEPLINE_TRIGGER_QUEUE_ARN"}},
		{"AdvanceFunction", "advance", 512, 60, []string{"STEPLINE_TABLE", "STEPLINE_EVENT_BUS", "STEPLINE_BUCKET", "STEPLINE_CODEBUILD_PROJECT", "STEPLINE_CODEBUILD_UNTRUSTED_PROJECT", "STEPLINE_CODEBUILD_IMAGE", "STEPLINE_CODEBUILD_COMPUTE_TYPE"}},
		{"SourceFunction", "source", 1024, 900, []string{"STEPLINE_SECRET_PREFIX"}},
		{"WaitFunction", "wait", 256, 900, []string{"STEPLINE_TABLE", "STEPLINE_EVENT_BUS", "STEPLINE_API_URL", "STEPLINE_SCHEDULER_ROLE_ARN", "STEPLINE_SCHEDULE_GROUP", "STEPLINE_STATE_MACHINE_ARN", "STEPLINE_BUCKET"}},
		{"CallbackFunction", "callback", 256, 10, []string{"STEPLINE_TABLE", "STEPLINE_EVENT_BUS"}},
		{"NotifyFunction", "notify", 256, 60, []string{"STEPLINE_TABLE", "STEPLINE_EVENT_BUS", "STEPLINE_TOPIC_ARN", "STEPLINE_SECRET_PREFIX",
			"STEPLINE_NOTIFY_SECRET_PREFIX", "STEPLINE_DASHBOARD_URL"}},
	} {
		t.Run(c.id, func(t *testing.T) {
			fn := fns[c.id]
			require.NotNil(t, fn)
			assert.Equal(t, "cix-"+c.name, fn["FunctionName"])
			assert.Equal(t, "provided.al2023", fn["Runtime"])
			assert.Equal(t, []any{"arm64"}, fn["Architectures"])
			assert.Equal(t, "bootstrap", fn["Handler"])
			assert.Equal(t, c.memory, fn["MemorySize"])
			assert.Equal(t, c.timeout, fn["Timeout"])
			assert.Equal(t, getAtt(c.id+"Role", "Arn"), fn["Role"])
			assert.Equal(t, map[string]any{
				"LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "WARN", "LogGroup": ref(c.id + "LogGroup"),
			}, fn["LoggingConfig"])
			env := fn["Environment"].(map[string]any)["Variables"].(map[string]any)
			assert.ElementsMatch(t, c.env, slices.Collect(maps.Keys(env)))
		})
	}
	webhook := fns["WebhookFunction"]["Environment"].(map[string]any)["Variables"].(map[string]any)
	assert.Equal(t, "github:acme/*,bitbucket:team/api", webhook["STEPLINE_ALLOWED_REPOS"])
	assert.Equal(t, "cix/repos/", webhook["STEPLINE_SECRET_PREFIX"])
	wait := fns["WaitFunction"]["Environment"].(map[string]any)["Variables"].(map[string]any)
	assert.Equal(t, getAtt("HttpApi", "ApiEndpoint"), wait["STEPLINE_API_URL"])
	assert.Equal(t, getAtt("SchedulerRole", "Arn"), wait["STEPLINE_SCHEDULER_ROLE_ARN"])
	assert.Equal(t, ref("ScheduleGroup"), wait["STEPLINE_SCHEDULE_GROUP"])
	trigger := fns["TriggerFunction"]["Environment"].(map[string]any)["Variables"].(map[string]any)
	assert.Equal(t, getAtt("TriggerQueue", "Arn"), trigger["STEPLINE_TRIGGER_QUEUE_ARN"], "schedules send to the trigger queue")

	groups := resources(doc, "AWS::Logs::LogGroup")
	for id, g := range groups {
		assert.Equal(t, 14.0, g["RetentionInDays"], id)
	}
	assert.Equal(t, "/aws/lambda/cix-webhook", groups["WebhookFunctionLogGroup"]["LogGroupName"])
	assert.Equal(t, "/aws/vendedlogs/states/cix-pipeline", groups["PipelineLogGroup"]["LogGroupName"])
}

func TestTableIsDynamoSchema(t *testing.T) {
	_, doc := synth(t, props)
	table := resources(doc, "AWS::DynamoDB::Table")["Table"]
	require.NotNil(t, table)
	schema := dynamo.Schema("cix")

	assert.Equal(t, *schema.TableName, table["TableName"])
	assert.Equal(t, string(schema.BillingMode), table["BillingMode"])
	var attrs []any
	for _, a := range schema.AttributeDefinitions {
		attrs = append(attrs, map[string]any{"AttributeName": *a.AttributeName, "AttributeType": string(a.AttributeType)})
	}
	assert.Equal(t, attrs, table["AttributeDefinitions"])
	keys := func(ks []any) []string {
		var out []string
		for _, k := range ks {
			m := k.(map[string]any)
			out = append(out, m["AttributeName"].(string)+"/"+m["KeyType"].(string))
		}
		return out
	}
	assert.Equal(t, []string{"pk/HASH", "sk/RANGE"}, keys(table["KeySchema"].([]any)))
	gsis := table["GlobalSecondaryIndexes"].([]any)
	require.Len(t, gsis, len(schema.GlobalSecondaryIndexes))
	for i, g := range schema.GlobalSecondaryIndexes {
		got := gsis[i].(map[string]any)
		assert.Equal(t, *g.IndexName, got["IndexName"])
		var want []string
		for _, k := range g.KeySchema {
			want = append(want, *k.AttributeName+"/"+string(k.KeyType))
		}
		assert.Equal(t, want, keys(got["KeySchema"].([]any)))
		assert.Equal(t, map[string]any{"ProjectionType": string(g.Projection.ProjectionType)}, got["Projection"])
	}
	assert.Equal(t, map[string]any{"AttributeName": dynamo.TTLAttribute, "Enabled": true}, table["TimeToLiveSpecification"])
	assert.Equal(t, map[string]any{"PointInTimeRecoveryEnabled": true}, table["PointInTimeRecoverySpecification"])
}

func TestApiRoutesAndThrottling(t *testing.T) {
	tmpl, doc := synth(t, props)
	routes := map[string]any{}
	for _, r := range resources(doc, "AWS::ApiGatewayV2::Route") {
		routes[r["RouteKey"].(string)] = r["Target"]
	}
	integration := func(id string) any {
		return map[string]any{"Fn::Join": []any{"/", []any{"integrations", ref(id)}}}
	}
	assert.Equal(t, map[string]any{
		"POST /webhooks/{provider}/{hook}": integration("WebhookIntegration"),
		"GET /approvals/{run}/{task}":      integration("CallbackIntegration"),
		"POST /approvals/{run}/{task}":     integration("CallbackIntegration"),
	}, routes)
	// Each route lets API Gateway invoke its function for that method and path only.
	permissions := resources(doc, "AWS::Lambda::Permission")
	for id, c := range map[string]struct{ fn, arn string }{
		"WebhookFunctionWebhookPermission":       {"WebhookFunction", "/*/POST/webhooks/*/*"},
		"CallbackFunctionApprovalGetPermission":  {"CallbackFunction", "/*/GET/approvals/*/*"},
		"CallbackFunctionApprovalPostPermission": {"CallbackFunction", "/*/POST/approvals/*/*"},
	} {
		p := permissions[id]
		if !assert.NotNil(t, p, id) {
			continue
		}
		assert.Equal(t, getAtt(c.fn, "Arn"), p["FunctionName"], id)
		assert.Equal(t, "apigateway.amazonaws.com", p["Principal"], id)
		assert.Equal(t, map[string]any{"Fn::Sub": []any{
			"arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${Api}" + c.arn,
			map[string]any{"Api": ref("HttpApi")},
		}}, p["SourceArn"], id)
	}
	tmpl.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Stage"), map[string]any{
		"StageName":            "$default",
		"AutoDeploy":           true,
		"DefaultRouteSettings": map[string]any{"ThrottlingRateLimit": 50, "ThrottlingBurstLimit": 100},
		"RouteSettings": map[string]any{
			"POST /webhooks/{provider}/{hook}": map[string]any{"ThrottlingRateLimit": 20, "ThrottlingBurstLimit": 40},
		},
		"AccessLogSettings": assertions.Match_ObjectLike(&map[string]any{"DestinationArn": getAtt("ApiAccessLogGroup", "Arn")}),
	})
}

func TestBucketExpiresWhatDocsStackMdSays(t *testing.T) {
	tmpl, _ := synth(t, props)
	tmpl.HasResourceProperties(jsii.String("AWS::S3::Bucket"), map[string]any{
		"OwnershipControls": map[string]any{"Rules": []any{map[string]any{"ObjectOwnership": "BucketOwnerEnforced"}}},
		"PublicAccessBlockConfiguration": map[string]any{
			"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true,
		},
		"LifecycleConfiguration": map[string]any{"Rules": assertions.Match_ArrayWith(&[]any{
			assertions.Match_ObjectLike(&map[string]any{"Prefix": "runs/", "ExpirationInDays": 9}),
			assertions.Match_ObjectLike(&map[string]any{"Prefix": "webhooks/", "ExpirationInDays": 7}),
			assertions.Match_ObjectLike(&map[string]any{"AbortIncompleteMultipartUpload": map[string]any{"DaysAfterInitiation": 1}}),
		})},
	})
	tmpl.HasResourceProperties(jsii.String("AWS::CodeBuild::Project"), map[string]any{
		"Name":          "cix-build",
		"EncryptionKey": "alias/aws/s3",
		"Source":        assertions.Match_ObjectLike(&map[string]any{"Type": "NO_SOURCE"}),
		"Environment": assertions.Match_ObjectLike(&map[string]any{
			"Type": "ARM_CONTAINER", "Image": "aws/codebuild/amazonlinux-aarch64-standard:3.0", "ComputeType": "BUILD_GENERAL1_SMALL",
		}),
	})
}

func TestNotificationSubscriptionOnlyWithAnEmail(t *testing.T) {
	tmpl, _ := synth(t, stepline.Props{})
	tmpl.ResourceCountIs(jsii.String("AWS::SNS::Subscription"), jsii.Number(0))
	// Defaults: the name stepline, 30-day retention.
	tmpl.HasResourceProperties(jsii.String("AWS::DynamoDB::Table"), map[string]any{"TableName": "stepline"})
	tmpl.HasResourceProperties(jsii.String("AWS::Logs::LogGroup"), map[string]any{
		"LogGroupName": "/aws/lambda/stepline-webhook", "RetentionInDays": 30,
	})
}

func TestValidateRefusesPropsThatFailOnlyAtDeploy(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, stepline.WritePlaceholderZips(dir))
	for _, c := range []struct {
		name  string
		props stepline.Props
		want  string
	}{
		{"a name with a slash", stepline.Props{Name: "a/b"}, "Name"},
		{"a name too long for a function name", stepline.Props{Name: strings.Repeat("n", 56)}, "Name"},
		{"a name too short for a table name", stepline.Props{Name: "ci"}, "Name"},
		{"a retention CloudWatch Logs does not offer", stepline.Props{LogRetentionDays: 10}, "LogRetentionDays"},
		{"a negative artifact retention", stepline.Props{ArtifactRetentionDays: -1}, "ArtifactRetentionDays"},
		{"a repository glob with a comma", stepline.Props{AllowedRepositories: []string{"a,b"}}, "AllowedRepositories"},
		{"a repository of a provider the webhook does not know", stepline.Props{AllowedRepositories: []string{"gitlab:acme/api"}},
			"AllowedRepositories: allowed repository \"gitlab:acme/api\": expected provider:owner/repo"},
		{"a repository glob the webhook cannot read", stepline.Props{AllowedRepositories: []string{"github:acme/[api"}}, "is not an owner/repo pattern"},
		{"a repository without an owner", stepline.Props{AllowedRepositories: []string{"github:api"}}, "is not an owner/repo pattern"},
		{"a functions directory without zips", stepline.Props{FunctionsDir: t.TempDir()}, "webhook.zip"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.props.FunctionsDir == "" {
				c.props.FunctionsDir = dir
			}
			err := c.props.Validate()
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
	ok := stepline.Props{FunctionsDir: dir}
	assert.NoError(t, ok.Validate())
	ok = stepline.Props{Name: "abc", AllowedRepositories: []string{"github:acme/*", " bitbucket-server:OPS/deploy "}, FunctionsDir: dir}
	assert.NoError(t, ok.Validate(), "the shortest name and lists the webhook accepts")
}

func TestAnExecutionThatEndsOutsideTheStateMachineReachesTheAdvanceFunction(t *testing.T) {
	tmpl, doc := synth(t, props)
	dlq := getAtt("DeadLetterQueue", "Arn")
	// The event and its pattern: https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-states.html
	// and https://docs.aws.amazon.com/step-functions/latest/dg/cw-events.html
	rule := resources(doc, "AWS::Events::Rule")["ExecutionEndedRule"]
	require.NotNil(t, rule)
	assert.Nil(t, rule["EventBusName"], "Step Functions sends to the default bus")
	assert.Equal(t, map[string]any{
		"source":      []any{"aws.states"},
		"detail-type": []any{statemachine.ExecutionStatusChange},
		"detail": map[string]any{
			"status":          []any{"FAILED", "TIMED_OUT", "ABORTED"},
			"stateMachineArn": []any{ref("PipelineStateMachine")},
		},
	}, rule["EventPattern"], "this stack's state machine only, and only the ends that may strand a lock")
	assert.Equal(t, []any{map[string]any{
		"Id": "AdvanceFunction", "Arn": getAtt("AdvanceFunction", "Arn"),
		"DeadLetterConfig": map[string]any{"Arn": dlq},
		"RetryPolicy":      map[string]any{"MaximumRetryAttempts": 185.0, "MaximumEventAgeInSeconds": 86400.0},
	}}, rule["Targets"])

	// EventBridge may invoke the function for this rule only:
	// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-lambda-permissions
	tmpl.HasResourceProperties(jsii.String("AWS::Lambda::Permission"), map[string]any{
		"Action": "lambda:InvokeFunction", "FunctionName": getAtt("AdvanceFunction", "Arn"),
		"Principal": "events.amazonaws.com", "SourceArn": getAtt("ExecutionEndedRule", "Arn"),
	})
	// A handling that fails every attempt lands in the dead-letter queue, sent with the
	// function's role: https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html
	tmpl.HasResourceProperties(jsii.String("AWS::Lambda::EventInvokeConfig"), map[string]any{
		"FunctionName": ref("AdvanceFunction"), "Qualifier": "$LATEST",
		"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 21600,
		"DestinationConfig": map[string]any{"OnFailure": map[string]any{"Destination": dlq}},
	})
	role := resources(doc, "AWS::IAM::Role")["AdvanceFunctionRole"]
	statements := role["Policies"].([]any)[0].(map[string]any)["PolicyDocument"].(map[string]any)["Statement"].([]any)
	assert.Contains(t, statements, map[string]any{"Effect": "Allow", "Action": []any{"sqs:SendMessage"}, "Resource": []any{dlq}})
	assert.Contains(t, queueSenders(t, doc, "DeadLetterQueuePolicy"), getAtt("ExecutionEndedRule", "Arn"))
}
