package iamcheck

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	schedtypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// anything answers every request with an empty JSON document, which every output the
// tests below decode accepts: the recorder sees the call before it is sent.
func anything(t *testing.T) aws.Config {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte("{}"))
	}))
	t.Cleanup(srv.Close)
	return aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), HTTPClient: &http.Client{Timeout: 10 * time.Second},
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")}
}

var key = map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "x"}}

// fakeTB collects a recorder's failures instead of failing the test.
type fakeTB struct {
	testing.TB
	errors   []string
	cleanups []func()
}

func (f *fakeTB) Errorf(format string, args ...any) {
	f.errors = append(f.errors, strings.TrimSpace(fmt.Sprintf(format, args...)))
}
func (f *fakeTB) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }
func (f *fakeTB) Helper()           {}
func (f *fakeTB) end() {
	for _, fn := range f.cleanups {
		fn()
	}
}

func TestTheRecorderWritesEachCallInTheStacksTerms(t *testing.T) {
	ctx := context.Background()
	tb := &fakeTB{TB: t}
	machine := "arn:aws:states:us-east-1:123456789012:stateMachine:test-machine-7"
	rec := newRecorder(tb, "trigger", map[string]string{
		"env:STEPLINE_TABLE":              "test-table-7",
		"env:STEPLINE_BUCKET":             "test-bucket-7",
		"env:STEPLINE_EVENT_BUS":          "test-bus-7",
		"env:STEPLINE_SECRET_PREFIX":      "test-7/repos/",
		"env:STEPLINE_STATE_MACHINE_ARN":  machine,
		"PipelineStateMachine.Name":       "test-machine-7",
		"env:STEPLINE_SCHEDULE_GROUP":     "test-group-7",
		"env:STEPLINE_SCHEDULER_ROLE_ARN": "arn:aws:iam::123456789012:role/test-scheduler-7",
		"env:STEPLINE_TOPIC_ARN":          "arn:aws:sns:us-east-1:123456789012:test-topic-7",
	}, false)
	cfg := rec.Config(anything(t))

	db := dynamodb.NewFromConfig(cfg)
	_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("test-table-7"), Item: key})
	require.NoError(t, err)
	_, err = db.Query(ctx, &dynamodb.QueryInput{TableName: aws.String("test-table-7"), IndexName: aws.String("gsi1")})
	require.NoError(t, err)
	_, err = db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []ddbtypes.TransactWriteItem{
		{Delete: &ddbtypes.Delete{TableName: aws.String("test-table-7"), Key: key}},
		{ConditionCheck: &ddbtypes.ConditionCheck{TableName: aws.String("test-table-7"), Key: key, ConditionExpression: aws.String("attribute_exists(pk)")}}}})
	require.NoError(t, err)
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	_, err = s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("test-bucket-7"), Key: aws.String("webhooks/abc/def.json"), Body: strings.NewReader("{}")})
	require.NoError(t, err)
	_, err = s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("test-bucket-7"), Prefix: aws.String("webhooks/abc")})
	require.NoError(t, err)
	_, err = eventbridge.NewFromConfig(cfg).PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
		{EventBusName: aws.String("test-bus-7")}, {EventBusName: aws.String("test-bus-7")}, {}}})
	require.NoError(t, err)
	_, err = secretsmanager.NewFromConfig(cfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("test-7/repos/github/acme/api")})
	require.NoError(t, err)
	sf := sfn.NewFromConfig(cfg)
	_, err = sf.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(machine)})
	require.NoError(t, err)
	_, err = sf.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String("arn:aws:states:us-east-1:123456789012:execution:test-machine-7:run-42")})
	require.NoError(t, err)
	_, err = sf.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String("token"), Output: aws.String("{}")})
	require.NoError(t, err)
	_, err = scheduler.NewFromConfig(cfg).CreateSchedule(ctx, &scheduler.CreateScheduleInput{Name: aws.String("api-nightly-1"), GroupName: aws.String("test-group-7"),
		ScheduleExpression: aws.String("rate(1 day)"), FlexibleTimeWindow: &schedtypes.FlexibleTimeWindow{Mode: schedtypes.FlexibleTimeWindowModeOff},
		Target: &schedtypes.Target{Arn: aws.String("arn:aws:sqs:us-east-1:123456789012:q"), RoleArn: aws.String("arn:aws:iam::123456789012:role/test-scheduler-7")}})
	require.NoError(t, err)

	// SNS answers in XML, which the stand-in's JSON is not: the call is recorded before its
	// answer is read, so its error does not matter here.
	_, _ = sns.NewFromConfig(cfg).Publish(ctx, &sns.PublishInput{TopicArn: aws.String("arn:aws:sns:us-east-1:123456789012:test-topic-7"), Message: aws.String("{}")})

	const p, r = "arn:${AWS::Partition}:", ":${AWS::Region}:"
	want := []Request{
		{Action: "dynamodb:ConditionCheckItem", Resource: p + "dynamodb" + r + "${AWS::AccountId}:table/${env:STEPLINE_TABLE}"},
		{Action: "dynamodb:DeleteItem", Resource: p + "dynamodb" + r + "${AWS::AccountId}:table/${env:STEPLINE_TABLE}"},
		{Action: "dynamodb:PutItem", Resource: p + "dynamodb" + r + "${AWS::AccountId}:table/${env:STEPLINE_TABLE}"},
		{Action: "dynamodb:Query", Resource: p + "dynamodb" + r + "${AWS::AccountId}:table/${env:STEPLINE_TABLE}/index/gsi1"},
		{Action: "events:PutEvents", Resource: p + "events" + r + "${AWS::AccountId}:event-bus/${env:STEPLINE_EVENT_BUS}"},
		{Action: "events:PutEvents", Resource: p + "events" + r + "${AWS::AccountId}:event-bus/default"},
		{Action: "iam:PassRole", Resource: "${env:STEPLINE_SCHEDULER_ROLE_ARN}", Context: map[string]string{"iam:PassedToService": "scheduler.amazonaws.com"}},
		{Action: "s3:ListBucket", Resource: p + "s3:::${env:STEPLINE_BUCKET}", Context: map[string]string{"s3:prefix": "webhooks/*"}},
		{Action: "s3:PutObject", Resource: p + "s3:::${env:STEPLINE_BUCKET}/webhooks/*"},
		{Action: "scheduler:CreateSchedule", Resource: p + "scheduler" + r + "${AWS::AccountId}:schedule/${env:STEPLINE_SCHEDULE_GROUP}/*"},
		{Action: "secretsmanager:GetSecretValue", Resource: p + "secretsmanager" + r + "${AWS::AccountId}:secret:${env:STEPLINE_SECRET_PREFIX}*-AbCdEf"},
		{Action: "sns:Publish", Resource: "${env:STEPLINE_TOPIC_ARN}"},
		{Action: "states:DescribeExecution", Resource: p + "states" + r + "${AWS::AccountId}:execution:${PipelineStateMachine.Name}:*"},
		{Action: "states:SendTaskSuccess", Resource: "${PipelineStateMachine}"},
		{Action: "states:StartExecution", Resource: "${env:STEPLINE_STATE_MACHINE_ARN}"},
	}
	assert.Equal(t, want, rec.Requests())
	tb.end()
	assert.Empty(t, tb.errors)
}

