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
		{"the stack's two variables start the function", map[string]string{"STEPLINE_TABLE": "stepline", "STEPLINE_EVENT_BUS": "stepline"}, ""},
		{"no table is refused", map[string]string{"STEPLINE_EVENT_BUS": "stepline"}, "STEPLINE_TABLE must be set"},
		{"no bus is refused", map[string]string{"STEPLINE_TABLE": "stepline"}, "STEPLINE_EVENT_BUS must be set"},
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
