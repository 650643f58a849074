package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/approval"
	"github.com/stepline/stepline/pkg/awstest"
	"github.com/stepline/stepline/pkg/lambdatest"
	"github.com/stepline/stepline/pkg/store/dynamo"
	"github.com/stepline/stepline/pkg/store/dynamo/dynamotest"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// TestTheBootstrapAnswersItsSampleEvents runs the real bootstrap under the Runtime API
// harness, with DynamoDB and EventBridge on moto and Step Functions on a recorder of its
// JSON 1.0 answers. The approval of events/wait/approval.json is kept in the table as the
// wait function keeps it, with the samples' key; then events/callback/get.json shows the page, post-approve.json
// approves with SendTaskSuccess, and post-reject.json, too late, gets 410 without reaching Step Functions.
func TestTheBootstrapAnswersItsSampleEvents(t *testing.T) {
	moto := awstest.StartMoto(t)
	ctx := context.Background()
	table := dynamotest.TableAndBus(t, moto, "callback")
	ddb := dynamodb.NewFromConfig(moto.Config())
	var err error

	wait := waitSample(t)
	it := wait.Task.Task
	req := approval.Request{Pipeline: it.Pipeline, Run: it.Run, Stage: it.Stage, Action: it.Action, Attempt: it.Attempt,
		Message: it.Config["message"].(string), URL: it.Config["url"].(string), Expires: time.Now().Add(time.Hour).Truncate(time.Second),
		Key: sampleKey, Announced: true}
	raw, _ := json.Marshal(req)
	db := dynamo.New(ddb, table)
	keep := req.Expires.Add(24 * time.Hour)
	require.NoError(t, db.PutToken(ctx, req.Run, approval.RequestKey(req.Task()), string(raw), keep))
	require.NoError(t, db.PutToken(ctx, req.Run, req.Task(), wait.Token, keep))

	var mu sync.Mutex
	var got []map[string]string
	answered := false
	sf := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var in map[string]string
		_ = json.Unmarshal(body, &in)
		in["target"] = r.Header.Get("X-Amz-Target")
		mu.Lock()
		defer mu.Unlock()
		got = append(got, in)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		if answered {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"__type":"com.amazonaws.swf.service.v2.model#TaskTimedOut","message":"Task Timed Out: 'Provided task does not exist anymore'"}`)
			return
		}
		answered = true
		fmt.Fprint(w, `{}`)
	}))
	t.Cleanup(sf.Close)

	fn := lambdatest.Start(t, lambdatest.Build(t, "."), map[string]string{
		"STEPLINE_TABLE": table, "STEPLINE_EVENT_BUS": table,
		"AWS_ENDPOINT_URL": moto.Endpoint, "AWS_ENDPOINT_URL_SFN": sf.URL,
		"AWS_REGION": awstest.Region, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
	})
	for _, s := range samples(t) {
		event, err := os.ReadFile(samplePath("callback", s.file))
		require.NoError(t, err)
		res, err := fn.Invoke(ctx, event)
		require.NoError(t, err)
		require.False(t, res.Failed(), "%s: %s: %s", s.file, res.ErrorType, res.ErrorMessage)
		var out events.APIGatewayV2HTTPResponse
		require.NoError(t, json.Unmarshal(res.Payload, &out))
		assert.Equal(t, s.status, out.StatusCode, "%s: %s", s.file, out.Body)
		assert.Equal(t, "text/html; charset=utf-8", out.Headers["Content-Type"], s.file)
		if s.file == "get.json" {
			assert.Contains(t, out.Body, "Ship 4f2c1ab (Fix the login redirect) to production?")
			assert.Contains(t, out.Body, `value="approve"`)
			mu.Lock()
			assert.Empty(t, got, "the page decides nothing")
			mu.Unlock()
		}
	}
	t.Logf("callback: exec to first response %s", fn.FirstResponse().Round(time.Microsecond))

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, got, 1, "the late rejection finds no token and never reaches Step Functions")
	assert.Equal(t, "AWSStepFunctions.SendTaskSuccess", got[0]["target"])
	assert.Equal(t, wait.Token, got[0]["taskToken"])
	assert.JSONEq(t, `{"approved":true,"comment":"Checked on staging.","time":"`+got0Time(t, got[0]["output"])+`"}`, got[0]["output"])
	_, err = db.Token(ctx, req.Run, req.Task())
	require.Error(t, err, "the token is deleted once used")
}

func got0Time(t *testing.T, output string) string {
	t.Helper()
	var o approval.Output
	require.NoError(t, json.Unmarshal([]byte(output), &o))
	_, err := time.Parse(time.RFC3339, o.Time)
	require.NoError(t, err)
	return o.Time
}
