// Command trigger is the Lambda behind the trigger queue, which the EventBridge rule on
// "stepline Source Event" feeds: it reads the pipeline file at the event's commit through the
// provider's API, matches the triggers and starts one Step Functions execution per pipeline
// that runs (pkg/triggerstep). Execution names derive from the event's idempotency key, so a
// retried or redelivered event starts nothing twice. A push to the default branch also copies
// the file into the pipeline registry and syncs its schedule triggers into EventBridge
// Scheduler schedules that send to the trigger queue; the function then also starts pipelines
// for ECR image pushes and S3 object creations (the rule on the default bus, into the same
// queue) and for those schedules. CodeCommit pushes arrive on the default bus too, and
// CodeCommit repositories are read with the function's role (GetFile, GetDifferences,
// GetBranch, GetRepository), not with a secret.
//
// Environment:
//
//	STEPLINE_TABLE              the DynamoDB table (required)
//	STEPLINE_STATE_MACHINE_ARN  the pipeline state machine (required)
//	STEPLINE_BUCKET             the bucket the webhook stores large events in (required)
//	STEPLINE_SECRET_PREFIX      the prefix of repository secret names (default stepline/repos/)
//	STEPLINE_SCHEDULE_GROUP     the EventBridge Scheduler group of schedule triggers (required)
//	STEPLINE_SCHEDULER_ROLE_ARN the role schedules send to the trigger queue with (required)
//	STEPLINE_TRIGGER_QUEUE_ARN  the trigger queue, the target of the schedules (required)
//
// Lambda polls the trigger queue and hands the function batches (triggerstep.HandleQueue).
// A message is reported for a retry only when a retry may help (AWS or a provider API
// unavailable); the queue offers it again and, after its last receive, moves it to the
// dead-letter queue.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/config"
	awscodecommit "github.com/aws/aws-sdk-go-v2/service/codecommit"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/stepline/stepline/pkg/lambdaenv"
	"github.com/stepline/stepline/pkg/reposecret"
	"github.com/stepline/stepline/pkg/scm/codecommit"
	"github.com/stepline/stepline/pkg/store/dynamo"
	"github.com/stepline/stepline/pkg/triggerstep"
)

func main() {
	log := lambdacontext.NewLogger()
	h, err := build(context.Background(), os.Getenv, log)
	if err != nil {
		log.Error("trigger: cannot start", "error", err)
		os.Exit(1)
	}
	lambda.Start(h.HandleQueue)
}

// build reads the configuration once and wires the handler.
func build(ctx context.Context, env func(string) string, log *slog.Logger) (*triggerstep.Handler, error) {
	r := lambdaenv.New(env)
	table, machine, bucket := r.Required("STEPLINE_TABLE"), r.Required("STEPLINE_STATE_MACHINE_ARN"), r.Required("STEPLINE_BUCKET")
	group, role, queue := r.Required("STEPLINE_SCHEDULE_GROUP"), r.Required("STEPLINE_SCHEDULER_ROLE_ARN"), r.Required("STEPLINE_TRIGGER_QUEUE_ARN")
	if err := r.Err(); err != nil {
		return nil, err
	}
	// Scheduler refuses a target that is no ARN only when a schedule is put, long after start.
	if a, err := arn.Parse(queue); err != nil || a.Service != "sqs" {
		return nil, fmt.Errorf("STEPLINE_TRIGGER_QUEUE_ARN %q is not an SQS queue ARN", queue)
	}
	prefix := env("STEPLINE_SECRET_PREFIX")
	if prefix == "" {
		prefix = reposecret.DefaultPrefix
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load the AWS configuration: %w", err)
	}
	db := dynamo.New(dynamodb.NewFromConfig(cfg), table)
	return triggerstep.New(db,
		reposecret.NewStore(secretsmanager.NewFromConfig(cfg), reposecret.WithPrefix(prefix)),
		s3.NewFromConfig(cfg), sfn.NewFromConfig(cfg), machine,
		triggerstep.WithEventBucket(bucket), triggerstep.WithLogger(log),
		triggerstep.WithRegistry(db), triggerstep.WithScheduler(scheduler.NewFromConfig(cfg), group, role, queue),
		triggerstep.WithCodeCommit(codecommit.NewClient(awscodecommit.NewFromConfig(cfg))))
}
