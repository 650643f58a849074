package main

import (
	"context"
	"log/slog"
	"testing"

	"github.com/stepline/stepline/pkg/lambdatest"
)

func TestBuildFailsFastOnBadConfiguration(t *testing.T) {
	full := map[string]string{
		"STEPLINE_TABLE": "stepline", "STEPLINE_EVENT_BUS": "stepline",
		"STEPLINE_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:stepline-notifications",
	}
	check := lambdatest.ConfigCheck(t, func(env func(string) string) (any, error) {
		return build(context.Background(), env, slog.New(slog.DiscardHandler))
	})
	check("the three required variables start the function", full, "")
	check("a dashboard URL is taken", lambdatest.With(full, "STEPLINE_DASHBOARD_URL", "https://ci.example.com/runs/{run}"), "")
	check("no table is refused", lambdatest.Without(full, "STEPLINE_TABLE"), "STEPLINE_TABLE must be set")
	check("no bus is refused", lambdatest.Without(full, "STEPLINE_EVENT_BUS"), "STEPLINE_EVENT_BUS must be set")
	check("no topic is refused", lambdatest.Without(full, "STEPLINE_TOPIC_ARN"), "STEPLINE_TOPIC_ARN must be set")
	check("a topic that is no SNS ARN is refused", lambdatest.With(full, "STEPLINE_TOPIC_ARN", "arn:aws:sqs:us-east-1:123456789012:q"), "not an SNS topic ARN")
	check("a dashboard URL without a scheme is refused", lambdatest.With(full, "STEPLINE_DASHBOARD_URL", "ci.example.com"), "not an absolute http(s) URL")
}
