package triggerstep

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// FuzzHandleQueue hands the trigger function a batch of two messages, one with any body,
// seeded with the sample queue batch and the samples each rule sends: it never fails the batch
// whole, names for a retry only messages of the batch, never the well-formed sample beside the
// fuzzed one for a reason of the other's, and never logs the token.
func FuzzHandleQueue(f *testing.F) {
	var batch events.SQSEvent
	if err := json.Unmarshal(sample(f, "sqs-batch.json"), &batch); err != nil {
		f.Fatal(err)
	}
	for _, m := range batch.Records {
		f.Add([]byte(m.Body))
	}
	for _, name := range []string{"github-push.json", "ecr-image-push.json", "s3-object-created.json", "schedule.json", "codecommit-reference-updated.json"} {
		f.Add(sample(f, name))
	}
	f.Add([]byte(`{"stepline-schedule":{}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r := newMemRig(t)
		in := events.SQSEvent{Records: []events.SQSMessage{
			{MessageId: "m-fuzz", Body: string(body)},
			{MessageId: "m-unknown", Body: `{"source":"x","detail-type":"y","detail":{}}`},
		}}
		out, err := r.h.HandleQueue(r.ctx, in)
		if err != nil {
			t.Fatalf("the batch failed whole: %v", err)
		}
		for _, f := range out.BatchItemFailures {
			if !slices.Contains([]string{"m-fuzz"}, f.ItemIdentifier) {
				t.Fatalf("retry of %q, which is not the fuzzed message", f.ItemIdentifier)
			}
		}
		if strings.Contains(r.logs.String(), testToken) {
			t.Fatal("the logs show the token")
		}
	})
}
