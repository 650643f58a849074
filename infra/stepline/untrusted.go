package stepline

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodebuild"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"
)

// UntrustedPrefix is the artifact bucket's prefix of untrusted runs' artifacts
// (docs/trust.md): the untrusted project's role reads and writes there and nowhere else, and
// no deploy reads there.
const UntrustedPrefix = "untrusted/"

// untrusted creates the CodeBuild project every build of an untrusted run (a fork's pull
// request, a trigger marked trusted: false) runs in, instead of BuildProject, with its role
// and log group. The role reads and writes untrusted/* of the artifact bucket only, and has
// no secret, no ECR repository and no deploy permission. The state machine starts it under
// project/<Name>-*, as it does BuildProject.
func (s *Stepline) untrusted() {
	bucketArn := *s.ArtifactBucket.AttrArn()
	logs := s.logGroup("UntrustedBuildProjectLogGroup", "/aws/codebuild/"+s.name("-untrusted"))
	role := newRole(s.Construct, "UntrustedBuildProjectRole", "codebuild.amazonaws.com",
		// CodeBuild's service-role logs actions, on this project's group only.
		// https://docs.aws.amazon.com/codebuild/latest/userguide/setting-up-service-role.html
		allow([]string{"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"},
			arn("logs", "log-group:/aws/codebuild/"+s.name("-untrusted")), *logs.AttrArn()),
		// The run's source archive and its artifacts, under untrusted/ only: an object ARN is
		// the bucket's ARN, a slash and a key pattern.
		// https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html#amazons3-resources-for-iam-policies
		allow([]string{"s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"}, bucketArn+"/"+UntrustedPrefix+"*"),
		// CodeBuild checks the bucket of S3 sources and artifacts before it reads or writes.
		allow([]string{"s3:GetBucketAcl", "s3:GetBucketLocation"}, bucketArn),
	)
	s.Roles["UntrustedBuildProjectRole"] = role
	s.UntrustedBuildProject = s.codeBuildProject("UntrustedBuildProject", s.name("-untrusted"),
		"stepline codebuild actions of untrusted runs (forks' pull requests): no secrets, no deploys, artifacts under untrusted/", role, logs)
}

// codeBuildProject creates a project of stepline's builds: every build overrides source,
// buildspec and artifacts, so the project carries a placeholder buildspec that fails (CodeBuild
// requires one with NO_SOURCE), BuildImage and BuildComputeType, and its logs in logs.
func (s *Stepline) codeBuildProject(id, name, description string, role awsiam.CfnRole, logs awslogs.CfnLogGroup) awscodebuild.CfnProject {
	p := awscodebuild.NewCfnProject(s.Construct, jsii.String(id), &awscodebuild.CfnProjectProps{
		Name:        jsii.String(name),
		Description: jsii.String(description),
		ServiceRole: role.AttrArn(),
		Source: &awscodebuild.CfnProject_SourceProperty{
			Type:      jsii.String("NO_SOURCE"),
			BuildSpec: jsii.String(placeholderBuildspec),
		},
		Artifacts: &awscodebuild.CfnProject_ArtifactsProperty{Type: jsii.String("NO_ARTIFACTS")},
		Environment: &awscodebuild.CfnProject_EnvironmentProperty{
			Type:        jsii.String("ARM_CONTAINER"),
			Image:       jsii.String(BuildImage),
			ComputeType: jsii.String(BuildComputeType),
		},
		EncryptionKey: jsii.String("alias/aws/s3"),
		LogsConfig: &awscodebuild.CfnProject_LogsConfigProperty{
			CloudWatchLogs: &awscodebuild.CfnProject_CloudWatchLogsConfigProperty{
				Status:    jsii.String("ENABLED"),
				GroupName: logs.Ref(),
			},
		},
	})
	p.OverrideLogicalId(jsii.String(id))
	return p
}