func TestACallNamingSomethingTheTestDidNotNameFails(t *testing.T) {
	tb := &fakeTB{TB: t}
	rec := newRecorder(tb, "advance", map[string]string{"env:STEPLINE_TABLE": "test-table-8"}, false)
	_, err := dynamodb.NewFromConfig(rec.Config(anything(t))).GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String("somebody-elses-table"), Key: key})
	require.NoError(t, err)
	tb.end()
	require.Len(t, tb.errors, 1)
	assert.Contains(t, tb.errors[0], `DynamoDB GetItem names "somebody-elses-table", which is none of the stack values the test named`)
}

func TestAServiceTheRecorderCannotMapFails(t *testing.T) {
	_, err := requestsOf("Kinesis", "PutRecord", struct{}{}, &callNamer{})
	require.ErrorContains(t, err, "iamcheck does not know this service's IAM actions")
	_, err = requestsOf("EventBridge", "PutRule", struct{}{}, &callNamer{})
	require.ErrorContains(t, err, "EventBridge PutRule is not mapped")
}

func TestACallMissingFromTheContractIsNamed(t *testing.T) {
	tb := &fakeTB{TB: t}
	rec := newRecorder(tb, "advance", map[string]string{"env:STEPLINE_TABLE": "test-table-9"}, false)
	_, err := dynamodb.NewFromConfig(rec.Config(anything(t))).GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String("test-table-9"), Key: key})
	require.NoError(t, err)
	recorded := Request{Action: "dynamodb:GetItem", Resource: "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${env:STEPLINE_TABLE}"}

	msg := rec.missing(Contract{"advance": {"pkg/advance": {recorded}}}, "pkg/iamcheck")
	assert.Contains(t, msg, "  dynamodb:GetItem on "+recorded.Resource, "another package's section does not count")
	assert.Contains(t, msg, "-iamcheck.update")
	assert.NotEmpty(t, rec.missing(Contract{"webhook": {"pkg/iamcheck": {recorded}}}, "pkg/iamcheck"), "nor another function's")
	assert.Empty(t, rec.missing(Contract{"advance": {"pkg/iamcheck": {recorded}}}, "pkg/iamcheck"))
}
