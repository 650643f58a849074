package awssecrets

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/awstest"
	"github.com/stepline/stepline/pkg/buildspec"
)

func TestMain(m *testing.M) { awstest.Main(m) }

func TestParseReference(t *testing.T) {
	t.Parallel()
	arn := "arn:aws:secretsmanager:eu-west-1:123456789012:secret:app/db-AbCdEf"
	for ref, want := range map[string]Reference{
		"app/db":                      {SecretID: "app/db"},
		"app/db:password":             {SecretID: "app/db", JSONKey: "password"},
		"app/db:password:AWSPREVIOUS": {SecretID: "app/db", JSONKey: "password", VersionStage: "AWSPREVIOUS"},
		"app/db::::":                  {},
		"app/db:::v-123":              {SecretID: "app/db", VersionID: "v-123"},
		arn:                           {SecretID: arn},
		arn + ":password":             {SecretID: arn, JSONKey: "password"},
	} {
		got, err := ParseReference(ref)
		if want.SecretID == "" {
			assert.Error(t, err, ref)
			continue
		}
		require.NoError(t, err, ref)
		assert.Equal(t, want, got, ref)
	}
	for _, bad := range []string{"", ":key", "app/db:k:AWSCURRENT:v-1", "arn:aws:secretsmanager:eu-west-1"} {
		_, err := ParseReference(bad)
		assert.Error(t, err, bad)
	}
}

// The values a build gets are the ones moto serves through the real SDK clients: a SecureString
// decrypted, a whole secret string, one key of a JSON secret, a version by stage.
func TestSourceFetchesParametersAndSecrets(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := awstest.StartMoto(t).Config()
	ssmc, smc := ssm.NewFromConfig(cfg), secretsmanager.NewFromConfig(cfg)
	_, err := ssmc.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/build-test/db-pass"), Value: aws.String("pa55w0rd"), Type: ssmtypes.ParameterTypeSecureString})
	require.NoError(t, err)
	_, err = smc.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("build-test/plain"), SecretString: aws.String("whole-value")})
	require.NoError(t, err)
	_, err = smc.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("build-test/json"), SecretString: aws.String(`{"token":"npm_1","port":5432}`)})
	require.NoError(t, err)
	_, err = smc.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("build-test/json"), SecretString: aws.String(`{"token":"npm_2","port":5432}`)})
	require.NoError(t, err)

	src := New(ssmc, smc)
	var _ buildspec.SecretSource = src
	got, err := src.Parameter(ctx, "/build-test/db-pass")
	require.NoError(t, err)
	assert.Equal(t, "pa55w0rd", got)
	for ref, want := range map[string]string{
		"build-test/plain":                  "whole-value",
		"build-test/json:token":             "npm_2",
		"build-test/json:port":              "5432",
		"build-test/json:token:AWSPREVIOUS": "npm_1",
	} {
		got, err := src.Secret(ctx, ref)
		require.NoError(t, err, ref)
		assert.Equal(t, want, got, ref)
	}
	for ref, msg := range map[string]string{
		"build-test/json:missing": "has no key missing",
		"build-test/plain:token":  "is not a JSON object",
		"build-test/absent":       "get secret build-test/absent",
	} {
		_, err := src.Secret(ctx, ref)
		require.Error(t, err, ref)
		assert.Contains(t, err.Error(), msg)
	}
	_, err = src.Parameter(ctx, "/build-test/absent")
	assert.ErrorContains(t, err, "get parameter /build-test/absent")
}
