package main

import (
	"context"
	"log/slog"
	"maps"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBuildFailsFastOnBadConfiguration(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "testing")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "testing")
	full := map[string]string{
		"STEPLINE_TABLE": "stepline", "STEPLINE_EVENT_BUS": "stepline", "STEPLINE_API_URL": "https://abc123.execute-api.us-east-1.amazonaws.com",
		"STEPLINE_SCHEDULER_ROLE_ARN": "arn:aws:iam::123456789012:role/stepline-scheduler", "STEPLINE_SCHEDULE_GROUP": "stepline",
		"STEPLINE_STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:stepline-pipeline",
	}
	without := func(k string) map[string]string { m := maps.Clone(full); delete(m, k); return m }
	with := func(k, v string) map[string]string { m := maps.Clone(full); m[k] = v; return m }
	cases := []struct {
		name string
		env  map[string]string
		err  string
	}{
		{"the stack's six variables start the function", full, ""},
		{"no table is refused", without("STEPLINE_TABLE"), "STEPLINE_TABLE must be set"},
		{"no bus is refused", without("STEPLINE_EVENT_BUS"), "STEPLINE_EVENT_BUS must be set"},
		{"no API URL is refused", without("STEPLINE_API_URL"), "STEPLINE_API_URL must be set"},
		{"no scheduler role is refused", without("STEPLINE_SCHEDULER_ROLE_ARN"), "STEPLINE_SCHEDULER_ROLE_ARN must be set"},
		{"no schedule group is refused", without("STEPLINE_SCHEDULE_GROUP"), "STEPLINE_SCHEDULE_GROUP must be set"},
		{"no state machine is refused", without("STEPLINE_STATE_MACHINE_ARN"), "STEPLINE_STATE_MACHINE_ARN must be set"},
		{"an API URL without a scheme is refused", with("STEPLINE_API_URL", "abc123.execute-api.us-east-1.amazonaws.com"), "not an absolute http(s) URL"},
		{"an API URL with a query is refused", with("STEPLINE_API_URL", "https://x.example/?a=b"), "not an absolute http(s) URL"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, err := build(context.Background(), func(k string) string { return c.env[k] }, slog.New(slog.DiscardHandler))
			if c.err == "" {
				require.NoError(t, err)
				assert.NotNil(t, h)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.err)
		})
	}
}
