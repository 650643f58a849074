package stepline_test

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/infra/stepline"
	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/iamcheck"
	"github.com/stepline/stepline/pkg/pipeline"
)

// cloudFormationStackName is CloudFormation's rule for a stack name: a letter, then letters,
// digits and hyphens, at most 128 characters.
// https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html
var cloudFormationStackName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,127}$`)

// previewStackCalls are what the cloudformation provider calls on a stack it deploys or
// deletes (pkg/deploy/cloudformation's API interface), each authorized on the stack's ARN.
// https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-iam-template.html
var previewStackCalls = []string{"cloudformation:DescribeStacks", "cloudformation:DescribeStackEvents",
	"cloudformation:CreateChangeSet", "cloudformation:DescribeChangeSet", "cloudformation:ExecuteChangeSet",
	"cloudformation:DeleteChangeSet", "cloudformation:DeleteStack"}

// previewStacks returns the stack names and CloudFormation roles examples/pr-preview's
// pipelines deploy with for pull requests 1 to 50000 (the listener rule priorities the
// preview template allows), resolved as a run resolves them.
func previewStacks(t *testing.T) (names, roles []string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, "examples", "pr-preview", ".stepline.yml"))
	require.NoError(t, err)
	f, err := pipeline.Parse(".stepline.yml", raw)
	require.NoError(t, err)
	for _, p := range f.Pipelines {
		for _, pr := range []int{1, 2, 4711, 50000} {
			vars, err := p.RunVariables(map[string]string{"branch": "feature/x", "pr_number": strconv.Itoa(pr), "fork": "false"}, "run-1", 1)
			require.NoError(t, err)
			for _, st := range p.Definition().Stages {
				for _, a := range st.Actions {
					if a.Provider != pipeline.ProviderCloudFormation {
						continue
					}
					name, err := engine.Expand(a.Config["stack"].(string), vars)
					require.NoError(t, err)
					require.Regexp(t, cloudFormationStackName, name, "%s/%s", st.Name, a.Name)
					names = append(names, name)
					if role, _ := a.Config["role"].(string); role != "" && !strings.Contains(strings.Join(roles, " "), role) {
						roles = append(roles, role)
					}
				}
			}
		}
	}
	require.NotEmpty(t, names)
	return names, roles
}

// The pull-request previews of examples/pr-preview (docs/previews.md): with StackNamePrefix
// "preview-" both templates let the wait function create, update and delete each preview
// stack, pass the example's CloudFormation service role to CloudFormation, and bring each
// stack's final status events to it; a stack outside the prefix stays out of reach.
func TestPreviewStacksFallInsideTheStackNamePrefix(t *testing.T) {
	names, roles := previewStacks(t)
	require.Len(t, roles, 1, "one service role deploys and deletes the previews")
	targets := maps.Clone(deployTargets)
	targets["StackNamePrefix"] = "preview-"
	targets["DeployRoleArns"] = roles[0]
	_, cdk := synth(t, stepline.Props{StackNamePrefix: "preview-", DeployRoleArns: roles})

	for name, doc := range map[string]map[string]any{"SAM": samTemplate(t), "CDK": cdk} {
		raw, err := json.Marshal(doc)
		require.NoError(t, err)
		tmpl, err := iamcheck.ParseTemplate(raw)
		require.NoError(t, err)
		tmpl.SetParameters(targets)
		policy, err := tmpl.RolePolicy("WaitFunctionRole")
		require.NoError(t, err)
		rule := resources(doc, "AWS::Events::Rule")["CloudFormationStackRule"]
		require.NotNil(t, rule, name)
		pattern := resolved(t, tmpl, rule["EventPattern"]).(map[string]any)

		for _, stack := range append(names, "api-prod") {
			inside := stack != "api-prod"
			arn := "arn:aws:cloudformation:" + iamcheck.Region + ":" + iamcheck.AccountID + ":stack/" + stack + "/5b3c9d70-d3f1-11f0-8e2a-0a1b2c3d4e5f"
			for _, action := range previewStackCalls {
				assert.Equal(t, inside, policy.Allows(iamcheck.Request{Action: action, Resource: arn}), "%s: %s on %s", name, action, stack)
			}
			for _, sample := range []string{"create-complete.json", "update-complete.json", "delete-complete.json"} {
				ev := stackEvent(t, sample, stack)
				assert.Equal(t, inside, matches(pattern, ev), "%s: CloudFormationStackRule and %s of %s", name, sample, stack)
			}
		}
		assert.True(t, policy.Allows(iamcheck.Request{Action: "iam:PassRole", Resource: roles[0],
			Context: map[string]string{"iam:PassedToService": "cloudformation.amazonaws.com"}}), "%s: the service role is passed to CloudFormation", name)
	}
}

// stackEvent is a sample "CloudFormation Stack Status Change" event of stack in the stack's
// account and region.
func stackEvent(t *testing.T, sample, stack string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, "events", "cloudformation", sample))
	require.NoError(t, err)
	s := strings.NewReplacer("111122223333", iamcheck.AccountID, "us-west-2", iamcheck.Region, "stack/api-prod/", "stack/"+stack+"/").Replace(string(raw))
	var ev map[string]any
	require.NoError(t, json.Unmarshal([]byte(s), &ev))
	return ev
}
