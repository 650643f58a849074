package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	awscfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	awscd "github.com/aws/aws-sdk-go-v2/service/codedeploy"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/stepline/stepline/pkg/advance"
	"github.com/stepline/stepline/pkg/artifact"
	"github.com/stepline/stepline/pkg/awsrun"
	"github.com/stepline/stepline/pkg/deploy"
	"github.com/stepline/stepline/pkg/deploy/cloudformation"
	"github.com/stepline/stepline/pkg/deploy/codedeploy"
	"github.com/stepline/stepline/pkg/deploy/ecs"
	s3deploy "github.com/stepline/stepline/pkg/deploy/s3"
	"github.com/stepline/stepline/pkg/local"
	"github.com/stepline/stepline/pkg/pipeline"
)

// awsExecutors builds `stepline run --aws`'s artifact store and build executor from the
// default credential chain (environment, profile, SSO, instance role).
func awsExecutors(ctx context.Context, bucket, project string, poll time.Duration, limits artifact.Limits) (local.Artifacts, local.Executor, error) {
	if bucket == "" || project == "" {
		return nil, nil, errors.New("--aws needs --bucket (for artifacts) and --project (the CodeBuild project builds run in)")
	}
	if err := checkPoll(poll); err != nil {
		return nil, nil, err
	}
	cfg, err := awsConfig(ctx)
	if err != nil {
		return nil, nil, err
	}
	arts := awsrun.NewS3Artifacts(s3.NewFromConfig(cfg), bucket, artifact.WithLimits(limits))
	build := awsrun.NewCodeBuild(codebuild.NewFromConfig(cfg), advance.Config{Bucket: bucket, Project: project}, poll)
	return arts, build, nil
}

// checkPoll refuses a polling interval that would have AWS throttle the describe calls.
func checkPoll(poll time.Duration) error {
	if poll < 100*time.Millisecond {
		return fmt.Errorf("--poll %v: poll at most ten times a second (AWS throttles the describe calls)", poll)
	}
	return nil
}

// awsConfig loads the default configuration (credentials chain, region, and the endpoint
// variables AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>, which tests point at moto).
func awsConfig(ctx context.Context) (aws.Config, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load the AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return aws.Config{}, errors.New("no AWS region: set AWS_REGION or a profile's region")
	}
	return cfg, nil
}

// templatePrefix is where --aws-deploy uploads CloudFormation templates too large to pass
// inline, in the --bucket bucket.
const templatePrefix = "stepline/templates/"

// awsDeploys builds `stepline run --aws-deploy`'s executor of the AWS deploy providers, from
// the default credential chain: the user's own account. bucket, when set, takes the
// CloudFormation templates over cloudformation.MaxTemplateBody bytes.
func awsDeploys(ctx context.Context, bucket string, poll time.Duration) (local.Executor, error) {
	if err := checkPoll(poll); err != nil {
		return nil, err
	}
	cfg, err := awsConfig(ctx)
	if err != nil {
		return nil, err
	}
	ecsc, s3c := awsecs.NewFromConfig(cfg), s3.NewFromConfig(cfg)
	var cfnOpts []cloudformation.Option
	if bucket != "" {
		cfnOpts = append(cfnOpts, cloudformation.WithUploader(cloudformation.NewS3Templates(s3c, bucket, templatePrefix, cfg.Region)))
	}
	return local.AWSDeploy{Every: poll, Providers: map[string]deploy.Provider{
		pipeline.ProviderECS:            ecs.New(ecsc, ecsc),
		pipeline.ProviderCodeDeploy:     codedeploy.New(awscd.NewFromConfig(cfg), ecsc),
		pipeline.ProviderCloudFormation: cloudformation.New(awscfn.NewFromConfig(cfg), cfnOpts...),
		pipeline.ProviderS3:             s3deploy.New(s3c),
	}}, nil
}
