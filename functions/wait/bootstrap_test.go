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

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/approval"
	"github.com/stepline/stepline/pkg/awstest"
	"github.com/stepline/stepline/pkg/lambdatest"
	"github.com/stepline/stepline/pkg/statemachine"
	"github.com/stepline/stepline/pkg/store/dynamo"
	"github.com/stepline/stepline/pkg/store/dynamo/dynamotest"
	"github.com/stepline/stepline/pkg/waitstep"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// TestTheBootstrapAnswersItsSampleEvents runs the real bootstrap under the Runtime API
// harness with DynamoDB, EventBridge and Scheduler on moto and Step Functions on a recorder
// of its JSON 1.0 answers. events/wait/approval.json keeps the token and creates the
// deadline's schedule targeting the function's own ARN; events/wait/ecs.json reaches the ecs
// provider, which fails as ActionFailed since its artifact is not in S3; an ECS deployment
// event nobody waits for does nothing; events/wait/expire.json, the schedule's input, fails the task as
// ActionTimedOut.
func TestTheBootstrapAnswersItsSampleEvents(t *testing.T) {
	moto := awstest.StartMoto(t)
	ctx := context.Background()
	table := dynamotest.TableAndBus(t, moto, "wait")
	ddb := dynamodb.NewFromConfig(moto.Config())
	var err error
	sched := scheduler.NewFromConfig(moto.Config())
	_, err = sched.CreateScheduleGroup(ctx, &scheduler.CreateScheduleGroupInput{Name: aws.String(table)})
	require.NoError(t, err)

	var mu sync.Mutex
	var failures []map[string]string
	sf := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var in map[string]string
		_ = json.Unmarshal(raw, &in)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		if r.Header.Get("X-Amz-Target") != "AWSStepFunctions.SendTaskFailure" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"__type":"com.amazon.coral.service#UnknownOperationException"}`)
			return
		}
		mu.Lock()
		failures = append(failures, in)
		mu.Unlock()
		fmt.Fprint(w, `{}`)
	}))
	t.Cleanup(sf.Close)

	fn := lambdatest.Start(t, lambdatest.Build(t, "."), map[string]string{
		"STEPLINE_TABLE": table, "STEPLINE_EVENT_BUS": table, "STEPLINE_API_URL": "https://abc123.execute-api.us-east-1.amazonaws.com",
		"STEPLINE_SCHEDULER_ROLE_ARN": "arn:aws:iam::123456789012:role/stepline-scheduler", "STEPLINE_SCHEDULE_GROUP": table,
		"STEPLINE_STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:stepline-pipeline",
		"AWS_ENDPOINT_URL":           moto.Endpoint, "AWS_ENDPOINT_URL_SFN": sf.URL,
		"AWS_REGION": awstest.Region, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
	})
	invoke := func(name string) lambdatest.Result {
		event, err := os.ReadFile(samplePath(name))
		require.NoError(t, err)
		res, err := fn.Invoke(ctx, event)
		require.NoError(t, err)
		return res
	}

	res := invoke("approval.json")
	require.False(t, res.Failed(), "%s: %s", res.ErrorType, res.ErrorMessage)
	var out waitstep.Output
	require.NoError(t, json.Unmarshal(res.Payload, &out))
	assert.Equal(t, "Release.Approve.1", out.Waiting)
	tok, err := dynamo.New(ddb, table).Token(ctx, "api-7", "Release.Approve.1")
	require.NoError(t, err)
	assert.Equal(t, sampleToken(), tok)
	raw, err := dynamo.New(ddb, table).Token(ctx, "api-7", approval.RequestKey("Release.Approve.1"))
	require.NoError(t, err)
	var req approval.Request
	require.NoError(t, json.Unmarshal([]byte(raw), &req))
	assert.Regexp(t, `^[A-Za-z0-9_-]{43}$`, req.Key, "the links' key, drawn at random, is kept with the request")
	assert.True(t, req.Announced)
	s, err := sched.GetSchedule(ctx, &scheduler.GetScheduleInput{Name: aws.String(waitstep.ScheduleName("api-7", "Release.Approve.1")), GroupName: aws.String(table)})
	require.NoError(t, err)
	assert.Equal(t, "arn:aws:lambda:us-east-1:123456789012:function:wait", aws.ToString(s.Target.Arn), "the function's own ARN, from its Lambda context")
	assert.JSONEq(t, `{"expire":{"run":"api-7","task":"Release.Approve.1"}}`, aws.ToString(s.Target.Input))
	t.Logf("wait: exec to first response %s", fn.FirstResponse().Round(time.Microsecond))

	res = invoke("ecs.json")
	require.True(t, res.Failed())
	assert.Equal(t, statemachine.ErrActionFailed, res.ErrorType, "the Wait state catches it by name")
	assert.Contains(t, res.ErrorMessage, "artifact s3://stepline-artifacts/runs/api-7/bin.zip", "the ecs provider reads its input from S3 (not there here)")

	// The ECS event the stack's rule delivers: no deploy waits for this deployment, so nothing
	// is answered and the event is not failed (which would make Lambda retry it).
	event, err := os.ReadFile("../../events/ecs/deployment-completed.json")
	require.NoError(t, err)
	res, err = fn.Invoke(ctx, event)
	require.NoError(t, err)
	require.False(t, res.Failed(), "%s: %s", res.ErrorType, res.ErrorMessage)

	res = invoke("expire.json")
	require.False(t, res.Failed(), "%s: %s", res.ErrorType, res.ErrorMessage)
	require.NoError(t, json.Unmarshal(res.Payload, &out))
	assert.True(t, out.Expired)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, failures, 1)
	assert.Equal(t, sampleToken(), failures[0]["taskToken"])
	assert.Equal(t, statemachine.ErrActionTimedOut, failures[0]["error"])
}
