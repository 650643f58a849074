package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/awstest"
	"github.com/stepline/stepline/pkg/lambdatest"
	"github.com/stepline/stepline/pkg/reposecret"
	"github.com/stepline/stepline/pkg/store/dynamo"
	"github.com/stepline/stepline/pkg/store/dynamo/dynamotest"
)

func TestMain(m *testing.M) { awstest.Main(m) }

const sampleToken = "ghp_BootstrapSampleTokenNeverLogged01234"

// TestTheBootstrapAnswersItsSampleEvent runs the real bootstrap under the Runtime API harness
// with DynamoDB, SNS, Secrets Manager and EventBridge on moto and GitHub's commit statuses on
// a recorder: events/notify/sqs-batch.json posts the run's pending status and publishes its
// two notifications; a malformed body is dropped, a payload that is no SQS batch fails the
// invocation; the function's output never holds the token.
func TestTheBootstrapAnswersItsSampleEvent(t *testing.T) {
	moto := awstest.StartMoto(t)
	ctx := context.Background()
	table := dynamotest.TableAndBus(t, moto, "notify")
	base := strings.ReplaceAll(table, ".", "-")
	cfg := moto.Config()

	var mu sync.Mutex
	var statuses []map[string]any
	gh := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		mu.Lock()
		if r.Method == http.MethodPost && r.URL.Path == "/repos/octo/api/statuses/"+sampleCommit && r.Header.Get("Authorization") == "Bearer "+sampleToken {
			statuses = append(statuses, body)
		}
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"id":1}`)
	}))
	t.Cleanup(gh.Close)

	prefix := base + "/repos/"
	secret, _ := json.Marshal(reposecret.Secret{Provider: "github", Repository: "octo/api", WebhookSecrets: []string{"s"}, Token: sampleToken, APIURL: gh.URL})
	_, err := secretsmanager.NewFromConfig(cfg).CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(prefix + sampleHook),
		SecretString: aws.String(string(secret))})
	require.NoError(t, err)
	require.NoError(t, dynamo.New(dynamodb.NewFromConfig(cfg), table).PutRun(ctx, sampleRecord()))
	topic, err := sns.NewFromConfig(cfg).CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(base + "-topic")})
	require.NoError(t, err)
	q := sqs.NewFromConfig(cfg)
	inbox, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(base + "-inbox")})
	require.NoError(t, err)
	_, err = sns.NewFromConfig(cfg).Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"),
		Endpoint: aws.String("arn:aws:sqs:" + awstest.Region + ":123456789012:" + base + "-inbox")})
	require.NoError(t, err)

	fn := lambdatest.Start(t, lambdatest.Build(t, "."), map[string]string{
		"STEPLINE_TABLE": table, "STEPLINE_EVENT_BUS": table, "STEPLINE_TOPIC_ARN": aws.ToString(topic.TopicArn),
		"STEPLINE_SECRET_PREFIX": prefix,
		"AWS_ENDPOINT_URL":       moto.Endpoint, "AWS_REGION": awstest.Region, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
	})
	batch, err := os.ReadFile(samplePath())
	require.NoError(t, err)
	res, err := fn.Invoke(ctx, batch)
	require.NoError(t, err)
	require.False(t, res.Failed(), "%s: %s", res.ErrorType, res.ErrorMessage)
	var out events.SQSEventResponse
	require.NoError(t, json.Unmarshal(res.Payload, &out))
	assert.Empty(t, out.BatchItemFailures, fn.Output())

	mu.Lock()
	require.Len(t, statuses, 1, "the start sets the status; an action's failure sets none")
	assert.Equal(t, "pending", statuses[0]["state"])
	assert.Equal(t, "api", statuses[0]["context"])
	mu.Unlock()
	var subjects []string
	for {
		m, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: inbox.QueueUrl, MaxNumberOfMessages: 10})
		require.NoError(t, err)
		if len(m.Messages) == 0 {
			break
		}
		for _, msg := range m.Messages {
			var n struct{ Subject string }
			require.NoError(t, json.Unmarshal([]byte(aws.ToString(msg.Body)), &n))
			subjects = append(subjects, n.Subject)
			_, err := q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: inbox.QueueUrl, ReceiptHandle: msg.ReceiptHandle})
			require.NoError(t, err)
		}
	}
	assert.Len(t, subjects, 2, "the start and the action's failure")

	res, err = fn.Invoke(ctx, []byte(`{"Records":[{"messageId":"m1","body":"{not json"}]}`))
	require.NoError(t, err)
	require.False(t, res.Failed())
	assert.JSONEq(t, `{"batchItemFailures":null}`, string(res.Payload), "dropped, not retried")

	res, err = fn.Invoke(ctx, []byte(`{"Records":"many"}`))
	require.NoError(t, err)
	assert.True(t, res.Failed(), "a payload that is no SQS batch fails the invocation")

	assert.NotContains(t, fn.Output(), sampleToken)
	assert.NotContains(t, fn.Output(), sampleToken[4:20])
}
