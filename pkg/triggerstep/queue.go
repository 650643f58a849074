package triggerstep

import (
	"context"
	"encoding/json"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// deadlineReserve is the time kept back from the invocation's deadline: work still running
// then is cancelled and its message reported for a retry, so the answer naming the failures
// reaches Lambda before the function is stopped (a timeout would send the whole batch,
// handled messages included, round again).
const deadlineReserve = 2 * time.Second

// HandleQueue is the Lambda entry point: a batch of trigger queue messages, each body one
// input Invoke reads (an EventBridge event a rule sent, or a schedule's input). A message
// whose handling failed in a way a retry may fix is named in the answer's BatchItemFailures:
// SQS offers it again after its visibility timeout, and moves it to the dead-letter queue
// after the queue's maxReceiveCount receives. Every other message is deleted, those that
// cannot start anything (no known shape, an invalid event) included, after Invoke logged
// why, so a poison message does not loop. Messages not reached before the deadline are
// reported for a retry untouched. The error is always nil: a batch is never failed whole.
func (h *Handler) HandleQueue(ctx context.Context, batch events.SQSEvent) (events.SQSEventResponse, error) {
	var out events.SQSEventResponse
	if len(batch.Records) == 0 {
		h.log.WarnContext(ctx, "trigger: an invocation without SQS records starts nothing; the function takes the trigger queue's batches only")
		return out, nil
	}
	work, cancel := ctx, context.CancelFunc(func() {})
	if deadline, ok := ctx.Deadline(); ok {
		work, cancel = context.WithDeadline(ctx, deadline.Add(-deadlineReserve))
	}
	defer cancel()
	retry := func(m events.SQSMessage) {
		out.BatchItemFailures = append(out.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
	}
	for i, m := range batch.Records {
		if work.Err() != nil {
			h.log.WarnContext(ctx, "trigger: out of time; the messages not reached are retried", "messages", len(batch.Records)-i)
			for _, rest := range batch.Records[i:] {
				retry(rest)
			}
			break
		}
		if err := h.Invoke(work, json.RawMessage(m.Body)); err != nil {
			h.log.WarnContext(ctx, "trigger: the message is retried", "message", m.MessageId,
				"receives", m.Attributes["ApproximateReceiveCount"], "error", err)
			retry(m)
		}
	}
	return out, nil
}
