package main

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBuildFailsFastOnMissingOrBadConfiguration(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "testing")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "testing")
	cases := []struct {
		name string
		env  map[string]string
		err  string
	}{
		{"without a bus it refuses to start", map[string]string{"STEPLINE_BUCKET": "b"}, "STEPLINE_EVENT_BUS and STEPLINE_BUCKET must be set"},
		{"without a bucket it refuses to start", map[string]string{"STEPLINE_EVENT_BUS": "e"}, "STEPLINE_EVENT_BUS and STEPLINE_BUCKET must be set"},
		{"a TTL that is not a duration is refused", map[string]string{"STEPLINE_EVENT_BUS": "e", "STEPLINE_BUCKET": "b", "STEPLINE_SECRET_TTL": "five"}, `STEPLINE_SECRET_TTL "five"`},
		{"a body cap that is not a positive number is refused", map[string]string{"STEPLINE_EVENT_BUS": "e", "STEPLINE_BUCKET": "b", "STEPLINE_MAX_BODY": "-1"}, `STEPLINE_MAX_BODY "-1"`},
		{"an allowed repository without a provider is refused", map[string]string{"STEPLINE_EVENT_BUS": "e", "STEPLINE_BUCKET": "b", "STEPLINE_ALLOWED_REPOS": "acme/*"}, `STEPLINE_ALLOWED_REPOS: allowed repository "acme/*"`},
		{"allowed repositories are read", map[string]string{"STEPLINE_EVENT_BUS": "e", "STEPLINE_BUCKET": "b", "STEPLINE_ALLOWED_REPOS": "github:acme/*, bitbucket:team/api"}, ""},
		{"the required settings are enough", map[string]string{"STEPLINE_EVENT_BUS": "e", "STEPLINE_BUCKET": "b"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, err := build(context.Background(), func(k string) string { return c.env[k] })
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
