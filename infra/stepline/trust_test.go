package stepline_test

import (
	"maps"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/iamcheck"
)

// The trust model's proof (docs/trust.md): the role an untrusted run's builds get, evaluated
// in both templates, reaches its own prefix of the artifact bucket and nothing a deploy reads,
// no secret and no deploy target. Both templates name every deploy target and an ECR
// repository, so every conditional grant SAM may add is there to be refused.

func TestTheUntrustedBuildRoleWritesOnlyWhereNoDeployReads(t *testing.T) {
	params := maps.Clone(deployTargets)
	params["EcrRepositories"] = "api"
	for name, tmpl := range bothTemplates(t) {
		tmpl.SetParameters(params)
		t.Run(name, func(t *testing.T) {
			policy, err := tmpl.RolePolicy("UntrustedBuildProjectRole")
			require.NoError(t, err)
			trusted, err := tmpl.RolePolicy("BuildProjectRole")
			require.NoError(t, err)
			object := func(key string) string {
				arn, err := tmpl.Sub("${ArtifactBucket.Arn}/"+key, nil)
				require.NoError(t, err)
				return arn
			}
			bucket, err := tmpl.Sub("${ArtifactBucket.Arn}", nil)
			require.NoError(t, err)
			logs, err := tmpl.Sub("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/codebuild/stepline-untrusted:log-stream:b/1", nil)
			require.NoError(t, err)
			account := func(service, resource string) string {
				return "arn:" + iamcheck.Partition + ":" + service + ":" + iamcheck.Region + ":" + iamcheck.AccountID + ":" + resource
			}

			for _, q := range []iamcheck.Request{
				{Action: "s3:GetObject", Resource: object("untrusted/api-7-1a2b3c4d/source.zip")},
				{Action: "s3:PutObject", Resource: object("untrusted/api-7-1a2b3c4d/bin.zip")},
				{Action: "s3:GetBucketLocation", Resource: bucket},
				{Action: "logs:PutLogEvents", Resource: logs},
			} {
				assert.True(t, policy.Allows(q), "the untrusted build needs %s", q)
			}
			for _, q := range []iamcheck.Request{
				// What a deploy reads, and a trusted run's source.
				{Action: "s3:PutObject", Resource: object("runs/api-6-1a2b3c4d/bin.zip")},
				{Action: "s3:GetObject", Resource: object("runs/api-6-1a2b3c4d/source.zip")},
				{Action: "s3:DeleteObject", Resource: object("runs/api-6-1a2b3c4d/bin.zip")},
				{Action: "s3:PutObject", Resource: object("templates/stack.yml")},
				{Action: "s3:PutObject", Resource: object("webhooks/event.json")},
				{Action: "s3:PutObject", Resource: "arn:aws:s3:::stepline-rec-site/index.html"},
				// Repository and notification secrets, parameters and keys.
				{Action: "secretsmanager:GetSecretValue", Resource: account("secretsmanager", "secret:stepline/repos/github-acme-api-AbCdEf")},
				{Action: "secretsmanager:GetSecretValue", Resource: account("secretsmanager", "secret:stepline/notify/slack-AbCdEf")},
				{Action: "ssm:GetParameters", Resource: account("ssm", "parameter/prod/db-password")},
				{Action: "kms:Decrypt", Resource: account("kms", "key/1234abcd-12ab-34cd-56ef-1234567890ab")},
				// ECR, the deploy targets, the state machine and the table.
				{Action: "ecr:GetAuthorizationToken", Resource: "*"},
				{Action: "ecr:PutImage", Resource: account("ecr", "repository/api")},
				{Action: "ecs:UpdateService", Resource: account("ecs", "service/stepline-rec/api")},
				{Action: "codedeploy:CreateDeployment", Resource: account("codedeploy", "deploymentgroup:stepline-rec-app/api")},
				{Action: "cloudformation:CreateChangeSet", Resource: account("cloudformation", "stack/stepline-rec-api/x")},
				{Action: "iam:PassRole", Resource: "arn:aws:iam::123456789012:role/stepline-rec-deploy"},
				{Action: "lambda:InvokeFunction", Resource: account("lambda", "function:stepline-action-deploy")},
				{Action: "states:SendTaskSuccess", Resource: account("states", "stateMachine:stepline-pipeline")},
				{Action: "dynamodb:PutItem", Resource: account("dynamodb", "table/stepline")},
			} {
				assert.False(t, policy.Allows(q), "the untrusted build must not be allowed %s", q)
			}
			// The trusted role is the one that writes runs/: the test above would pass for a
			// role that could write nothing at all.
			assert.True(t, trusted.Allows(iamcheck.Request{Action: "s3:PutObject", Resource: object("runs/api-6-1a2b3c4d/bin.zip")}))
			assert.False(t, trusted.Allows(iamcheck.Request{Action: "s3:PutObject", Resource: object("untrusted/api-7-1a2b3c4d/bin.zip")}),
				"nor does a trusted build need the untrusted prefix")
		})
	}
}

func TestTheUntrustedProjectRunsAsTheUntrustedRoleAndTheAdvanceFunctionNamesIt(t *testing.T) {
	cdk, _ := cdkTemplate(t)
	for name, doc := range map[string]map[string]any{"SAM": samTemplate(t), "CDK": cdk} {
		projects := resources(doc, "AWS::CodeBuild::Project")
		assert.Equal(t, getAtt("UntrustedBuildProjectRole", "Arn"), projects["UntrustedBuildProject"]["ServiceRole"], name)
		assert.Equal(t, getAtt("BuildProjectRole", "Arn"), projects["BuildProject"]["ServiceRole"], name)
		assert.Equal(t, projects["BuildProject"]["Environment"], projects["UntrustedBuildProject"]["Environment"],
			"%s: the advance function fills a partial environment override from BuildProject's", name)

		raw, err := iamcheck.NewTemplate(doc).String(
			resources(doc, "AWS::Lambda::Function")["AdvanceFunction"]["Environment"].(map[string]any)["Variables"].(map[string]any)["STEPLINE_CODEBUILD_UNTRUSTED_PROJECT"], nil)
		require.NoError(t, err, name)
		project, err := iamcheck.NewTemplate(doc).String(projects["UntrustedBuildProject"]["Name"], nil)
		require.NoError(t, err, name)
		assert.Equal(t, project, raw, "%s: the advance function sends untrusted builds to the untrusted project", name)
	}
}
