package main

import (
	"crypto/md5"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/changes"
	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/notify"
	"github.com/stepline/stepline/pkg/store"
)

var update = flag.Bool("update", false, "regenerate events/notify")

const (
	sampleRun    = "api-7-3c9d1e42"
	sampleCommit = "4f2c1ab9e0d3c5b7a6f8e1d2c3b4a5f60718293a"
	sampleHook   = "sample-hook-0123456789"
)

var sampleTime = time.Date(2026, 12, 7, 9, 30, 0, 0, time.UTC)

// sampleRecord is the run the samples are about, as the trigger records it.
func sampleRecord() store.Record {
	def := engine.Definition{Pipeline: "api", Stages: []engine.Stage{{Name: "Build", Actions: []engine.Action{{Name: "Test", Provider: "codebuild"}}}}}
	return store.Record{Definition: def, State: engine.New(def, engine.RunInfo{ID: sampleRun, Seq: 7}),
		Repo: "octo/api", Branch: "main", Commit: sampleCommit, Provider: "github", Hook: sampleHook,
		ExecutionARN: "arn:aws:states:us-east-1:123456789012:execution:stepline-pipeline:github-1-api"}
}

// sampleBody is the EventBridge event NotificationRule sends to the queue for e: the body of
// an SQS message.
func sampleBody(t *testing.T, id string, e engine.Event) string {
	t.Helper()
	typ, d := changes.Envelope(sampleRecord(), e)
	detail, err := json.Marshal(d)
	require.NoError(t, err)
	b, err := json.Marshal(map[string]any{"version": "0", "id": id, "detail-type": typ, "source": changes.Source,
		"account": "123456789012", "time": e.Time.Format(time.RFC3339), "region": "us-east-1", "resources": []string{},
		"detail": json.RawMessage(detail)})
	require.NoError(t, err)
	return string(b)
}

// sample is events/notify/sqs-batch.json: the pipeline's start and an action's failure, as
// Lambda hands the notify queue's messages to the function.
func sample(t *testing.T) events.SQSEvent {
	msg := func(id, receipt, body string) events.SQSMessage {
		return events.SQSMessage{MessageId: id, ReceiptHandle: receipt + "/stepline-sample-receipt-handle", Body: body,
			Md5OfBody: fmt.Sprintf("%x", md5.Sum([]byte(body))),
			Attributes: map[string]string{"ApproximateReceiveCount": "1", "SentTimestamp": "1796635800412",
				"SenderId": "AIDAIE6VAXUQU2DKHA7DK", "ApproximateFirstReceiveTimestamp": "1796635800420"},
			MessageAttributes: map[string]events.SQSMessageAttribute{}, EventSource: "aws:sqs",
			EventSourceARN: "arn:aws:sqs:us-east-1:123456789012:stepline-notify", AWSRegion: "us-east-1"}
	}
	return events.SQSEvent{Records: []events.SQSMessage{
		msg("2c6f1a3e-8b4d-4f0e-9a71-5d3c2b1e0f48", "AQEB7c2e9d",
			sampleBody(t, "0f5b8c2a-1d3e-4f6a-8b9c-0d1e2f3a4b5c", engine.Event{Type: engine.PipelineEvent, State: engine.Started,
				Pipeline: "api", Run: sampleRun, Time: sampleTime})),
		msg("6a1d9e4b-2f7c-4b3a-8e5d-1c0b9a8f7e62", "AQEB4f1a0b",
			sampleBody(t, "9e8d7c6b-5a4f-4e3d-9c2b-1a0f9e8d7c6b", engine.Event{Type: engine.ActionEvent, State: string(engine.Failed),
				Pipeline: "api", Run: sampleRun, Stage: "Build", Action: "Test", Provider: "codebuild", Attempt: 1,
				Message: "exit status 2", Time: sampleTime.Add(2 * time.Minute)})),
	}}
}

func samplePath() string { return filepath.Join("..", "..", "events", "notify", "sqs-batch.json") }

// TestTheSampleEventRoundTripsAndIsWhatTheRuleSends: events/notify/sqs-batch.json decodes
// with aws-lambda-go's type and encodes again unchanged; each body is a state change the
// notify package reads as its kind, for the recorded run. With -update it is written.
func TestTheSampleEventRoundTripsAndIsWhatTheRuleSends(t *testing.T) {
	want, err := json.MarshalIndent(sample(t), "", "  ")
	require.NoError(t, err)
	if *update {
		require.NoError(t, os.WriteFile(samplePath(), append(want, '\n'), 0o644))
	}
	raw, err := os.ReadFile(samplePath())
	require.NoError(t, err)
	var got events.SQSEvent
	require.NoError(t, json.Unmarshal(raw, &got))
	again, err := json.MarshalIndent(got, "", "  ")
	require.NoError(t, err)
	assert.JSONEq(t, string(raw), string(again), "round trip")
	assert.JSONEq(t, string(want), string(raw), "the sample is what the rule sends (go test -run Sample -update)")

	var kinds []notify.Kind
	for _, m := range got.Records {
		c, err := notify.Decode([]byte(m.Body))
		require.NoError(t, err)
		assert.Equal(t, sampleRun, c.Run())
		k, ok := c.Kind()
		require.True(t, ok)
		kinds = append(kinds, k)
	}
	assert.Equal(t, []notify.Kind{notify.PipelineStarted, notify.ActionFailed}, kinds)
}

// TestAMalformedSampleIsRefusedByTheDecoder: a body that is no stepline event is refused by
// notify.Decode, which the handler logs and drops.
func TestAMalformedSampleIsRefusedByTheDecoder(t *testing.T) {
	for name, in := range map[string]string{
		"a truncated envelope":         `{"version":"0","source":"stepline","detail":{"pipeline":`,
		"a detail that is not JSON":    `{"version":"0","source":"stepline","detail-type":"stepline Pipeline Execution State Change","detail":nope}`,
		"a state change with no run":   `{"source":"stepline","detail-type":"stepline Pipeline Execution State Change","detail":{"pipeline":"api","state":"STARTED"}}`,
		"another source's event":       `{"source":"aws.s3","detail-type":"Object Created","detail":{}}`,
		"a detail of the wrong shape":  `{"source":"stepline","detail-type":"stepline Action Execution State Change","detail":{"pipeline":"api","execution-id":"r","state":"FAILED","attempt":"one"}}`,
		"a stepline event not watched": `{"source":"stepline","detail-type":"stepline Source Event","detail":{}}`,
	} {
		_, err := notify.Decode([]byte(in))
		assert.Error(t, err, name)
	}
}
