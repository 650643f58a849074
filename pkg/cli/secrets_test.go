package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// `stepline run --aws-secrets` fetches the buildspec's parameters and secrets with the user's
// credentials (moto here), and they, like --secret-env values, show as *** in the log file and
// in the streamed output.
func TestRunFetchesBuildspecSecretsAndMasksThemEverywhere(t *testing.T) {
	cfg := onMoto(t)
	ctx := context.Background()
	_, err := ssm.NewFromConfig(cfg).PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/cli-test/db"),
		Value: aws.String("db-pa55-from-ssm"), Type: ssmtypes.ParameterTypeSecureString, Overwrite: aws.Bool(true)})
	require.NoError(t, err)
	sm := secretsmanager.NewFromConfig(cfg)
	_, _ = sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("cli-test/npm"), ForceDeleteWithoutRecovery: aws.Bool(true)})
	_, err = sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("cli-test/npm"), SecretString: aws.String(`{"token":"npm_from_secrets_manager"}`)})
	require.NoError(t, err)
	t.Setenv("STEPLINE_TEST_DEPLOY_KEY", "key-from-the-shell")

	r := newRepo(t, map[string]string{
		".stepline.yml": envBuild[".stepline.yml"],
		"build.yml": `version: 0.2
env:
  parameter-store:
    DB: /cli-test/db
  secrets-manager:
    NPM_TOKEN: cli-test/npm:token
phases:
  build:
    commands:
      - echo "db=$DB npm=$NPM_TOKEN extra=$EXTRA key=$STEPLINE_TEST_DEPLOY_KEY"
`,
	})
	res := r.stepline("", "run", "--follow", "--aws-secrets", "--secret-env", "EXTRA=extra-secret-value", "--secret-env", "STEPLINE_TEST_DEPLOY_KEY")
	require.Equal(t, ExitOK, res.code, res.out+res.err)
	for _, shown := range []string{res.out, buildLog(t, r, "web-1")} {
		assert.Contains(t, shown, "db=*** npm=*** extra=*** key=***")
		for _, v := range []string{"db-pa55-from-ssm", "npm_from_secrets_manager", "extra-secret-value", "key-from-the-shell"} {
			assert.False(t, strings.Contains(shown, v), "%q is shown:\n%s", v, shown)
		}
	}

	missing := r.stepline("", "run", "--secret-env", "STEPLINE_TEST_NOT_SET_ANYWHERE")
	assert.Equal(t, ExitUsage, missing.code)
}
