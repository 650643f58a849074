package main

import (
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBuildFailsFastOnBadConfiguration(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "testing")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "testing")
	cases := []struct {
		name string
		env  map[string]string
		err  string
	}{
		{"nothing set starts with the defaults", nil, ""},
		{"a prefix, a part size and a concurrency are taken", map[string]string{"STEPLINE_SECRET_PREFIX": "ci/repos/", "STEPLINE_PART_SIZE": "16777216", "STEPLINE_CONCURRENCY": "8"}, ""},
		{"a part size under S3's 5 MiB is refused", map[string]string{"STEPLINE_PART_SIZE": "1048576"}, `STEPLINE_PART_SIZE "1048576"`},
		{"a part size with a unit is refused", map[string]string{"STEPLINE_PART_SIZE": "8MiB"}, "number of bytes"},
		{"a concurrency of zero is refused", map[string]string{"STEPLINE_CONCURRENCY": "0"}, `STEPLINE_CONCURRENCY "0"`},
		{"a concurrency that is not a number is refused", map[string]string{"STEPLINE_CONCURRENCY": "many"}, `STEPLINE_CONCURRENCY "many"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, err := build(context.Background(), func(k string) string { return c.env[k] }, slog.New(slog.DiscardHandler))
			if c.err == "" {
				require.NoError(t, err)
				assert.NotNil(t, h.Secrets)
				assert.NotNil(t, h.Streamer)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.err)
		})
	}
}
