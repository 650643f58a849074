package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/stepline/stepline/pkg/advance"
	"github.com/stepline/stepline/pkg/artifact"
	"github.com/stepline/stepline/pkg/awsrun"
	"github.com/stepline/stepline/pkg/local"
)

// awsExecutors builds `stepline run --aws`'s artifact store and build executor from the
// default credential chain (environment, profile, SSO, instance role).
func awsExecutors(ctx context.Context, bucket, project string, poll time.Duration, limits artifact.Limits) (local.Artifacts, local.Executor, error) {
	if bucket == "" || project == "" {
		return nil, nil, errors.New("--aws needs --bucket (for artifacts) and --project (the CodeBuild project builds run in)")
	}
	if poll < 100*time.Millisecond {
		return nil, nil, fmt.Errorf("--poll %v: poll at most ten times a second (CodeBuild throttles BatchGetBuilds)", poll)
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("load the AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, nil, errors.New("no AWS region: set AWS_REGION or a profile's region")
	}
	arts := awsrun.NewS3Artifacts(s3.NewFromConfig(cfg), bucket, artifact.WithLimits(limits))
	build := awsrun.NewCodeBuild(codebuild.NewFromConfig(cfg), advance.Config{Bucket: bucket, Project: project}, poll)
	return arts, build, nil
}
