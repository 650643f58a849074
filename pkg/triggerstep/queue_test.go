package triggerstep

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/store"
)

// message is a trigger queue message carrying body, received for the nth time.
func message(id string, body []byte, receives string) events.SQSMessage {
	return events.SQSMessage{MessageId: id, ReceiptHandle: "handle-" + id, Body: string(body),
		Attributes:     map[string]string{"ApproximateReceiveCount": receives},
		EventSource:    "aws:sqs",
		EventSourceARN: memQueueARN, AWSRegion: "us-east-1"}
}

func TestABatchRetriesOnlyTheMessagesARetryCanFix(t *testing.T) {
	t.Parallel()
	r := newMemRig(t)
	r.repo.set(commitA, registeredFile)
	outage := true
	r.reg.fail = func(op string) error {
		if outage && op == "ImageRegistrations" {
			return errUnavailable
		}
		return nil
	}
	batch := events.SQSEvent{Records: []events.SQSMessage{
		message("push", mustJSON(t, pushTo(t, "main", commitA, t0)), "1"),
		message("image", mustJSON(t, ecrEvent(t, "api", "latest")), "1"),
		message("poison", []byte(`{"Records":[{"body":"secret-value"}]}`), "1"),
		message("not-json", []byte(`<xml/>`), "1"),
	}}

	out, err := r.h.HandleQueue(r.ctx, batch)
	require.NoError(t, err, "a batch is never failed whole")
	assert.Equal(t, []events.SQSBatchItemFailure{{ItemIdentifier: "image"}}, out.BatchItemFailures,
		"the registry outage is retried; the push is done and the poison messages are acknowledged")
	require.Len(t, r.sfn.started(), 1, "the push ran its pipeline despite its neighbours")
	logs := r.logs.String()
	assert.Contains(t, logs, `"message":"image"`)
	assert.Contains(t, logs, "the message is retried")
	assert.Contains(t, logs, "unrecognised input")
	assert.NotContains(t, logs, "secret-value", "bodies are never logged")

	// The queue offers the failed message again once the registry is back: it runs, and the
	// push delivered a second time (SQS delivers at least once) starts nothing new.
	outage = false
	out, err = r.h.HandleQueue(r.ctx, events.SQSEvent{Records: []events.SQSMessage{
		message("image", mustJSON(t, ecrEvent(t, "api", "latest")), "2"),
		message("push", mustJSON(t, pushTo(t, "main", commitA, t0)), "2"),
	}})
	require.NoError(t, err)
	assert.Empty(t, out.BatchItemFailures)
	runs, err := r.runs.ListRuns(r.ctx, store.Filter{})
	require.NoError(t, err)
	var pipelines []string
	for _, run := range runs {
		pipelines = append(pipelines, run.Pipeline())
	}
	assert.ElementsMatch(t, []string{"app", "deploy"}, pipelines, "one run for the push, one for the image")
}

func TestABatchAnswersBeforeTheDeadlineAndRetriesWhatItDidNotReach(t *testing.T) {
	t.Parallel()
	r := newMemRig(t)
	r.repo.set(commitA, registeredFile)
	ctx, cancel := context.WithDeadline(r.ctx, time.Now().Add(deadlineReserve/2))
	defer cancel()
	out, err := r.h.HandleQueue(ctx, events.SQSEvent{Records: []events.SQSMessage{
		message("a", mustJSON(t, pushTo(t, "main", commitA, t0)), "1"),
		message("b", scheduleInput(t, "nightly", 0, "main", "2026-12-02T03:00:00Z"), "1"),
	}})
	require.NoError(t, err)
	assert.Equal(t, []events.SQSBatchItemFailure{{ItemIdentifier: "a"}, {ItemIdentifier: "b"}}, out.BatchItemFailures)
	assert.Empty(t, r.sfn.started())
	assert.Contains(t, r.logs.String(), "out of time")
}

func TestAnInvocationThatIsNoBatchStartsNothing(t *testing.T) {
	t.Parallel()
	r := newMemRig(t)
	r.repo.set(commitA, registeredFile)
	// An EventBridge event invoked directly, as before the trigger queue, decodes to no records.
	var batch events.SQSEvent
	require.NoError(t, json.Unmarshal(mustJSON(t, pushTo(t, "main", commitA, t0)), &batch))
	out, err := r.h.HandleQueue(r.ctx, batch)
	require.NoError(t, err)
	assert.Empty(t, out.BatchItemFailures)
	assert.Empty(t, r.sfn.started())
	assert.Contains(t, r.logs.String(), "the function takes the trigger queue's batches only")
}
