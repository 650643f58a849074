// Package stepline is the stepline stack as a CDK construct: the webhook API, the EventBridge
// bus and rules, the seven Lambda functions, the pipeline state machine (the ASL file of
// pkg/statemachine, not a copy), the DynamoDB table (pkg/store/dynamo's Schema), the artifact
// bucket, the CodeBuild project, the trigger, notify and dead-letter queues, the notification topic and
// the alarms.
//
// docs/stack.md is the specification. Every resource is an L1 (Cfn*) construct whose logical
// id is overridden to the id docs/stack.md gives, so this template and the SAM template
// (template.yml) can be compared resource by resource. A consequence: one stack holds at most
// one Stepline construct.
package stepline

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodebuild"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsscheduler"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Stepline is the construct New returns. Its fields are the resources other constructs of
// the same app most often need to reference.
type Stepline struct {
	constructs.Construct

	// Props are the props the stack was built with, defaults applied.
	Props Props
	// ArtifactBucket holds run artifacts (runs/) and oversized webhook events (webhooks/).
	ArtifactBucket awss3.CfnBucket
	// Table is the single DynamoDB table of pkg/store/dynamo.
	Table awsdynamodb.CfnTable
	// EventBus carries normalised source events in and state-change events out.
	EventBus awsevents.CfnEventBus
	// DeadLetterQueue receives the events no target could take and the trigger queue's
	// messages that failed every receive.
	DeadLetterQueue awssqs.CfnQueue
	// TriggerQueue holds the trigger function's inputs (source events, AWS events, schedule
	// firings) until the function has handled them.
	TriggerQueue awssqs.CfnQueue
	// NotifyQueue holds the state changes the notify function has not yet told people about.
	NotifyQueue awssqs.CfnQueue
	// NotificationTopic receives state changes and alarms.
	NotificationTopic awssns.CfnTopic
	// Functions maps each name of FunctionNames to its function.
	Functions map[string]awslambda.CfnFunction
	// Roles maps each role's logical id (WebhookFunctionRole, SchedulerRole, …) to it.
	Roles map[string]awsiam.CfnRole
	// StateMachine is the pipeline state machine.
	StateMachine awsstepfunctions.CfnStateMachine
	// BuildProject is the CodeBuild project every codebuild action runs in.
	BuildProject awscodebuild.CfnProject
	// UntrustedBuildProject is the project every build of an untrusted run runs in
	// (docs/trust.md).
	UntrustedBuildProject awscodebuild.CfnProject
	// HttpApi receives webhooks and approval clicks.
	HttpApi awsapigatewayv2.CfnApi
	// ScheduleGroup holds the schedules the trigger and wait functions create.
	ScheduleGroup awsscheduler.CfnScheduleGroup
}

// New adds the stepline resources to scope, which must sit inside a stack. It panics with
// Props.Validate's error when props are invalid, as CDK constructs do.
func New(scope constructs.Construct, id string, props *Props) *Stepline {
	if err := props.Validate(); err != nil {
		panic(err)
	}
	s := &Stepline{
		Construct: constructs.NewConstruct(scope, jsii.String(id)),
		Props:     props.withDefaults(),
		Functions: map[string]awslambda.CfnFunction{},
		Roles:     map[string]awsiam.CfnRole{},
	}
	s.storage()
	s.messaging()
	s.api()
	s.functions()
	s.routes()
	s.pipeline()
	s.untrusted()
	s.rules()
	s.alarms()
	s.outputs()
	s.suppressNagFindings()
	return s
}

// StackProps are the props of NewStack: the stack's own and stepline's.
type StackProps struct {
	awscdk.StackProps
	Props
}

// NewStack returns a stack holding one Stepline construct, for apps that deploy stepline on
// its own (infra/app).
func NewStack(scope constructs.Construct, id string, props *StackProps) awscdk.Stack {
	var sp StackProps
	if props != nil {
		sp = *props
	}
	if sp.Description == nil {
		sp.Description = jsii.String("stepline: serverless CI/CD pipelines (webhooks, Step Functions, CodeBuild)")
	}
	stack := awscdk.NewStack(scope, jsii.String(id), &sp.StackProps)
	New(stack, "Stepline", &sp.Props)
	return stack
}

// name returns the physical name of a resource: Name, then suffix.
func (s *Stepline) name(suffix string) string { return s.Props.Name + suffix }

// stateMachineArn is built from the state machine's name: the state machine refers to the
// advance and wait functions, whose environment and policies refer back to it.
func (s *Stepline) stateMachineArn() string {
	return arn("states", "stateMachine:"+s.name("-pipeline"))
}

// secretsArn covers every repository secret of this stack.
func (s *Stepline) secretsArn() string {
	return arn("secretsmanager", "secret:"+s.secretPrefix()+"*")
}

// secretPrefix is where repository secrets live in Secrets Manager.
func (s *Stepline) secretPrefix() string { return s.Props.Name + "/repos/" }

// notifySecretPrefix is where the secrets holding Slack and Teams webhook URLs must live: the
// notify function may read nothing else.
func (s *Stepline) notifySecretPrefix() string { return s.Props.Name + "/notify/" }

// functionArn is built from a function's name, for policies the function itself depends on.
func (s *Stepline) functionArn(fn string) string {
	return arn("lambda", "function:"+s.name("-"+fn))
}

// scheduleArn covers every schedule of this stack's group.
func (s *Stepline) scheduleArn() string {
	return arn("scheduler", "schedule/"+s.name("/*"))
}

// output adds a stack output whose logical id is exactly id.
func (s *Stepline) output(id, description, value string) {
	out := awscdk.NewCfnOutput(s.Construct, jsii.String(id), &awscdk.CfnOutputProps{
		Description: jsii.String(description),
		Value:       jsii.String(value),
	})
	out.OverrideLogicalId(jsii.String(id))
}

func (s *Stepline) outputs() {
	s.output("WebhookUrl", "Base URL of the webhook endpoints: <WebhookUrl>/<provider>/<hook>",
		*awscdk.Fn_Join(jsii.String(""), &[]*string{s.HttpApi.AttrApiEndpoint(), jsii.String("/webhooks")}))
	s.output("ApiUrl", "Base URL of the HTTP API", *s.HttpApi.AttrApiEndpoint())
	s.output("ArtifactBucketName", "Bucket of run artifacts", *s.ArtifactBucket.Ref())
	s.output("TableName", "DynamoDB table of runs, locks, tokens and pipeline files", *s.Table.Ref())
	s.output("EventBusName", "EventBridge bus of source events and state changes", *s.EventBus.Ref())
	s.output("StateMachineArn", "The pipeline state machine", *s.StateMachine.Ref())
	s.output("NotificationTopicArn", "SNS topic of state changes and alarms", *s.NotificationTopic.Ref())
	s.output("SecretPrefix", "Prefix of the Secrets Manager names of repository secrets", s.secretPrefix())
	s.output("NotifySecretPrefix", "Prefix the Secrets Manager names of Slack and Teams webhook URLs must start with", s.notifySecretPrefix())
	s.output("NotifyFunctionRoleArn", "Role the notify function publishes with: let it in the policy of another topic of this account",
		*s.Roles["NotifyFunctionRole"].AttrArn())
	s.output("BuildProjectName", "CodeBuild project of codebuild actions", *s.BuildProject.Ref())
	s.output("UntrustedBuildProjectName", "CodeBuild project of the codebuild actions of untrusted runs", *s.UntrustedBuildProject.Ref())
}
