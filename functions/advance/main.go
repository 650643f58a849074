// Command advance is the Lambda the state machine returns to after every wave
// (pkg/advance): it drives pkg/engine, keeps the run in DynamoDB, announces state changes on
// EventBridge and answers parked runs' task tokens.
//
// Environment:
//
//	STEPLINE_TABLE              the DynamoDB table (required)
//	STEPLINE_EVENT_BUS          the bus state changes go to (required)
//	STEPLINE_BUCKET             the artifact bucket (required)
//	STEPLINE_CODEBUILD_PROJECT  the project builds run in unless an action names one (required)
//	STEPLINE_CODEBUILD_UNTRUSTED_PROJECT
//	                            the project every build of an untrusted run runs in: a fork's
//	                            pull request, a trigger marked trusted: false (required;
//	                            docs/trust.md)
//	STEPLINE_CODEBUILD_IMAGE, STEPLINE_CODEBUILD_COMPUTE_TYPE
//	                            that project's image and compute type, kept by a build in it
//	                            whose action overrides only part of its environment (optional:
//	                            without them such an action must set image, compute_type and
//	                            privileged all three)
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/stepline/stepline/pkg/advance"
	"github.com/stepline/stepline/pkg/changes"
	"github.com/stepline/stepline/pkg/lambdaenv"
	"github.com/stepline/stepline/pkg/store/dynamo"
)

func main() {
	log := lambdacontext.NewLogger()
	h, err := build(context.Background(), os.Getenv)
	if err != nil {
		log.Error("advance: cannot start", "error", err)
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}

// build reads the configuration once and wires the handler.
func build(ctx context.Context, env func(string) string) (*advance.Handler, error) {
	r := lambdaenv.New(env)
	table, bus, bucket := r.Required("STEPLINE_TABLE"), r.Required("STEPLINE_EVENT_BUS"), r.Required("STEPLINE_BUCKET")
	project, untrusted := r.Required("STEPLINE_CODEBUILD_PROJECT"), r.Required("STEPLINE_CODEBUILD_UNTRUSTED_PROJECT")
	if err := r.Err(); err != nil {
		return nil, err
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load the AWS configuration: %w", err)
	}
	db := dynamo.New(dynamodb.NewFromConfig(cfg), table)
	return advance.New(db, changes.NewEventBridge(eventbridge.NewFromConfig(cfg), bus), sfn.NewFromConfig(cfg),
		advance.Config{Bucket: bucket, Project: project, UntrustedProject: untrusted,
			Image: env("STEPLINE_CODEBUILD_IMAGE"), ComputeType: env("STEPLINE_CODEBUILD_COMPUTE_TYPE")},
		advance.WithLogger(lambdacontext.NewLogger())), nil
}
