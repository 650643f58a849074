package main

import (
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBuildFailsFastOnMissingOrBadConfiguration(t *testing.T) {
	full := map[string]string{"STEPLINE_TABLE": "t", "STEPLINE_STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:stepline",
		"STEPLINE_BUCKET": "b", "AWS_REGION": "us-east-1",
		"STEPLINE_SCHEDULE_GROUP": "stepline", "STEPLINE_SCHEDULER_ROLE_ARN": "arn:aws:iam::123456789012:role/stepline-scheduler",
		"STEPLINE_TRIGGER_QUEUE_ARN": "arn:aws:sqs:us-east-1:123456789012:stepline-trigger"}
	tests := []struct {
		name, unset, set, value, want string
	}{
		{name: "without a table", unset: "STEPLINE_TABLE", want: "STEPLINE_TABLE must be set"},
		{name: "without a state machine", unset: "STEPLINE_STATE_MACHINE_ARN", want: "STEPLINE_STATE_MACHINE_ARN must be set"},
		{name: "without a bucket", unset: "STEPLINE_BUCKET", want: "STEPLINE_BUCKET must be set"},
		{name: "without a schedule group", unset: "STEPLINE_SCHEDULE_GROUP", want: "STEPLINE_SCHEDULE_GROUP must be set"},
		{name: "without a scheduler role", unset: "STEPLINE_SCHEDULER_ROLE_ARN", want: "STEPLINE_SCHEDULER_ROLE_ARN must be set"},
		{name: "without a trigger queue", unset: "STEPLINE_TRIGGER_QUEUE_ARN", want: "STEPLINE_TRIGGER_QUEUE_ARN must be set"},
		{name: "with a trigger queue that is its URL", set: "STEPLINE_TRIGGER_QUEUE_ARN", value: "https://sqs.us-east-1.amazonaws.com/123456789012/stepline-trigger", want: "not an SQS queue ARN"},
		{name: "with a function as the trigger queue", set: "STEPLINE_TRIGGER_QUEUE_ARN", value: "arn:aws:lambda:us-east-1:123456789012:function:stepline-trigger", want: "not an SQS queue ARN"},
		{name: "with a state machine that is no ARN", set: "STEPLINE_STATE_MACHINE_ARN", value: "stepline", want: "not a state machine ARN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := func(k string) string {
				if k == tc.unset {
					return ""
				}
				if k == tc.set {
					return tc.value
				}
				return full[k]
			}
			_, err := build(context.Background(), env, slog.Default())
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	t.Setenv("AWS_REGION", "us-east-1")
	h, err := build(context.Background(), func(k string) string { return full[k] }, slog.Default())
	require.NoError(t, err)
	assert.NotNil(t, h)
}
