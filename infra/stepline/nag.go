package stepline

import (
	"strings"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// suppressNagFindings records on the resources why the cdk-nag AwsSolutions findings that
// remain are accepted. Suppressions are metadata only: they change nothing for apps that do
// not run cdk-nag, and tell those that do why each finding stands. Every IAM5 suppression
// names the exact wildcard it accepts (appliesTo), so a new wildcard is still reported.
func (s *Stepline) suppressNagFindings() {
	child := func(id string) constructs.IConstruct { return s.Node().FindChild(jsii.String(id)) }
	suppress := func(id, rule, reason string, appliesTo ...string) {
		sup := &cdknag.NagPackSuppression{Id: jsii.String(rule), Reason: jsii.String(reason)}
		if len(appliesTo) > 0 {
			list := make([]any, len(appliesTo))
			for i, a := range appliesTo {
				list[i] = a
			}
			sup.AppliesTo = &list
		}
		cdknag.NagSuppressions_AddResourceSuppressions(child(id), &[]*cdknag.NagPackSuppression{sup}, jsii.Bool(false))
	}

	suppress("ArtifactBucket", "AwsSolutions-S1",
		"Holds short-lived run artifacts only; access logs would need a second bucket, and CloudTrail S3 data events can audit it where required.")
	suppress("DeadLetterQueue", "AwsSolutions-SQS3",
		"This queue is itself the dead-letter queue of every EventBridge target and of the trigger queue's messages that failed every receive.")
	for _, project := range []string{"BuildProject", "UntrustedBuildProject"} {
		suppress(project, "AwsSolutions-CB4",
			"Build artifacts are encrypted with the AWS managed key alias/aws/s3 (docs/stack.md); a customer managed key would add a fixed monthly charge to an idle stack.")
	}
	suppress("PipelineStateMachine", "AwsSolutions-SF1",
		"ERROR level with execution data (docs/stack.md): ALL would log every transition of every run, and the run history is already in DynamoDB.")
	suppress("WebhookRoute", "AwsSolutions-APIG4",
		"Forges cannot send IAM or JWT credentials; WebhookFunction authenticates every delivery by its HMAC signature with the repository's secret.")
	for _, route := range []string{"ApprovalGetRoute", "ApprovalPostRoute"} {
		suppress(route, "AwsSolutions-APIG4",
			"Approval links are opened from email and chat messages, which cannot carry IAM or JWT credentials; CallbackFunction accepts only a link whose key derives from the pending task token (unguessable; compared in constant time), and decides only on POST.")
	}

	const wildcard = "AwsSolutions-IAM5"
	if len(s.Props.EcrRepositories) > 0 {
		suppress("BuildProjectRole", wildcard,
			"ecr:GetAuthorizationToken has no resource ARN (ECR's image push IAM page grants it on *); pushes and pulls are limited to the EcrRepositories.",
			"Resource::*")
	}
	// cdk-nag reports each AWS managed policy a role has (IAM4); the only ones are those the
	// operator chose, by name, for what the trusted builds call.
	for _, p := range s.Props.BuildPolicyArns {
		if strings.Contains(p, ":iam::aws:policy/") {
			suppress("BuildProjectRole", "AwsSolutions-IAM4",
				"The operator attached this AWS managed policy through BuildPolicyArns for the trusted builds' own calls; the untrusted builds' role never gets it.",
				"Policy::"+p)
		}
	}
	nagArn := func(service, resource string) string {
		return "Resource::arn:<AWS::Partition>:" + service + ":<AWS::Region>:<AWS::AccountId>:" + resource
	}
	secrets := func(role string) {
		suppress(role, wildcard, "Repository secrets are added per repository after deployment; the grant stops at this stack's "+s.secretPrefix()+" prefix.",
			nagArn("secretsmanager", "secret:"+s.secretPrefix()+"*"))
	}
	indexes := func(role string) {
		suppress(role, wildcard, "Queries read the table's own global secondary indexes (pipeline, succeeded, all); no other table is reachable.",
			"Resource::<Table.Arn>/index/*")
	}
	objects := func(role, prefix string) {
		suppress(role, wildcard, "Object keys are made per delivery or run; the grant stops at the "+prefix+" prefix of this stack's bucket.",
			"Resource::<ArtifactBucket.Arn>/"+prefix+"*")
	}
	schedules := func(role string) {
		suppress(role, wildcard, "Schedules are created at run time; the grant stops at this stack's schedule group.",
			nagArn("scheduler", "schedule/"+s.name("/*")))
	}

	secrets("WebhookFunctionRole")
	objects("WebhookFunctionRole", "webhooks/")

	secrets("TriggerFunctionRole")
	indexes("TriggerFunctionRole")
	objects("TriggerFunctionRole", "webhooks/")
	schedules("TriggerFunctionRole")
	suppress("TriggerFunctionRole", wildcard, "Execution names derive from delivery ids at run time; the grant stops at executions of this stack's state machine.",
		nagArn("states", "execution:"+s.name("-pipeline")+":*"))

	codecommit := func(role string) {
		suppress(role, wildcard, "CodeCommit repositories start pipelines by being pushed to, after deployment, and are read with this role rather than a secret; the grant stops at this account and region, and at read-only actions.",
			nagArn("codecommit", "*"))
	}
	codecommit("TriggerFunctionRole")

	indexes("AdvanceFunctionRole")

	secrets("NotifyFunctionRole")
	suppress("NotifyFunctionRole", wildcard, "Slack and Teams webhook URLs are secrets the user adds after deployment and names in a pipeline file; the grant stops at this stack's "+s.notifySecretPrefix()+" prefix.",
		nagArn("secretsmanager", "secret:"+s.notifySecretPrefix()+"*"))
	secrets("SourceFunctionRole")
	objects("SourceFunctionRole", "runs/")
	objects("SourceFunctionRole", UntrustedPrefix)
	codecommit("SourceFunctionRole")

	schedules("WaitFunctionRole")
	objects("WaitFunctionRole", "runs/")
	s.suppressDeployFindings(suppress, wildcard, nagArn)

	objects("BuildProjectRole", "runs/")
	objects("UntrustedBuildProjectRole", UntrustedPrefix)

	suppress("PipelineStateMachineRole", wildcard, "lambda actions invoke user functions named at run time; only functions named "+s.name("-action-*")+" can be invoked.",
		nagArn("lambda", "function:"+s.name("-action-*")))
	suppress("PipelineStateMachineRole", wildcard, "codebuild actions may name any project of this stack ("+s.name("-*")+"); builds get ids at run time.",
		nagArn("codebuild", "project/"+s.name("-*")))
	suppress("PipelineStateMachineRole", wildcard, "The CloudWatch Logs delivery and X-Ray actions Step Functions needs for logging and tracing accept no resource ARN.",
		"Resource::*")
}
