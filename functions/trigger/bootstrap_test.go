package main

import (
	"context"
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

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/awstest"
	"github.com/stepline/stepline/pkg/lambdatest"
	"github.com/stepline/stepline/pkg/reposecret"
	"github.com/stepline/stepline/pkg/store/dynamo"
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
// Functions on local servers answering their real shapes. events/trigger/github-push.json is
// a tag push that the release pipeline's trigger matches.
func TestTheBootstrapStartsAnExecutionFromItsSampleEvent(t *testing.T) {
	moto := awstest.StartMoto(t)
	ctx := context.Background()
	table := "trigger-" + time.Now().Format("150405.000000")
	_, err := dynamodb.NewFromConfig(moto.Config()).CreateTable(ctx, dynamo.Schema(table))
	require.NoError(t, err)

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
	_, err = secretsmanager.NewFromConfig(moto.Config()).CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String(prefix + "sample-hook-0123456789"), SecretString: aws.String(string(secret))})
	require.NoError(t, err)

	fn := lambdatest.Start(t, lambdatest.Build(t, "."), map[string]string{
		"STEPLINE_TABLE": table, "STEPLINE_STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:stepline",
		"STEPLINE_BUCKET": "webhook-events", "STEPLINE_SECRET_PREFIX": prefix,
		"STEPLINE_SCHEDULE_GROUP": "stepline", "STEPLINE_SCHEDULER_ROLE_ARN": "arn:aws:iam::123456789012:role/stepline-scheduler",
		"AWS_ENDPOINT_URL": moto.Endpoint, "AWS_ENDPOINT_URL_SFN": sf.URL,
		"AWS_REGION": awstest.Region, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
	})
	res, err := fn.Invoke(ctx, readSample(t, "trigger/github-push.json"))
	require.NoError(t, err)
	require.False(t, res.Failed(), "%s: %s\n%s", res.ErrorType, res.ErrorMessage, fn.Output())
	t.Logf("trigger: exec to first response %s", fn.FirstResponse().Round(time.Microsecond))

	mu.Lock()
	got := append([]map[string]string(nil), starts...)
	mu.Unlock()
	require.Len(t, got, 1, fn.Output())
	assert.Equal(t, "github-baf674544b9d8ebf75ba9a9475a6f02786ea36f5-release", got[0]["name"])
	assert.JSONEq(t, `{"run":"release-1"}`, got[0]["input"])
	assert.False(t, strings.Contains(fn.Output(), "sample-token"), "the token is never logged")

	// The same binary takes an ECR push (no registered file listens to api here) and a
	// payload of no known shape: both are acknowledged, neither starts anything.
	res, err = fn.Invoke(ctx, readSample(t, "trigger/ecr-image-push.json"))
	require.NoError(t, err)
	require.False(t, res.Failed(), "%s: %s\n%s", res.ErrorType, res.ErrorMessage, fn.Output())
	res, err = fn.Invoke(ctx, []byte(`{"Records":[{"eventSource":"aws:sqs"}]}`))
	require.NoError(t, err)
	require.False(t, res.Failed(), "an unknown shape is not retried: %s", res.ErrorMessage)
	assert.Contains(t, fn.Output(), "no registered pipeline file listens")
	assert.Contains(t, fn.Output(), "unrecognised input")
	mu.Lock()
	defer mu.Unlock()
	assert.Len(t, starts, 1)
}
