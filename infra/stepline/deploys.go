package stepline

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"
)

// The deploy targets (Props.EcsClusters, CodeDeployApplications, StackNamePrefix,
// DeployBuckets, DeployRoleArns) scope what the wait function may deploy to and which events
// on the default bus reach it. Each empty one grants nothing and creates no rule.
//
// The statements are those template.yml writes with Fn::If and Fn::Split, resource for
// resource: the ARNs built from a list write partition, region and account as *, since
// CloudFormation cannot build them per entry otherwise; the names scope them (ECS, CodeDeploy
// and CloudFormation resources are reached in the role's own account only, having no
// resource-based policies; bucket names are global).

// listArns writes each name as prefix+name+suffix.
func listArns(prefix string, names []string, suffix string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = prefix + n + suffix
	}
	return out
}

// deployStatements are the wait function's grants for the deploy providers' calls
// (docs/stack.md cites the page of each).
func (s *Stepline) deployStatements(bucketArn string) []statement {
	p := s.Props
	var out []statement
	if len(p.EcsClusters) > 0 {
		// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_UpdateService.html
		out = append(out, allow([]string{"ecs:DescribeServices", "ecs:UpdateService"}, listArns("arn:*:ecs:*:*:service/", p.EcsClusters, "/*")...))
	}
	if len(p.EcsClusters) > 0 || len(p.CodeDeployApplications) > 0 {
		// Task definitions take no resource-level permission; a revision copies the current
		// one's tags, which needs ecs:TagResource.
		// https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerservice.html
		out = append(out,
			allow([]string{"ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition"}, "*"),
			allow([]string{"ecs:TagResource"}, arn("ecs", "task-definition/*")))
	}
	if len(p.CodeDeployApplications) > 0 {
		// https://docs.aws.amazon.com/codedeploy/latest/userguide/auth-and-access-control-permissions-reference.html
		out = append(out, allow([]string{"codedeploy:CreateDeployment", "codedeploy:GetDeployment"},
			listArns("arn:*:codedeploy:*:*:deploymentgroup:", p.CodeDeployApplications, "/*")...))
	}
	if p.StackNamePrefix != "" {
		// https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-iam-template.html
		out = append(out,
			allow([]string{"cloudformation:DescribeStacks", "cloudformation:DescribeStackEvents", "cloudformation:CreateChangeSet",
				"cloudformation:DescribeChangeSet", "cloudformation:ExecuteChangeSet", "cloudformation:DeleteChangeSet", "cloudformation:DeleteStack"},
				arn("cloudformation", "stack/"+p.StackNamePrefix+"*/*")),
			// A SAM template's change set also needs the transform
			// (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateChangeSet.html).
			allow([]string{"cloudformation:CreateChangeSet"}, sub("arn:${AWS::Partition}:cloudformation:${AWS::Region}:aws:transform/Serverless-2016-10-31")),
			// Templates over 51,200 bytes go through the artifact bucket; CloudFormation reads
			// them with the caller's credentials.
			allow([]string{"s3:PutObject", "s3:GetObject"}, bucketArn+"/templates/*"))
	}
	if len(p.DeployBuckets) > 0 {
		// https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html
		out = append(out,
			allow([]string{"s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject"}, listArns("arn:*:s3:::", p.DeployBuckets, "/*")...),
			allow([]string{"s3:ListBucket"}, listArns("arn:*:s3:::", p.DeployBuckets, "")...))
	}
	if len(p.DeployRoleArns) > 0 {
		// https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html
		out = append(out, statement{actions: []string{"iam:PassRole"}, resources: p.DeployRoleArns,
			condition: map[string]any{"StringEquals": map[string]any{"iam:PassedToService": []any{"ecs-tasks.amazonaws.com", "cloudformation.amazonaws.com"}}}})
	}
	return out
}

// cfnFinalStatuses are the stack statuses that end a deploy (pkg/deploy/cloudformation's
// outcomeOf): only these invoke the function.
var cfnFinalStatuses = []any{"CREATE_COMPLETE", "CREATE_FAILED", "UPDATE_COMPLETE", "UPDATE_FAILED", "UPDATE_ROLLBACK_COMPLETE",
	"UPDATE_ROLLBACK_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_COMPLETE", "DELETE_FAILED",
	"IMPORT_COMPLETE", "IMPORT_ROLLBACK_COMPLETE", "IMPORT_ROLLBACK_FAILED"}

