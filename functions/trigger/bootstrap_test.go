package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/awstest"
	"github.com/stepline/stepline/pkg/lambdatest"
	"github.com/stepline/stepline/pkg/reposecret"
	"github.com/stepline/stepline/pkg/scm/codecommit/cctest"
	"github.com/stepline/stepline/pkg/store"
	"github.com/stepline/stepline/pkg/store/dynamo/dynamotest"
)

func TestMain(m *testing.M) { awstest.Main(m) }

const samplePipelines = `version: 1
pipelines:
  - name: release
    triggers:
      - on: push
        tags: {include: ["simple-*"]}
    stages:
      - name: Build
        actions:
          - {name: Build, provider: codebuild, inputs: [source]}
`

// TestTheBootstrapStartsAnExecutionFromItsSampleEvent runs the real bootstrap under the
// Runtime API harness: DynamoDB and Secrets Manager on moto, GitHub's contents API and Step
// Functions on local servers answering their real shapes. events/trigger/sqs-batch.json is
// what Lambda hands the function from the trigger queue: github-push.json, a tag push that the
// release pipeline's trigger matches, and schedule.json, a schedule of a repository with no
// registry entry here.
func TestTheBootstrapStartsAnExecutionFromItsSampleEvent(t *testing.T) {
	moto := awstest.StartMoto(t)
	ctx := context.Background()
	table := dynamotest.Table(t, moto, "trigger")

	gh := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		if r.URL.Path != "/repos/Codertocat/Hello-World/contents/.stepline.yml" || r.URL.Query().Get("ref") != "6113728f27ae82c7b1a177c8d03f9e96e0adf246" {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"message":"Not Found","documentation_url":"https://docs.github.com/rest/repos/contents#get-repository-content","status":"404"}`)
			return
		}
		fmt.Fprintf(w, `{"name":".stepline.yml","path":".stepline.yml","sha":"3d21ec53a331a6f037a91c368710b99387d012c1","size":%d,"type":"file","encoding":"base64","content":%q}`,
			len(samplePipelines), base64.StdEncoding.EncodeToString([]byte(samplePipelines)))
	}))
	t.Cleanup(gh.Close)

	var mu sync.Mutex
	var starts []map[string]string
	sf := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		var in map[string]string
		_ = json.Unmarshal(body, &in)
		switch r.Header.Get("X-Amz-Target") {
		case "AWSStepFunctions.DescribeExecution":
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"__type":"com.amazonaws.swf.service.v2.model#ExecutionDoesNotExist","message":"Execution Does Not Exist: '%s'"}`, in["executionArn"])
		case "AWSStepFunctions.StartExecution":
			mu.Lock()
			starts = append(starts, in)
			mu.Unlock()
			fmt.Fprintf(w, `{"executionArn":"arn:aws:states:us-east-1:123456789012:execution:stepline:%s","startDate":%d.5}`, in["name"], time.Now().Unix())
		default:
			w.WriteHeader(http.StatusBadRequest)
		}
	}))
	t.Cleanup(sf.Close)

	prefix := table + "/"
	secret, _ := json.Marshal(reposecret.Secret{Provider: "github", Repository: "Codertocat/Hello-World",
		WebhookSecrets: []string{"stepline-sample-secret"}, Token: "sample-token", APIURL: gh.URL})
	_, err := secretsmanager.NewFromConfig(moto.Config()).CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String(prefix + "sample-hook-0123456789"), SecretString: aws.String(string(secret))})
	require.NoError(t, err)

	cc := cctest.New(t)
	cc.Repos["MyDemoRepo"] = &cctest.Repo{DefaultBranch: "main", Branches: map[string]string{"main": ccAfter},
		Commits: map[string]map[string]cctest.Entry{
			ccBefore: {".stepline.yml": {Mode: cctest.Normal, Content: codeCommitPipelines}, "app.go": {Mode: cctest.Normal, Content: "package app\n"}},
			ccAfter:  {".stepline.yml": {Mode: cctest.Normal, Content: codeCommitPipelines}, "app.go": {Mode: cctest.Normal, Content: "package app // 2\n"}},
		}}

	fn := lambdatest.Start(t, lambdatest.Build(t, "."), map[string]string{
		"STEPLINE_TABLE": table, "STEPLINE_STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:stepline",
		"STEPLINE_BUCKET": "webhook-events", "STEPLINE_SECRET_PREFIX": prefix, "STEPLINE_TRIGGER_QUEUE_ARN": "arn:aws:sqs:us-east-1:123456789012:stepline-trigger",
		"STEPLINE_SCHEDULE_GROUP": "stepline", "STEPLINE_SCHEDULER_ROLE_ARN": "arn:aws:iam::123456789012:role/stepline-scheduler",
		"AWS_ENDPOINT_URL": moto.Endpoint, "AWS_ENDPOINT_URL_SFN": sf.URL, "AWS_ENDPOINT_URL_CODECOMMIT": cc.URL,
		"AWS_REGION": awstest.Region, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
	})
	res, err := fn.Invoke(ctx, readSample(t, "trigger/sqs-batch.json"))
	require.NoError(t, err)
	require.False(t, res.Failed(), "%s: %s\n%s", res.ErrorType, res.ErrorMessage, fn.Output())
	noRetries(t, res.Payload)
	t.Logf("trigger: exec to first response %s", fn.FirstResponse().Round(time.Microsecond))

	mu.Lock()
	got := append([]map[string]string(nil), starts...)
	mu.Unlock()
	require.Len(t, got, 1, fn.Output())
	assert.Equal(t, "github-baf674544b9d8ebf75ba9a9475a6f02786ea36f5-release", got[0]["name"])
	id := store.RunID(store.Scope{Provider: "github", Repository: "Codertocat/Hello-World", Pipeline: "release"}, 1)
	assert.JSONEq(t, `{"run":"`+id+`"}`, got[0]["input"])
	assert.False(t, strings.Contains(fn.Output(), "sample-token"), "the token is never logged")

	// The same binary takes, in one batch, an ECR push and an S3 object creation (no
	// registered file listens to api or the bucket here) and a body of no known shape: all
	// are acknowledged, none starts anything.
	res, err = fn.Invoke(ctx, batchOf(t, readSample(t, "trigger/ecr-image-push.json"), readSample(t, "trigger/s3-object-created.json"),
		[]byte(`{"Records":[{"eventSource":"aws:sqs"}]}`)))
	require.NoError(t, err)
	require.False(t, res.Failed(), "%s: %s\n%s", res.ErrorType, res.ErrorMessage, fn.Output())
	noRetries(t, res.Payload)

	// The CodeCommit sample is a push to MyDemoRepo's main, read with the function's role
	// from the CodeCommit stand-in: it starts the build pipeline.
	res, err = fn.Invoke(ctx, batchOf(t, readSample(t, "trigger/codecommit-reference-updated.json")))
	require.NoError(t, err)
	require.False(t, res.Failed(), "%s: %s\n%s", res.ErrorType, res.ErrorMessage, fn.Output())
	noRetries(t, res.Payload)
	// The answer can reach the harness before the log line written just before it has
	// been copied from the process's output: wait for the lines, not for a fixed time.
	for _, line := range []string{"no registered pipeline file listens to this image repository",
		"no registered pipeline file listens to this bucket", "unrecognised input", "has no registry entry"} {
		assert.Eventually(t, func() bool { return strings.Contains(fn.Output(), line) }, 5*time.Second, 10*time.Millisecond, "%s\n%s", line, fn.Output())
	}
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, starts, 2, fn.Output())
	assert.Equal(t, "codecommit-8a4e7b2c-3f1d-4c6e-9b5a-0d2e1f3c4b5a-build", starts[1]["name"])
	assert.Equal(t, []string{"GetRepository MyDemoRepo", "GetFile .stepline.yml@" + ccAfter, "GetDifferences " + ccBefore + ".." + ccAfter}, cc.Calls())
}

