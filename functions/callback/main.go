// Command callback is the Lambda behind the API Gateway HTTP API routes
// GET /approvals/{run}/{task} and POST /approvals/{run}/{task} (pkg/approval): GET shows an
// approval and a form, POST decides it, answering the Wait state's task token with
// SendTaskSuccess or SendTaskFailure (ActionRejected), and announces
// "stepline Approval Decided".
//
// Environment:
//
//	STEPLINE_TABLE      the DynamoDB table the wait function keeps task tokens in (required)
//	STEPLINE_EVENT_BUS  the bus decisions are announced on (required)
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/stepline/stepline/pkg/approval"
	"github.com/stepline/stepline/pkg/lambdaenv"
	"github.com/stepline/stepline/pkg/store/dynamo"
)

func main() {
	log := lambdacontext.NewLogger()
	h, err := build(context.Background(), os.Getenv, log)
	if err != nil {
		log.Error("callback: cannot start", "error", err)
		os.Exit(1)
	}
	lambda.Start(h.HandleAPIGateway)
}

// build reads the configuration once and wires the handler.
func build(ctx context.Context, env func(string) string, log *slog.Logger) (*approval.Handler, error) {
	r := lambdaenv.New(env)
	table, bus := r.Required("STEPLINE_TABLE"), r.Required("STEPLINE_EVENT_BUS")
	if err := r.Err(); err != nil {
		return nil, err
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load the AWS configuration: %w", err)
	}
	return approval.New(dynamo.New(dynamodb.NewFromConfig(cfg), table), sfn.NewFromConfig(cfg),
		eventbridge.NewFromConfig(cfg), bus, approval.WithLogger(log)), nil
}
