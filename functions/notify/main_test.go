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
		"STEPLINE_TABLE": "stepline", "STEPLINE_EVENT_BUS": "stepline",
		"STEPLINE_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:stepline-notifications",
	}
	without := func(k string) map[string]string { m := maps.Clone(full); delete(m, k); return m }
	with := func(k, v string) map[string]string { m := maps.Clone(full); m[k] = v; return m }
	cases := []struct {
		name string
		env  map[string]string
		err  string
	}{
		{"the three required variables start the function", full, ""},
		{"a dashboard URL is taken", with("STEPLINE_DASHBOARD_URL", "https://ci.example.com/runs/{run}"), ""},
		{"no table is refused", without("STEPLINE_TABLE"), "STEPLINE_TABLE must be set"},
		{"no bus is refused", without("STEPLINE_EVENT_BUS"), "STEPLINE_EVENT_BUS must be set"},
		{"no topic is refused", without("STEPLINE_TOPIC_ARN"), "STEPLINE_TOPIC_ARN must be set"},
		{"a topic that is no SNS ARN is refused", with("STEPLINE_TOPIC_ARN", "arn:aws:sqs:us-east-1:123456789012:q"), "not an SNS topic ARN"},
		{"a dashboard URL without a scheme is refused", with("STEPLINE_DASHBOARD_URL", "ci.example.com"), "not an absolute http(s) URL"},
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