// deployRules creates the rules that bring the deploy events of the default bus to the wait
// function, each with its invoke permission, and returns them for the dead-letter queue's
// policy. Delivery and invocation failures are covered as ExecutionEndedRule's are.
func (s *Stepline) deployRules(dlq *awsevents.CfnRule_DeadLetterConfigProperty) []awsevents.CfnRule {
	p := s.Props
	fn := s.Functions["wait"]
	var rules []awsevents.CfnRule
	add := func(id, permission, description string, pattern map[string]any) {
		rule := awsevents.NewCfnRule(s.Construct, jsii.String(id), &awsevents.CfnRuleProps{
			Description:  jsii.String(description),
			EventPattern: pattern,
			Targets: []any{&awsevents.CfnRule_TargetProperty{
				Id:               jsii.String("WaitFunction"),
				Arn:              fn.AttrArn(),
				DeadLetterConfig: dlq,
				RetryPolicy: &awsevents.CfnRule_RetryPolicyProperty{
					MaximumRetryAttempts:     jsii.Number(185),
					MaximumEventAgeInSeconds: jsii.Number(24 * 60 * 60),
				},
			}},
		})
		rule.OverrideLogicalId(jsii.String(id))
		perm := awslambda.NewCfnPermission(s.Construct, jsii.String(permission), &awslambda.CfnPermissionProps{
			Action:       jsii.String("lambda:InvokeFunction"),
			FunctionName: fn.AttrArn(),
			Principal:    jsii.String("events.amazonaws.com"),
			SourceArn:    rule.AttrArn(),
		})
		perm.OverrideLogicalId(jsii.String(permission))
		rules = append(rules, rule)
	}
	if len(p.EcsClusters) > 0 {
		// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_service_deployment_events.html:
		// the rule cannot filter on the clusters (template.yml says why); events of other
		// clusters reach the function and are dropped there.
		add("EcsDeploymentRule", "WaitFunctionEcsDeploymentPermission",
			"ECS deployments that completed or failed, to the wait function that holds their task tokens",
			map[string]any{
				"source":      []any{"aws.ecs"},
				"detail-type": []any{"ECS Deployment State Change"},
				"detail":      map[string]any{"eventName": []any{"SERVICE_DEPLOYMENT_COMPLETED", "SERVICE_DEPLOYMENT_FAILED"}},
			})
	}
	if len(p.CodeDeployApplications) > 0 {
		// https://docs.aws.amazon.com/codedeploy/latest/userguide/monitoring-cloudwatch-events.html
		add("CodeDeployDeploymentRule", "WaitFunctionCodeDeployDeploymentPermission",
			"CodeDeploy deployments of the stack's applications that ended, to the wait function",
			map[string]any{
				"source":      []any{"aws.codedeploy"},
				"detail-type": []any{"CodeDeploy Deployment State-change Notification"},
				"detail": map[string]any{
					"state":       []any{"SUCCESS", "FAILURE", "STOP"},
					"application": p.CodeDeployApplications,
				},
			})
	}
	if p.StackNamePrefix != "" {
		// https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/event-detail-stack-status-change.html
		add("CloudFormationStackRule", "WaitFunctionCloudFormationStackPermission",
			"Final statuses of the stacks named with the stack's prefix, to the wait function",
			map[string]any{
				"source":      []any{"aws.cloudformation"},
				"detail-type": []any{"CloudFormation Stack Status Change"},
				"resources":   []any{map[string]any{"prefix": arn("cloudformation", "stack/"+p.StackNamePrefix)}},
				"detail":      map[string]any{"status-details": map[string]any{"status": cfnFinalStatuses}},
			})
	}
	return rules
}

// suppressDeployFindings says why the deploy targets' wildcards stand (cdk-nag IAM5), each by
// the exact resource it accepts.
func (s *Stepline) suppressDeployFindings(suppress func(id, rule, reason string, appliesTo ...string), rule string, nagArn func(service, resource string) string) {
	p := s.Props
	named := func(reason string, resources []string) {
		applies := make([]string, len(resources))
		for i, r := range resources {
			applies[i] = "Resource::" + r
		}
		suppress("WaitFunctionRole", rule, reason, applies...)
	}
	const scoped = "Deploy targets are named by the stack's props; CloudFormation cannot build the ARN of each entry of a list with its partition, region and account, which the role cannot reach outside its own account anyway (no resource-based policies); "
	if len(p.EcsClusters) > 0 {
		named(scoped+"services are created after deployment, so the grant is every service of each named cluster.", listArns("arn:*:ecs:*:*:service/", p.EcsClusters, "/*"))
	}
	if len(p.EcsClusters) > 0 || len(p.CodeDeployApplications) > 0 {
		suppress("WaitFunctionRole", rule, "DescribeTaskDefinition and RegisterTaskDefinition accept no resource ARN; a new revision's tags are copied with TagResource on this account's task definitions.",
			"Resource::*", nagArn("ecs", "task-definition/*"))
	}
	if len(p.CodeDeployApplications) > 0 {
		named(scoped+"deployment groups are the applications' own, so the grant is every group of each named application.", listArns("arn:*:codedeploy:*:*:deploymentgroup:", p.CodeDeployApplications, "/*"))
	}
	if p.StackNamePrefix != "" {
		suppress("WaitFunctionRole", rule, "Stacks are named per environment at run time (#{env.name}); the grant stops at the stack's StackNamePrefix, and templates at the templates/ prefix of this stack's bucket.",
			nagArn("cloudformation", "stack/"+p.StackNamePrefix+"*/*"), "Resource::<ArtifactBucket.Arn>/templates/*")
	}
	if len(p.DeployBuckets) > 0 {
		named("Deploy buckets are named by the stack's props; objects are the artifact's files, known at run time; a bucket name is global.",
			append(listArns("arn:*:s3:::", p.DeployBuckets, "/*"), listArns("arn:*:s3:::", p.DeployBuckets, "")...))
	}
}
