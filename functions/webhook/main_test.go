package main

import (
	"context"
	"testing"

	"github.com/stepline/stepline/pkg/lambdatest"
)

func TestBuildFailsFastOnMissingOrBadConfiguration(t *testing.T) {
	check := lambdatest.ConfigCheck(t, func(env func(string) string) (any, error) {
		return build(context.Background(), env)
	})
	check("without a bus it refuses to start", map[string]string{"STEPLINE_BUCKET": "b"}, "STEPLINE_EVENT_BUS and STEPLINE_BUCKET must be set")
	check("without a bucket it refuses to start", map[string]string{"STEPLINE_EVENT_BUS": "e"}, "STEPLINE_EVENT_BUS and STEPLINE_BUCKET must be set")
	check("a TTL that is not a duration is refused", map[string]string{"STEPLINE_EVENT_BUS": "e", "STEPLINE_BUCKET": "b", "STEPLINE_SECRET_TTL": "five"}, `STEPLINE_SECRET_TTL "five"`)
	check("a body cap that is not a positive number is refused", map[string]string{"STEPLINE_EVENT_BUS": "e", "STEPLINE_BUCKET": "b", "STEPLINE_MAX_BODY": "-1"}, `STEPLINE_MAX_BODY "-1"`)
	check("an allowed repository without a provider is refused", map[string]string{"STEPLINE_EVENT_BUS": "e", "STEPLINE_BUCKET": "b", "STEPLINE_ALLOWED_REPOS": "acme/*"}, `STEPLINE_ALLOWED_REPOS: allowed repository "acme/*"`)
	check("allowed repositories are read", map[string]string{"STEPLINE_EVENT_BUS": "e", "STEPLINE_BUCKET": "b", "STEPLINE_ALLOWED_REPOS": "github:acme/*, bitbucket:team/api"}, "")
	check("the required settings are enough", map[string]string{"STEPLINE_EVENT_BUS": "e", "STEPLINE_BUCKET": "b"}, "")
}
