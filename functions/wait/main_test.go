package main

import (
	"context"
	"log/slog"
	"testing"

	"github.com/stepline/stepline/pkg/lambdatest"
)

func TestBuildFailsFastOnBadConfiguration(t *testing.T) {
	full := map[string]string{
		"STEPLINE_TABLE": "stepline", "STEPLINE_EVENT_BUS": "stepline", "STEPLINE_API_URL": "https://abc123.execute-api.us-east-1.amazonaws.com",
		"STEPLINE_SCHEDULER_ROLE_ARN": "arn:aws:iam::123456789012:role/stepline-scheduler", "STEPLINE_SCHEDULE_GROUP": "stepline",
		"STEPLINE_STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:stepline-pipeline",
	}
	check := lambdatest.ConfigCheck(t, func(env func(string) string) (any, error) {
		return build(context.Background(), env, slog.New(slog.DiscardHandler))
	})
	check("the stack's six variables start the function", full, "")
	check("no table is refused", lambdatest.Without(full, "STEPLINE_TABLE"), "STEPLINE_TABLE must be set")
	check("no bus is refused", lambdatest.Without(full, "STEPLINE_EVENT_BUS"), "STEPLINE_EVENT_BUS must be set")
	check("no API URL is refused", lambdatest.Without(full, "STEPLINE_API_URL"), "STEPLINE_API_URL must be set")
	check("no scheduler role is refused", lambdatest.Without(full, "STEPLINE_SCHEDULER_ROLE_ARN"), "STEPLINE_SCHEDULER_ROLE_ARN must be set")
	check("no schedule group is refused", lambdatest.Without(full, "STEPLINE_SCHEDULE_GROUP"), "STEPLINE_SCHEDULE_GROUP must be set")
	check("no state machine is refused", lambdatest.Without(full, "STEPLINE_STATE_MACHINE_ARN"), "STEPLINE_STATE_MACHINE_ARN must be set")
	check("an API URL without a scheme is refused", lambdatest.With(full, "STEPLINE_API_URL", "abc123.execute-api.us-east-1.amazonaws.com"), "not an absolute http(s) URL")
	check("an API URL with a query is refused", lambdatest.With(full, "STEPLINE_API_URL", "https://x.example/?a=b"), "not an absolute http(s) URL")
}
