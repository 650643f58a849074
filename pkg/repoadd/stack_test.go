package repoadd

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/awstest"
)

func TestMain(m *testing.M) { awstest.Main(m) }

func newCF(t *testing.T) *cloudformation.Client {
	t.Helper()
	return cloudformation.NewFromConfig(awstest.StartMoto(t).Config())
}

// createStack deploys a stack with one resource and the given literal outputs.
func createStack(t *testing.T, cf *cloudformation.Client, outputs map[string]string) string {
	t.Helper()
	name := fmt.Sprintf("stepline-%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), time.Now().UnixNano())
	var outs []string
	for k, v := range outputs {
		outs = append(outs, fmt.Sprintf(`%q: {"Value": %q}`, k, v))
	}
	body := `{"Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}`
	if len(outs) > 0 {
		body += `, "Outputs": {` + strings.Join(outs, ", ") + `}`
	}
	body += `}`
	_, err := cf.CreateStack(context.Background(), &cloudformation.CreateStackInput{StackName: aws.String(name), TemplateBody: aws.String(body)})
	require.NoError(t, err)
	return name
}

func TestOutputsReadsTheWebhookURLAndTheSecretPrefixOfTheStack(t *testing.T) {
	cf := newCF(t)
	name := createStack(t, cf, map[string]string{
		"WebhookUrl":   "https://abc123.execute-api.us-east-1.amazonaws.com/webhooks",
		"SecretPrefix": "ci/repos/",
		"TableName":    "ci",
	})

	s, err := Outputs(context.Background(), cf, name)
	require.NoError(t, err)
	assert.Equal(t, Stack{WebhookURL: "https://abc123.execute-api.us-east-1.amazonaws.com/webhooks", SecretPrefix: "ci/repos/"}, s)
}

func TestOutputsOfAStackThatIsNotSteplineNamesTheMissingOutput(t *testing.T) {
	cf := newCF(t)
	name := createStack(t, cf, map[string]string{"SecretPrefix": "ci/repos/"})

	_, err := Outputs(context.Background(), cf, name)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "has no WebhookUrl output")
	assert.NotErrorIs(t, err, ErrNoStack)
}

func TestOutputsOfAMissingStackIsErrNoStack(t *testing.T) {
	_, err := Outputs(context.Background(), newCF(t), "no-such-stack-anywhere")
	assert.ErrorIs(t, err, ErrNoStack)
	assert.Contains(t, err.Error(), "no-such-stack-anywhere")
}
