package stepline_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/infra/stepline"
)

// TestAwsSolutionsChecksFindNothingUnexplained runs cdk-nag's AwsSolutions pack over the
// stack: every finding is either fixed or suppressed with its reason in the construct. Two
// names, because the IAM5 suppressions name the exact wildcard ARNs, which contain it.
func TestAwsSolutionsChecksFindNothingUnexplained(t *testing.T) {
	for _, props := range []stepline.Props{
		{NotificationEmail: "ops@example.com"},
		{Name: "other-ci"},
		{Name: "image-ci", EcrRepositories: []string{"api", "team/worker"}},
		withDeployTargets(stepline.Props{Name: "deploys"}),
		{Name: "policies-ci", BuildPolicyArns: []string{"arn:aws:iam::123456789012:policy/site-build", "arn:aws:iam::aws:policy/AWSCloudFormationReadOnlyAccess"}},
	} {
		name := props.Name
		if name == "" {
			name = stepline.DefaultName
		}
		t.Run("named "+name, func(t *testing.T) {
			_, stack := newStack(t, props)
			awscdk.Aspects_Of(stack).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
			annotations := assertions.Annotations_FromStack(stack)

			finding := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))
			for _, m := range *annotations.FindError(jsii.String("*"), finding) {
				t.Errorf("error %s: %v", *m.Id, m.Entry.Data)
			}
			for _, m := range *annotations.FindWarning(jsii.String("*"), finding) {
				t.Errorf("warning %s: %v", *m.Id, m.Entry.Data)
			}
		})
	}
}

// TestEveryNagSuppressionSaysWhy reads the suppressions back from the template: each has a
// one-line reason, and each IAM5 suppression is limited to named findings.
func TestEveryNagSuppressionSaysWhy(t *testing.T) {
	_, doc := synth(t, stepline.Props{})
	count := 0
	for id, r := range doc["Resources"].(map[string]any) {
		meta, _ := r.(map[string]any)["Metadata"].(map[string]any)
		nag, _ := meta["cdk_nag"].(map[string]any)
		if nag == nil {
			continue
		}
		var rules []struct {
			ID        string `json:"id"`
			Reason    string `json:"reason"`
			AppliesTo []any  `json:"applies_to"`
		}
		raw, err := json.Marshal(nag["rules_to_suppress"])
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(raw, &rules))
		for _, rule := range rules {
			count++
			assert.NotContains(t, rule.Reason, "\n", "%s %s", id, rule.ID)
			assert.GreaterOrEqual(t, len(rule.Reason), 40, "%s %s: a reason, not a label", id, rule.ID)
			if strings.HasSuffix(rule.ID, "IAM5") {
				assert.NotEmpty(t, rule.AppliesTo, "%s: an IAM5 suppression must name the wildcards it accepts", id)
			}
		}
	}
	assert.Greater(t, count, 0, "no suppression found: has the metadata key changed?")
}
