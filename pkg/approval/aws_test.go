package approval

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/smithy-go/middleware"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/iamcheck"
	"github.com/stepline/stepline/pkg/statemachine"
)

// stepFunctionsServer answers SendTaskSuccess and SendTaskFailure as Step Functions does
// (JSON 1.0: the operation in X-Amz-Target, {} on success) and records the requests; a
// token already answered gets the service's TaskTimedOut.
func stepFunctionsServer(t *testing.T) (*sfn.Client, func() []map[string]string) {
	t.Helper()
	var mu sync.Mutex
	var got []map[string]string
	answered := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]string
		_ = json.Unmarshal(raw, &body)
		body["X-Amz-Target"] = r.Header.Get("X-Amz-Target")
		body["Content-Type"] = r.Header.Get("Content-Type")
		mu.Lock()
		defer mu.Unlock()
		got = append(got, body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("x-amzn-RequestId", "1f2e3d4c-0000-4abc-8def-0123456789ab")
		if answered[body["taskToken"]] {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"__type":"com.amazonaws.swf.service.v2.model#TaskTimedOut","message":"Task Timed Out: 'Provided task does not exist anymore'"}`)
			return
		}
		answered[body["taskToken"]] = true
		fmt.Fprint(w, `{}`)
	}))
	t.Cleanup(srv.Close)
	// The callback function's client: its calls are recorded for the IAM check (iamcheck).
	rec := iamcheck.NewRecorder(t, "callback", nil)
	client := sfn.New(sfn.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", ""), APIOptions: []func(*middleware.Stack) error{rec.Add}})
	return client, func() []map[string]string {
		mu.Lock()
		defer mu.Unlock()
		return append([]map[string]string(nil), got...)
	}
}

func TestARejectionTravelsAsSendTaskFailureAndARaceLosesToTaskTimedOut(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	client, recorded := stepFunctionsServer(t)
	r.h.sfn = client
	res := r.serve(t, post(testRun, testTask, formBody(testKey, "reject", "wrong commit")))
	require.Equal(t, http.StatusOK, res.StatusCode, res.Body)
	calls := recorded()
	require.Len(t, calls, 1)
	assert.Equal(t, map[string]string{"X-Amz-Target": "AWSStepFunctions.SendTaskFailure", "Content-Type": "application/x-amz-json-1.0",
		"taskToken": testToken, "error": statemachine.ErrActionRejected, "cause": "wrong commit"}, calls[0])

	// A second decision that read the token before the first deleted it: Step Functions
	// refuses it, and the page says the approval is closed.
	r.keep(t, r.req, testToken)
	res = r.serve(t, post(testRun, testTask, formBody(testKey, "approve", "")))
	assert.Equal(t, http.StatusGone, res.StatusCode)
	calls = recorded()
	require.Len(t, calls, 2)
	assert.Equal(t, "AWSStepFunctions.SendTaskSuccess", calls[1]["X-Amz-Target"])
	assert.False(t, r.tokens.has(testRun, testTask))
}
