// Command notify is the Lambda behind the notify queue, which the stack's NotificationRule
// feeds with stepline's state changes and approval requests (pkg/notifystep): it sends each
// change's notifications as the pipeline file's notifications: rules route them (the stack's
// topic by default; AWS Chatbot custom notifications with an email subject) and posts the
// pipeline's commit status on GitHub or Bitbucket with the repository's token.
//
// Environment:
//
//	STEPLINE_TABLE          the DynamoDB table of runs and marks (required)
//	STEPLINE_EVENT_BUS      the bus a refused token is reported on (required)
//	STEPLINE_TOPIC_ARN      the stack's notification topic, the default target (required)
//	STEPLINE_SECRET_PREFIX  the prefix of repository secret names (default stepline/repos/)
//	STEPLINE_NOTIFY_SECRET_PREFIX  the prefix the Slack and Teams webhook secrets must be named
//	                        under (default stepline/notify/)
//	STEPLINE_DASHBOARD_URL  the dashboard's run URL ("{run}" is the run id); without it links
//	                        go to the execution's Step Functions console page (optional)
//
// Lambda polls the queue and hands the function batches; a message whose handling a retry
// may fix (AWS or the provider unavailable, a rate limit) is reported for a retry, and after
// its last receive the queue moves it to the dead-letter queue.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/stepline/stepline/pkg/lambdaenv"
	"github.com/stepline/stepline/pkg/notify"
	"github.com/stepline/stepline/pkg/notify/commitstatus"
	"github.com/stepline/stepline/pkg/notifystep"
	"github.com/stepline/stepline/pkg/reposecret"
	"github.com/stepline/stepline/pkg/store/dynamo"
)

func main() {
	log := lambdacontext.NewLogger()
	h, err := build(context.Background(), os.Getenv, log)
	if err != nil {
		log.Error("notify: cannot start", "error", err)
		os.Exit(1)
	}
	lambda.Start(h.HandleQueue)
}

// build reads the configuration once and wires the handler.
func build(ctx context.Context, env func(string) string, log *slog.Logger) (*notifystep.Handler, error) {
	r := lambdaenv.New(env)
	table := r.Required("STEPLINE_TABLE")
	cfg := notifystep.Config{Bus: r.Required("STEPLINE_EVENT_BUS"), TopicARN: r.Required("STEPLINE_TOPIC_ARN"), Dashboard: env("STEPLINE_DASHBOARD_URL")}
	if err := r.Err(); err != nil {
		return nil, err
	}
	if a, err := arn.Parse(cfg.TopicARN); err != nil || a.Service != "sns" {
		return nil, fmt.Errorf("STEPLINE_TOPIC_ARN %q is not an SNS topic ARN", cfg.TopicARN)
	}
	if u, err := url.Parse(cfg.Dashboard); cfg.Dashboard != "" && (err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "") {
		return nil, fmt.Errorf("STEPLINE_DASHBOARD_URL %q is not an absolute http(s) URL", cfg.Dashboard)
	}
	prefix := env("STEPLINE_SECRET_PREFIX")
	if prefix == "" {
		prefix = reposecret.DefaultPrefix
	}
	cfg.WebhookSecretPrefix = env("STEPLINE_NOTIFY_SECRET_PREFIX")
	if cfg.WebhookSecretPrefix == "" {
		cfg.WebhookSecretPrefix = DefaultWebhookSecretPrefix
	}
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load the AWS configuration: %w", err)
	}
	db := dynamo.New(dynamodb.NewFromConfig(awsCfg), table)
	sm := secretsmanager.NewFromConfig(awsCfg)
	retries := []commitstatus.Option{commitstatus.WithLogger(log)}
	return notifystep.New(db, db, reposecret.NewStore(sm, reposecret.WithPrefix(prefix)), commitstatus.Providers{Options: retries},
		sns.NewFromConfig(awsCfg), eventbridge.NewFromConfig(awsCfg), cfg, notifystep.WithLogger(log),
		notifystep.WithWebhooks(sm, notify.NewWebhookSender(retries...))), nil
}

// DefaultWebhookSecretPrefix is where webhook secrets live when the stack says nothing: the
// stack's own prefix is "<Name>/notify/".
const DefaultWebhookSecretPrefix = "stepline/notify/"
