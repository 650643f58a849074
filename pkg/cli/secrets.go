package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/spf13/pflag"

	"github.com/stepline/stepline/pkg/awssecrets"
	"github.com/stepline/stepline/pkg/buildspec"
)

// buildSecrets are the flags through which local builds get secret values: the buildspec's
// parameter-store and secrets-manager variables fetched from AWS, and values marked secret.
// Both are hidden in every log line.
type buildSecrets struct {
	aws bool
	env []string
}

func (s *buildSecrets) addFlags(f *pflag.FlagSet) {
	f.BoolVar(&s.aws, "aws-secrets", false, "fetch the buildspecs' env.parameter-store and env.secrets-manager values with the default AWS credentials, as CodeBuild would")
	f.StringArrayVar(&s.env, "secret-env", nil, "an environment variable K=V, or NAME to pass this shell's NAME on, whose value the logs show as *** (repeatable)")
}

// resolve returns the secret overrides as KEY=VALUE pairs and, with --aws-secrets, the source
// that fetches the buildspecs' parameters and secrets.
func (s buildSecrets) resolve(ctx context.Context) ([]string, buildspec.SecretSource, error) {
	env, err := resolveEnv(s.env)
	if err != nil {
		return nil, nil, err
	}
	if !s.aws {
		return env, nil, nil
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, nil, exit(ExitUsage, fmt.Errorf("--aws-secrets: load the AWS configuration: %w", err))
	}
	if cfg.Region == "" {
		return nil, nil, exit(ExitUsage, errors.New("--aws-secrets: no AWS region: set AWS_REGION or a profile's region"))
	}
	return env, awssecrets.New(ssm.NewFromConfig(cfg), secretsmanager.NewFromConfig(cfg)), nil
}
