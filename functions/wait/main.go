// Command wait is the Lambda the state machine's Wait state invokes with
// lambda:invoke.waitForTaskToken and {token, run, task} (pkg/waitstep). For an approval it
// keeps the request, with the random key of its links, and the task token in DynamoDB, sets
// the approval's deadline as a one-time EventBridge Scheduler schedule that invokes this same
// function with {"expire": {run, task}}, and announces "stepline Approval Requested" with the
// links of the approval page. A deploy action (ecs, codedeploy, cloudformation, s3) starts its
// provider (pkg/deploy/...) with its input artifacts read from S3, keeps the token under the
// key the finishing event names and sets the action's deadline the same way; the ECS,
// CodeDeploy and CloudFormation events, delivered by the stack's rules on the default bus,
// answer the token (pkg/waitstep).
//
// Environment:
//
//	STEPLINE_TABLE               the DynamoDB table task tokens are kept in (required)
//	STEPLINE_EVENT_BUS           the bus approvals are announced on (required)
//	STEPLINE_API_URL             the HTTP API's base URL, which approval links start with (required)
//	STEPLINE_SCHEDULER_ROLE_ARN  the role Scheduler assumes to invoke this function (required)
//	STEPLINE_SCHEDULE_GROUP      the schedule group deadlines are created in (required)
//	STEPLINE_STATE_MACHINE_ARN   the pipeline state machine, the events' resource (required)
//	STEPLINE_BUCKET              the artifact bucket, where templates over 51,200 bytes are
//	                             uploaded for CloudFormation (templates/); optional
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/config"
	awscfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	awscodedeploy "github.com/aws/aws-sdk-go-v2/service/codedeploy"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/stepline/stepline/pkg/deploy"
	"github.com/stepline/stepline/pkg/deploy/cloudformation"
	"github.com/stepline/stepline/pkg/deploy/codedeploy"
	deployecs "github.com/stepline/stepline/pkg/deploy/ecs"
	deploys3 "github.com/stepline/stepline/pkg/deploy/s3"
	"github.com/stepline/stepline/pkg/deploy/s3artifact"
	"github.com/stepline/stepline/pkg/lambdaenv"
	"github.com/stepline/stepline/pkg/store/dynamo"
	"github.com/stepline/stepline/pkg/waitstep"
)

func main() {
	log := lambdacontext.NewLogger()
	h, err := build(context.Background(), os.Getenv, log)
	if err != nil {
		log.Error("wait: cannot start", "error", err)
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}

// build reads the configuration once and wires the handler.
func build(ctx context.Context, env func(string) string, log *slog.Logger) (*waitstep.Handler, error) {
	r := lambdaenv.New(env)
	table := r.Required("STEPLINE_TABLE")
	cfg := waitstep.Config{
		Bus:              r.Required("STEPLINE_EVENT_BUS"),
		APIURL:           r.Required("STEPLINE_API_URL"),
		SchedulerRoleARN: r.Required("STEPLINE_SCHEDULER_ROLE_ARN"),
		ScheduleGroup:    r.Required("STEPLINE_SCHEDULE_GROUP"),
		StateMachineARN:  r.Required("STEPLINE_STATE_MACHINE_ARN"),
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	if u, err := url.Parse(cfg.APIURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" {
		return nil, fmt.Errorf("STEPLINE_API_URL %q is not an absolute http(s) URL without a query", cfg.APIURL)
	}
	// A failed call fails the approval for good (the engine never retries approvals), so
	// transient AWS errors get a few more attempts than the SDK's default three.
	awsCfg, err := config.LoadDefaultConfig(ctx, config.WithRetryMaxAttempts(5))
	if err != nil {
		return nil, fmt.Errorf("load the AWS configuration: %w", err)
	}
	db := dynamo.New(dynamodb.NewFromConfig(awsCfg), table)
	tasks := sfn.NewFromConfig(awsCfg)
	s3c := s3.NewFromConfig(awsCfg)
	ecsc := ecs.NewFromConfig(awsCfg)
	var cfnOpts []cloudformation.Option
	if bucket := env("STEPLINE_BUCKET"); bucket != "" {
		cfnOpts = append(cfnOpts, cloudformation.WithUploader(cloudformation.NewS3Templates(s3c, bucket, "templates/", awsCfg.Region)))
	}
	deploys := waitstep.Deploys{
		Providers: map[string]deploy.Provider{
			deployecs.Name:      deployecs.New(ecsc, ecsc),
			codedeploy.Name:     codedeploy.New(awscodedeploy.NewFromConfig(awsCfg), ecsc),
			cloudformation.Name: cloudformation.New(awscfn.NewFromConfig(awsCfg), cfnOpts...),
			deploys3.Name:       deploys3.New(s3c),
		},
		Artifact: func(loc deploy.Location) deploy.Artifact { return s3artifact.New(s3c, loc) },
		Waits:    db,
		Tasks:    tasks,
	}
	return waitstep.New(db, tasks, scheduler.NewFromConfig(awsCfg), eventbridge.NewFromConfig(awsCfg), cfg,
		waitstep.WithLogger(log), waitstep.WithDeploys(deploys)), nil
}
