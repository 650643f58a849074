package stepline

import (
	"path/filepath"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// function is one row of docs/stack.md's function table.
type function struct {
	name    string // <fn>: the zip, the physical name's suffix
	memory  int
	timeout int
	env     map[string]string
	policy  []statement
}

// logicalID is the function's logical id: WebhookFunction for webhook.
func (f function) logicalID() string { return strings.ToUpper(f.name[:1]) + f.name[1:] + "Function" }

var tableActions = []string{
	"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
	"dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:BatchGetItem",
}

var passedToScheduler = map[string]any{"StringEquals": map[string]any{"iam:PassedToService": "scheduler.amazonaws.com"}}

// functions creates the scheduler role, then each function with its role and log group,
// the mapping that feeds the trigger queue to the trigger function, and the wait function's
// asynchronous invocation settings.
func (s *Stepline) functions() {
	// The scheduler role names the wait function by an ARN built from its name: the function
	// carries this role's ARN in its environment. Pipeline schedules send to the trigger
	// queue. Scheduler may assume the role for this account's schedules only.
	triggerQueue := *s.TriggerQueue.AttrArn()
	scheduler := newConditionalRole(s.Construct, "SchedulerRole", "scheduler.amazonaws.com",
		map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": sub("${AWS::AccountId}")}},
		allow([]string{"lambda:InvokeFunction"}, s.functionArn("wait")),
		allow([]string{"sqs:SendMessage"}, triggerQueue))
	s.Roles["SchedulerRole"] = scheduler
	schedulerArn := *scheduler.AttrArn()

	bucketArn := *s.ArtifactBucket.AttrArn()
	tableArn := *s.Table.AttrArn()
	tables := []string{tableArn, tableArn + "/index/*"}
	// The wait and callback functions read and write items by key and query no index.
	items := []string{tableArn}
	busArn := *s.EventBus.AttrArn()
	sm := s.stateMachineArn()
	exec := arn("states", "execution:"+s.name("-pipeline")+":*")
	secrets := s.secretsArn()
	// Every CodeCommit repository of the stack's account and region: repositories are
	// registered by pushing to them, not by deploying the stack.
	codecommitRepos := arn("codecommit", "*")
	passRole := statement{actions: []string{"iam:PassRole"}, resources: []string{schedulerArn}, condition: passedToScheduler}

	dlq := *s.DeadLetterQueue.AttrArn()
	table, bus, bucket := *s.Table.Ref(), *s.EventBus.Ref(), *s.ArtifactBucket.Ref()
	group := *s.ScheduleGroup.Ref()
	topic, notifyQueue := *s.NotificationTopic.Ref(), *s.NotifyQueue.AttrArn()

	for _, f := range []function{
		{name: "webhook", memory: 256, timeout: 10,
			env: map[string]string{
				"STEPLINE_EVENT_BUS": bus, "STEPLINE_BUCKET": bucket,
				"STEPLINE_SECRET_PREFIX": s.secretPrefix(),
				"STEPLINE_ALLOWED_REPOS": strings.Join(s.Props.AllowedRepositories, ","),
			},
			policy: []statement{
				allow([]string{"secretsmanager:GetSecretValue"}, secrets),
				allow([]string{"events:PutEvents"}, busArn),
				allow([]string{"s3:PutObject"}, bucketArn+"/webhooks/*"),
			}},
		{name: "trigger", memory: 256, timeout: triggerTimeout,
			env: map[string]string{
				"STEPLINE_TABLE": table, "STEPLINE_STATE_MACHINE_ARN": sm, "STEPLINE_BUCKET": bucket,
				"STEPLINE_SECRET_PREFIX":      s.secretPrefix(),
				"STEPLINE_SCHEDULER_ROLE_ARN": schedulerArn, "STEPLINE_SCHEDULE_GROUP": group,
				"STEPLINE_TRIGGER_QUEUE_ARN": triggerQueue,
			},
			policy: []statement{
				allow(tableActions, tables...),
				allow([]string{"secretsmanager:GetSecretValue"}, secrets),
				allow([]string{"s3:GetObject"}, bucketArn+"/webhooks/*"),
				// Without a list grant S3 answers 403 for a missing object instead of
				// NoSuchKey, which the trigger treats as permanent; limited to webhooks/.
				{actions: []string{"s3:ListBucket"}, resources: []string{bucketArn},
					condition: map[string]any{"StringLike": map[string]any{"s3:prefix": "webhooks/*"}}},
				allow([]string{"states:StartExecution"}, sm),
				allow([]string{"states:DescribeExecution"}, exec),
				allow([]string{"scheduler:CreateSchedule", "scheduler:UpdateSchedule", "scheduler:DeleteSchedule"}, s.scheduleArn()),
				passRole,
				// The event source mapping polls the trigger queue as this role.
				allow([]string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"}, triggerQueue),
				// CodeCommit repositories are read with this role, not a secret: the pipeline
				// file, the changed files, a schedule's branch head, the default branch.
				allow([]string{"codecommit:GetFile", "codecommit:GetDifferences", "codecommit:GetBranch", "codecommit:GetRepository"}, codecommitRepos),
			}},
		{name: "advance", memory: 512, timeout: 60,
			env: map[string]string{
				"STEPLINE_TABLE": table, "STEPLINE_EVENT_BUS": bus, "STEPLINE_BUCKET": bucket,
				"STEPLINE_CODEBUILD_PROJECT": s.name("-build"),
				// Where every build of an untrusted run goes (docs/trust.md).
				"STEPLINE_CODEBUILD_UNTRUSTED_PROJECT": s.name("-untrusted"),
				"STEPLINE_CODEBUILD_IMAGE":             BuildImage, "STEPLINE_CODEBUILD_COMPUTE_TYPE": BuildComputeType,
			},
			policy: []statement{
				allow(tableActions, tables...),
				allow([]string{"events:PutEvents"}, busArn),
				allow([]string{"states:SendTaskSuccess"}, sm),
				// Lambda sends an execution-ended event whose handling failed every attempt
				// to the dead-letter queue with the function's role.
				allow([]string{"sqs:SendMessage"}, dlq),
			}},
		{name: "source", memory: 1024, timeout: 900,
			env: map[string]string{"STEPLINE_SECRET_PREFIX": s.secretPrefix()},
			policy: []statement{
				allow([]string{"secretsmanager:GetSecretValue"}, secrets),
				// A trusted run's source archive under runs/, an untrusted run's under
				// untrusted/ (docs/trust.md): the task names the key.
				allow([]string{"s3:PutObject", "s3:AbortMultipartUpload"}, bucketArn+"/runs/*", bucketArn+"/"+UntrustedPrefix+"*"),
				// A CodeCommit commit is archived from its tree and blobs, read with this role.
				allow([]string{"codecommit:GetFolder", "codecommit:GetBlob"}, codecommitRepos),
			}},
		// A deploy's start may wait for its change set (up to 3 minutes) or unpack an
		// artifact into a bucket within the invocation: the longest timeout Lambda allows.
		{name: "wait", memory: 256, timeout: 900,
			env: map[string]string{
				"STEPLINE_TABLE": table, "STEPLINE_EVENT_BUS": bus,
				"STEPLINE_API_URL":            *s.HttpApi.AttrApiEndpoint(),
				"STEPLINE_SCHEDULER_ROLE_ARN": schedulerArn, "STEPLINE_SCHEDULE_GROUP": group,
				"STEPLINE_STATE_MACHINE_ARN": sm, "STEPLINE_BUCKET": bucket,
			},
			policy: append([]statement{
				allow([]string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"}, items...),
				allow([]string{"events:PutEvents"}, busArn),
				allow([]string{"states:SendTaskSuccess", "states:SendTaskFailure"}, sm),
				allow([]string{"scheduler:CreateSchedule", "scheduler:DeleteSchedule"}, s.scheduleArn()),
				passRole,
				// Lambda sends a failed asynchronous invocation (a lost expiry) to the
				// dead-letter queue with the function's role.
				allow([]string{"sqs:SendMessage"}, dlq),
				// A deploy's input artifacts (pkg/deploy/s3artifact: GetObject covers HeadObject).
				allow([]string{"s3:GetObject"}, bucketArn+"/runs/*"),
			}, s.deployStatements(bucketArn)...)},
		{name: "notify", memory: 256, timeout: notifyTimeout,
			env: map[string]string{
				"STEPLINE_TABLE": table, "STEPLINE_EVENT_BUS": bus, "STEPLINE_TOPIC_ARN": topic,
				"STEPLINE_SECRET_PREFIX": s.secretPrefix(), "STEPLINE_NOTIFY_SECRET_PREFIX": s.notifySecretPrefix(),
				"STEPLINE_DASHBOARD_URL": s.Props.DashboardURL,
			},
			policy: []statement{
				// The run's record and the marks of what was already sent, by key.
				allow([]string{"dynamodb:GetItem", "dynamodb:PutItem"}, items...),
				// The repository's token, to post commit statuses, and the URLs of the Slack
				// and Teams webhooks that notifications: rules name.
				allow([]string{"secretsmanager:GetSecretValue"}, secrets, arn("secretsmanager", "secret:"+s.notifySecretPrefix()+"*")),
				// A refused token is reported on the bus.
				allow([]string{"events:PutEvents"}, busArn),
				// https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-use-cases.html
				allow([]string{"sns:Publish"}, topic),
				// The event source mapping polls the notify queue as this role
				// (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html).
				allow([]string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"}, notifyQueue),
			}},
		{name: "callback", memory: 256, timeout: 10,
			env: map[string]string{"STEPLINE_TABLE": table, "STEPLINE_EVENT_BUS": bus},
			policy: []statement{
				allow([]string{"dynamodb:GetItem", "dynamodb:DeleteItem"}, items...),
				allow([]string{"events:PutEvents"}, busArn),
				allow([]string{"states:SendTaskSuccess", "states:SendTaskFailure"}, sm),
			}},
	} {
		s.Functions[f.name] = s.function(f)
	}

	// Lambda polls the trigger queue and invokes the function synchronously with up to ten
	// messages; the function names the ones to retry (ReportBatchItemFailures), so one
	// failing message does not send the whole batch round again. The notify queue feeds the
	// notify function the same way: a status the provider could not take is retried alone.
	s.queueMapping("TriggerFunctionQueueMapping", s.TriggerQueue, "trigger")
	s.queueMapping("NotifyFunctionQueueMapping", s.NotifyQueue, "notify")

	// An approval's deadline schedule invokes the wait function asynchronously. An expiry
	// that fails gets Lambda's two retries; then, rather than be dropped silently and leave
	// the run waiting out the Wait state's 7 days, it goes to the dead-letter queue, which
	// DeadLetterQueueAlarm watches.
	invoke := awslambda.NewCfnEventInvokeConfig(s.Construct, jsii.String("WaitFunctionEventInvokeConfig"), &awslambda.CfnEventInvokeConfigProps{
		FunctionName:             s.Functions["wait"].Ref(),
		Qualifier:                jsii.String("$LATEST"),
		MaximumRetryAttempts:     jsii.Number(2),
		MaximumEventAgeInSeconds: jsii.Number(21600),
		DestinationConfig: &awslambda.CfnEventInvokeConfig_DestinationConfigProperty{
			OnFailure: &awslambda.CfnEventInvokeConfig_OnFailureProperty{Destination: jsii.String(dlq)},
		},
	})
	invoke.OverrideLogicalId(jsii.String("WaitFunctionEventInvokeConfig"))
}

// function creates one function, its log group and its role.
func (s *Stepline) function(f function) awslambda.CfnFunction {
	id := f.logicalID()
	logs := s.logGroup(id+"LogGroup", "/aws/lambda/"+s.name("-"+f.name))
	policy := append([]statement{
		allow([]string{"logs:CreateLogStream", "logs:PutLogEvents"}, *logs.AttrArn()),
	}, f.policy...)
	role := newRole(s.Construct, id+"Role", "lambda.amazonaws.com", policy...)
	s.Roles[id+"Role"] = role

	code := awslambda.Code_FromAsset(jsii.String(filepath.Join(s.Props.FunctionsDir, f.name+".zip")), nil)
	// Each asset needs a scope of its own: Bind names its asset construct "Code".
	location := code.Bind(constructs.NewConstruct(s.Construct, jsii.String(id+"Code"))).S3Location
	env := map[string]*string{}
	for k, v := range f.env {
		env[k] = jsii.String(v)
	}
	fn := awslambda.NewCfnFunction(s.Construct, jsii.String(id), &awslambda.CfnFunctionProps{
		FunctionName:  jsii.String(s.name("-" + f.name)),
		Runtime:       jsii.String("provided.al2023"),
		Architectures: jsii.Strings("arm64"),
		Handler:       jsii.String("bootstrap"),
		MemorySize:    jsii.Number(float64(f.memory)),
		Timeout:       jsii.Number(float64(f.timeout)),
		Role:          role.AttrArn(),
		Code: &awslambda.CfnFunction_CodeProperty{
			S3Bucket: location.BucketName,
			S3Key:    location.ObjectKey,
		},
		Environment: &awslambda.CfnFunction_EnvironmentProperty{Variables: &env},
		LoggingConfig: &awslambda.CfnFunction_LoggingConfigProperty{
			LogFormat:           jsii.String("JSON"),
			ApplicationLogLevel: jsii.String("INFO"),
			SystemLogLevel:      jsii.String("WARN"),
			LogGroup:            logs.Ref(),
		},
	})
	fn.OverrideLogicalId(jsii.String(id))
	// Asset metadata lets `sam local` and the CDK toolkit find the zip behind the S3 key.
	code.BindToResource(fn, &awslambda.ResourceBindOptions{ResourceProperty: jsii.String("Code")})
	return fn
}

// logGroup creates a log group kept LogRetentionDays.
func (s *Stepline) logGroup(id, name string) awslogs.CfnLogGroup {
	g := awslogs.NewCfnLogGroup(s.Construct, jsii.String(id), &awslogs.CfnLogGroupProps{
		LogGroupName:    jsii.String(name),
		RetentionInDays: jsii.Number(float64(s.Props.LogRetentionDays)),
	})
	g.OverrideLogicalId(jsii.String(id))
	return g
}

// queueMapping has Lambda poll queue and invoke the function fn with batches of up to ten
// messages, each of which the function may name for retry (ReportBatchItemFailures).
func (s *Stepline) queueMapping(id string, queue awssqs.CfnQueue, fn string) {
	m := awslambda.NewCfnEventSourceMapping(s.Construct, jsii.String(id), &awslambda.CfnEventSourceMappingProps{
		EventSourceArn:                 queue.AttrArn(),
		FunctionName:                   s.Functions[fn].Ref(),
		BatchSize:                      jsii.Number(10),
		MaximumBatchingWindowInSeconds: jsii.Number(1),
		FunctionResponseTypes:          jsii.Strings("ReportBatchItemFailures"),
	})
	m.OverrideLogicalId(jsii.String(id))
}
