// Command webhook is the Lambda behind the API Gateway HTTP API route
// POST /webhooks/{provider}/{hook}: it verifies and normalises deliveries (pkg/webhook) and
// puts the accepted events on the stepline EventBridge bus.
//
// Environment:
//
//	STEPLINE_EVENT_BUS      the bus accepted events go to (required)
//	STEPLINE_BUCKET         where events too large for EventBridge are stored (required)
//	STEPLINE_SECRET_PREFIX  the prefix of repository secret names (default stepline/repos/)
//	STEPLINE_SECRET_TTL     how long a repository secret is cached (default 5m)
//	STEPLINE_MAX_BODY       the largest body accepted, in bytes (default 4 MiB)
//	STEPLINE_ALLOWED_REPOS  comma-separated provider:owner/repo patterns accepted (default: all)
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/stepline/stepline/pkg/reposecret"
	"github.com/stepline/stepline/pkg/webhook"
)

func main() {
	log := lambdacontext.NewLogger()
	h, err := build(context.Background(), os.Getenv)
	if err != nil {
		log.Error("webhook: cannot start", "error", err)
		os.Exit(1)
	}
	lambda.Start(h.HandleAPIGateway)
}

// build reads the configuration once and wires the handler.
func build(ctx context.Context, env func(string) string) (*webhook.Handler, error) {
	bus, bucket := env("STEPLINE_EVENT_BUS"), env("STEPLINE_BUCKET")
	if bus == "" || bucket == "" {
		return nil, fmt.Errorf("STEPLINE_EVENT_BUS and STEPLINE_BUCKET must be set")
	}
	prefix := env("STEPLINE_SECRET_PREFIX")
	if prefix == "" {
		prefix = reposecret.DefaultPrefix
	}
	ttl := 5 * time.Minute
	if s := env("STEPLINE_SECRET_TTL"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("STEPLINE_SECRET_TTL %q is not a duration such as 5m", s)
		}
		ttl = d
	}
	maxBody := webhook.DefaultMaxBody
	if s := env("STEPLINE_MAX_BODY"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("STEPLINE_MAX_BODY %q is not a positive number of bytes", s)
		}
		maxBody = n
	}
	allowed, err := webhook.ParseAllowed(env("STEPLINE_ALLOWED_REPOS"))
	if err != nil {
		return nil, fmt.Errorf("STEPLINE_ALLOWED_REPOS: %w", err)
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load the AWS configuration: %w", err)
	}
	secrets := reposecret.NewStore(secretsmanager.NewFromConfig(cfg), reposecret.WithPrefix(prefix), reposecret.WithTTL(ttl, 30*time.Second))
	pub := webhook.NewEventBridge(eventbridge.NewFromConfig(cfg), bus, s3.NewFromConfig(cfg), bucket)
	return webhook.New(secrets, pub, webhook.WithMaxBody(maxBody), webhook.WithAllowed(allowed), webhook.WithLogger(lambdacontext.NewLogger())), nil
}
