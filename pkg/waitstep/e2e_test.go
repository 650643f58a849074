package waitstep

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/approval"
	"github.com/stepline/stepline/pkg/iamcheck"
	"github.com/stepline/stepline/pkg/store/dynamo"
)

// TestAnAnnouncedLinkApprovesOnceAndTheDeadlineThenDoesNothing follows one approval through
// both functions' handlers with real SDK clients: the wait handler keeps the token in
// DynamoDB (moto) and announces the links on EventBridge (moto); the page opened from the
// announced link shows the request; its form approves through Step Functions' JSON protocol
// (a recorder) with the very token the Wait state sent; the link is then gone; and the
// deadline's schedule, firing later, finds nothing to fail.
func TestAnAnnouncedLinkApprovesOnceAndTheDeadlineThenDoesNothing(t *testing.T) {
	r := newAWSRig(t, false)
	ctx := context.Background()
	_, err := r.h.Handle(lambdaCtx(), waitInput("approval", 3600, map[string]any{"message": "Ship it?"}))
	require.NoError(t, err)
	announced := r.events.requested(t)
	require.Len(t, announced, 1)
	link, err := url.Parse(announced[0].Approve)
	require.NoError(t, err)

	// The page's clients are the callback function's: their calls are recorded for the IAM
	// check (iamcheck).
	cb := iamcheck.NewRecorder(t, "callback", map[string]string{"env:STEPLINE_TABLE": r.table, "env:STEPLINE_EVENT_BUS": r.bus}).Config(r.moto.Config())
	sfnClient := sfn.NewFromConfig(cb, func(o *sfn.Options) { o.BaseEndpoint = aws.String(serve(t, r.sfn)) })
	page := approval.New(dynamo.New(dynamodb.NewFromConfig(cb), r.table), sfnClient, eventbridge.NewFromConfig(cb), r.bus)
	request := func(method, body string) events.APIGatewayV2HTTPResponse {
		in := events.APIGatewayV2HTTPRequest{RawPath: link.Path, RawQueryString: link.RawQuery, Body: body,
			Headers: map[string]string{"content-type": "application/x-www-form-urlencoded"}}
		in.RequestContext.HTTP.Method = method
		res, err := page.HandleAPIGateway(ctx, in)
		require.NoError(t, err)
		return res
	}

	res := request(http.MethodGet, "")
	require.Equal(t, http.StatusOK, res.StatusCode, res.Body)
	assert.Contains(t, res.Body, "Ship it?")
	assert.Empty(t, r.sfn.recorded(), "opening the link decided nothing")

	form := url.Values{"key": {link.Query().Get("key")}, "decision": {"approve"}, "comment": {"ok from e2e"}}.Encode()
	res = request(http.MethodPost, form)
	require.Equal(t, http.StatusOK, res.StatusCode, res.Body)
	calls := r.sfn.recorded()
	require.Len(t, calls, 1)
	assert.Equal(t, "AWSStepFunctions.SendTaskSuccess", calls[0].Target)
	assert.Equal(t, testToken, calls[0].Body["taskToken"])
	assert.Contains(t, calls[0].Body["output"], `"approved":true`)

	assert.Equal(t, http.StatusGone, request(http.MethodPost, form).StatusCode, "a used link is gone")
	assert.Equal(t, http.StatusGone, request(http.MethodGet, "").StatusCode)

	out, err := r.h.Handle(lambdaCtx(), Input{Expire: &Expire{Run: "api-7", Task: "Release.Approve.1"}})
	require.NoError(t, err)
	assert.False(t, out.Expired)
	assert.Len(t, r.sfn.recorded(), 1, "the deadline of a decided approval sends nothing")
}
