package stepline_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// both returns the CDK template (default props) and template.yml after the SAM transform, by
// name, for checks that must hold for each.
func both(t *testing.T) map[string]map[string]any {
	t.Helper()
	cdk, _ := cdkTemplate(t)
	return map[string]map[string]any{"CDK": cdk, "SAM": samTemplate(t)}
}

// TestAFailedFirstCreateLeavesNothingThatBlocksTheRetry: a rolled-back create deletes what it
// made unless its DeletionPolicy is Retain, and a retained resource with a fixed name (the
// table is named ${Name}) makes every retry fail with "already exists". RetainExceptOnCreate
// keeps data on deletion, never after a failed create; UpdateReplacePolicy has no such value,
// and a replacement follows a successful create, so Retain is right there.
// https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-deletionpolicy.html
// https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-updatereplacepolicy.html
func TestAFailedFirstCreateLeavesNothingThatBlocksTheRetry(t *testing.T) {
	for name, doc := range both(t) {
		t.Run(name, func(t *testing.T) {
			type policies struct{ deletion, replace any }
			kept := map[string]policies{}
			for id, r := range doc["Resources"].(map[string]any) {
				res := r.(map[string]any)
				deletion, hasDeletion := res["DeletionPolicy"]
				replace, hasReplace := res["UpdateReplacePolicy"]
				if hasDeletion || hasReplace {
					kept[id] = policies{deletion, replace}
				}
			}
			// The data stores keep their data; everything else, fixed names and all (log
			// groups, queues, the bus, functions), goes with a rolled-back create.
			assert.Equal(t, map[string]policies{
				"ArtifactBucket": {"RetainExceptOnCreate", "Retain"},
				"Table":          {"RetainExceptOnCreate", "Retain"},
			}, kept)
			for _, typ := range []string{"AWS::S3::Bucket", "AWS::DynamoDB::Table"} {
				assert.NotEmpty(t, resources(doc, typ), "a %s to keep", typ)
				for id := range resources(doc, typ) {
					assert.Contains(t, kept, id, "%s holds data", id)
				}
			}
			require.Contains(t, doc["Resources"], "Table")
			assert.NotNil(t, resources(doc, "AWS::DynamoDB::Table")["Table"]["TableName"], "the case this is about: a fixed name")
		})
	}
}

// TestBuildLogsExpire: without LogsConfig CodeBuild writes to a group it makes itself, which
// never expires; the project names the stack's group, which keeps LogRetentionDays, and the
// build role writes to that group only.
func TestBuildLogsExpire(t *testing.T) {
	for name, doc := range both(t) {
		t.Run(name, func(t *testing.T) {
			project := resources(doc, "AWS::CodeBuild::Project")["BuildProject"]
			require.NotNil(t, project)
			assert.Equal(t, map[string]any{"CloudWatchLogs": map[string]any{"Status": "ENABLED", "GroupName": ref("BuildProjectLogGroup")}},
				project["LogsConfig"])

			group := resources(doc, "AWS::Logs::LogGroup")["BuildProjectLogGroup"]
			require.NotNil(t, group)
			assert.Equal(t, "/aws/codebuild/stepline-build", named(group["LogGroupName"]), "the name CodeBuild would choose")
			if name == "SAM" {
				assert.Equal(t, ref("LogRetentionDays"), group["RetentionInDays"])
			} else {
				assert.Equal(t, 30.0, group["RetentionInDays"])
			}

			var logs []map[string]any
			for _, s := range statements(t, resources(doc, "AWS::IAM::Role")["BuildProjectRole"]) {
				for _, a := range strs(s["Action"]) {
					if strings.HasPrefix(a, "logs:") {
						logs = append(logs, s)
						break
					}
				}
			}
			require.Len(t, logs, 1)
			assert.ElementsMatch(t, []string{"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}, strs(logs[0]["Action"]))
			var res []string
			for _, r := range logs[0]["Resource"].([]any) {
				res = append(res, named(r))
			}
			assert.Equal(t, []string{
				"arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/codebuild/stepline-build",
				jsonString(getAtt("BuildProjectLogGroup", "Arn")),
			}, res)
		})
	}
}
