// Command echo answers every event with the event itself and what the runtime told it about
// the invocation, so a test sees the harness's headers and environment.
package main

import (
	"context"
	"encoding/json"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type answer struct {
	Event      json.RawMessage `json:"event"`
	RequestID  string          `json:"requestId"`
	ARN        string          `json:"arn"`
	TraceID    string          `json:"traceId"`
	DeadlineMs int64           `json:"deadlineMs"`
	Function   string          `json:"function"`
	Handler    string          `json:"handler"`
	Extra      string          `json:"extra"`
	Home       string          `json:"home"`
}

func main() {
	lambda.Start(func(ctx context.Context, ev json.RawMessage) (answer, error) {
		lc, _ := lambdacontext.FromContext(ctx)
		deadline, _ := ctx.Deadline()
		trace, _ := ctx.Value("x-amzn-trace-id").(string)
		return answer{Event: ev, RequestID: lc.AwsRequestID, ARN: lc.InvokedFunctionArn, TraceID: trace,
			DeadlineMs: deadline.UnixMilli(), Function: lambdacontext.FunctionName, Handler: os.Getenv("_HANDLER"),
			Extra: os.Getenv("ECHO_EXTRA"), Home: os.Getenv("HOME")}, nil
	})
}
