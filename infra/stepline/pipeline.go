package stepline

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/jsii-runtime-go"

	"github.com/stepline/stepline/pkg/statemachine"
)

// placeholderBuildspec satisfies CodeBuild, which wants a buildspec for a NO_SOURCE project;
// every build stepline starts overrides it.
const placeholderBuildspec = `version: 0.2
phases:
  build:
    commands:
      - echo "stepline starts every build with its own buildspec; this one never runs" && exit 1
`

// BuildProject's environment, which the advance function is also given: a build whose action
// overrides only part of it keeps the rest.
const (
	BuildImage       = "aws/codebuild/amazonlinux-aarch64-standard:3.0"
	BuildComputeType = "BUILD_GENERAL1_SMALL"
)

// ecrPushActions push an image to a repository and pull one from it.
var ecrPushActions = []string{"ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart",
	"ecr:CompleteLayerUpload", "ecr:PutImage", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"}

// pipeline creates the CodeBuild project and the state machine with their roles.
func (s *Stepline) pipeline() {
	bucketArn := *s.ArtifactBucket.AttrArn()
	// The build logs' group, made here so that it expires: the one CodeBuild makes on its own
	// keeps logs forever. Its name is the one CodeBuild would choose.
	buildLogs := s.logGroup("BuildProjectLogGroup", "/aws/codebuild/"+s.name("-build"))
	buildPolicy := []statement{
		// The CloudWatch Logs actions of CodeBuild's service role, on this project's group and
		// its streams only (the group's Arn attribute ends in ":*").
		// https://docs.aws.amazon.com/codebuild/latest/userguide/setting-up-service-role.html
		allow([]string{"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"},
			arn("logs", "log-group:/aws/codebuild/"+s.name("-build")), *buildLogs.AttrArn()),
		allow([]string{"s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"}, bucketArn+"/runs/*"),
		// CodeBuild checks the bucket of S3 sources and artifacts before it reads or writes.
		allow([]string{"s3:GetBucketAcl", "s3:GetBucketLocation"}, bucketArn),
	}
	if repos := s.Props.EcrRepositories; len(repos) > 0 {
		arns := make([]string, len(repos))
		for i, r := range repos {
			arns[i] = arn("ecr", "repository/"+r)
		}
		// Docker builds push to and pull from the EcrRepositories, and nothing else: the
		// actions of ECR's "IAM permissions for pushing an image" page, plus
		// GetDownloadUrlForLayer for pulls (FROM a pushed image, the layer cache). The
		// authorization token has no resource ARN.
		// https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-push-iam.html
		buildPolicy = append(buildPolicy,
			allow([]string{"ecr:GetAuthorizationToken"}, "*"),
			allow(ecrPushActions, arns...))
	}
	buildRole := newRole(s.Construct, "BuildProjectRole", "codebuild.amazonaws.com", buildPolicy...)
	if arns := s.Props.BuildPolicyArns; len(arns) > 0 {
		// What the pipelines' builds call beyond what stepline needs of them: the operator's
		// managed policies, on this role only (UntrustedBuildProjectRole never gets them). The
		// role is CodeBuild's service role, whose credentials every build command runs with.
		// https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-iam-role.html#cfn-iam-role-managedpolicyarns
		// https://docs.aws.amazon.com/codebuild/latest/userguide/setting-up-service-role.html
		buildRole.SetManagedPolicyArns(jsii.Strings(arns...))
	}
	s.Roles["BuildProjectRole"] = buildRole

	s.BuildProject = s.codeBuildProject("BuildProject", s.name("-build"),
		"stepline codebuild actions: every build overrides source, buildspec and artifacts", buildRole, buildLogs)

	logs := s.logGroup("PipelineLogGroup", "/aws/vendedlogs/states/"+s.name("-pipeline"))
	arns := map[string]string{}
	for _, fn := range []string{"advance", "source", "wait"} {
		arns[fn] = *s.Functions[fn].AttrArn()
	}
	role := newRole(s.Construct, "PipelineStateMachineRole", "states.amazonaws.com",
		allow([]string{"lambda:InvokeFunction"},
			arns["advance"], arns["source"], arns["wait"], s.functionArn("action-*")),
		allow([]string{"codebuild:StartBuild", "codebuild:StopBuild", "codebuild:BatchGetBuilds"},
			arn("codebuild", "project/"+s.name("-*"))),
		// startBuild.sync watches the build through this managed rule, whose name the Step
		// Functions page "IAM policies for AWS CodeBuild" gives
		// (https://docs.aws.amazon.com/step-functions/latest/dg/codebuild-iam.html).
		allow([]string{"events:PutTargets", "events:PutRule", "events:DescribeRule"},
			arn("events", "rule/StepFunctionsGetEventForCodeBuildStartBuildRule")),
		// The log delivery APIs take no resource ARN.
		allow([]string{
			"logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
			"logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
		}, "*"),
		// Nor do the X-Ray ones.
		allow([]string{"xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"}, "*"),
	)
	s.Roles["PipelineStateMachineRole"] = role

	substitutions := map[string]*string{}
	for _, name := range statemachine.Substitutions() {
		fn, ok := map[string]string{
			"AdvanceFunctionArn": "advance",
			"SourceFunctionArn":  "source",
			"WaitFunctionArn":    "wait",
		}[name]
		if !ok {
			// A new placeholder in the ASL file needs a value here; deploying without one
			// would leave "${…}" in the definition.
			panic(fmt.Sprintf("stepline: the state machine needs substitution %s, which the construct does not provide", name))
		}
		substitutions[name] = jsii.String(arns[fn])
	}
	s.StateMachine = awsstepfunctions.NewCfnStateMachine(s.Construct, jsii.String("PipelineStateMachine"), &awsstepfunctions.CfnStateMachineProps{
		StateMachineName:        jsii.String(s.name("-pipeline")),
		StateMachineType:        jsii.String("STANDARD"),
		RoleArn:                 role.AttrArn(),
		DefinitionString:        jsii.String(string(statemachine.Definition())),
		DefinitionSubstitutions: &substitutions,
		LoggingConfiguration: &awsstepfunctions.CfnStateMachine_LoggingConfigurationProperty{
			Level:                jsii.String("ERROR"),
			IncludeExecutionData: jsii.Bool(true),
			Destinations: []any{&awsstepfunctions.CfnStateMachine_LogDestinationProperty{
				CloudWatchLogsLogGroup: &awsstepfunctions.CfnStateMachine_CloudWatchLogsLogGroupProperty{
					LogGroupArn: logs.AttrArn(),
				},
			}},
		},
		TracingConfiguration: &awsstepfunctions.CfnStateMachine_TracingConfigurationProperty{Enabled: jsii.Bool(true)},
	})
	s.StateMachine.OverrideLogicalId(jsii.String("PipelineStateMachine"))
}
