package main

import (
	"context"
	"log/slog"
	"testing"

	"github.com/stepline/stepline/pkg/lambdatest"
)

func TestBuildFailsFastOnBadConfiguration(t *testing.T) {
	check := lambdatest.ConfigCheck(t, func(env func(string) string) (any, error) {
		return build(context.Background(), env, slog.New(slog.DiscardHandler))
	})
	check("the stack's two variables start the function", map[string]string{"STEPLINE_TABLE": "stepline", "STEPLINE_EVENT_BUS": "stepline"}, "")
	check("no table is refused", map[string]string{"STEPLINE_EVENT_BUS": "stepline"}, "STEPLINE_TABLE must be set")
	check("no bus is refused", map[string]string{"STEPLINE_TABLE": "stepline"}, "STEPLINE_EVENT_BUS must be set")
}