const (
	ccBefore            = "3e5983b9f6a1bd9ca3e2ff8f74ea26b9e6b02b6f"
	ccAfter             = "7f2d4b5c0a9e8d7c6b5a49382716f5e4d3c2b1a0"
	codeCommitPipelines = `version: 1
pipelines:
  - name: build
    triggers:
      - {on: push, branches: [main], paths: ["*.go"]}
    stages:
      - name: Build
        actions:
          - {name: Build, provider: codebuild, inputs: [source]}
`
)

// batchOf wraps bodies into a trigger queue batch shaped as events/trigger/sqs-batch.json, as
// Lambda hands it to the function: one message per body, all received once.
func batchOf(t *testing.T, bodies ...[]byte) []byte {
	t.Helper()
	var sample events.SQSEvent
	require.NoError(t, json.Unmarshal(readSample(t, "trigger/sqs-batch.json"), &sample))
	var batch events.SQSEvent
	for i, body := range bodies {
		var compact bytes.Buffer
		require.NoError(t, json.Compact(&compact, body))
		m := sample.Records[0]
		m.MessageId = fmt.Sprintf("%s-%d", m.MessageId, i)
		m.Body = compact.String()
		m.Md5OfBody = fmt.Sprintf("%x", md5.Sum(compact.Bytes()))
		batch.Records = append(batch.Records, m)
	}
	raw, err := json.Marshal(batch)
	require.NoError(t, err)
	return raw
}

// noRetries checks that the function's answer names no message for a retry.
func noRetries(t *testing.T, payload []byte) {
	t.Helper()
	var out events.SQSEventResponse
	require.NoError(t, json.Unmarshal(payload, &out), "%s", payload)
	assert.Empty(t, out.BatchItemFailures, "%s", payload)
}
