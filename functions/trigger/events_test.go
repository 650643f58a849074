package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/scm"
	"github.com/stepline/stepline/pkg/scm/github"
	"github.com/stepline/stepline/pkg/triggerstep"
	"github.com/stepline/stepline/pkg/webhook"
)

func readSample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "events", name))
	require.NoError(t, err)
	return b
}

// TestTheSampleEventRoundTripsAndIsWhatTheWebhookPublishes decodes events/trigger/github-push.json
// with aws-lambda-go's type, encodes it again, and checks that its detail is what the webhook
// puts on the bus for events/webhook/github-push.json: same key, same normalised event.
func TestTheSampleEventRoundTripsAndIsWhatTheWebhookPublishes(t *testing.T) {
	t.Parallel()
	raw := readSample(t, "trigger/github-push.json")
	var e events.CloudWatchEvent
	require.NoError(t, json.Unmarshal(raw, &e))
	again, err := json.Marshal(e)
	require.NoError(t, err)
	assert.JSONEq(t, string(raw), string(again))
	assert.Equal(t, webhook.EventSource, e.Source)
	assert.Equal(t, webhook.DetailTypeSource, e.DetailType)

	var d triggerstep.Detail
	require.NoError(t, json.Unmarshal(e.Detail, &d))
	back, err := json.Marshal(d)
	require.NoError(t, err)
	assert.JSONEq(t, string(e.Detail), string(back))

	var req events.APIGatewayV2HTTPRequest
	require.NoError(t, json.Unmarshal(readSample(t, "webhook/github-push.json"), &req))
	body := []byte(req.Body)
	assert.Equal(t, scm.Key(scm.GitHub, body, 0, 1), d.Key)
	assert.Equal(t, req.PathParameters["hook"], d.Hook)
	want, err := github.Parse(req.Headers["x-github-event"], req.Headers["x-github-delivery"], body)
	require.NoError(t, err)
	require.Len(t, want, 1)
	require.NotNil(t, d.Event)
	assert.Equal(t, want[0], *d.Event)
	assert.Equal(t, webhook.Detail{Key: d.Key, Provider: want[0].Provider, Kind: want[0].Kind, Repository: want[0].Repository.FullName,
		Ref: want[0].Ref, Hook: req.PathParameters["hook"], Event: d.Event}, d)
}

func TestAMalformedSampleIsRefusedByTheDecoder(t *testing.T) {
	t.Parallel()
	for name, in := range map[string]string{
		"a truncated envelope":        `{"version":"0","detail":{"key":`,
		"a detail that is not JSON":   `{"version":"0","detail":nope}`,
		"an event of the wrong shape": `{"version":"0","detail":{"key":"k","event":{"commits":"many"}}}`,
	} {
		var e events.CloudWatchEvent
		err := json.Unmarshal([]byte(in), &e)
		if err == nil {
			var d triggerstep.Detail
			err = json.Unmarshal(e.Detail, &d)
		}
		assert.Error(t, err, name)
	}
}
