package changes

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/awstest"
	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/iamcheck"
	"github.com/stepline/stepline/pkg/store"
)

func TestMain(m *testing.M) { awstest.Main(m) }

var at = time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC)

func TestEnvelopesFollowCodePipelinesThreeDetailTypes(t *testing.T) {
	t.Parallel()
	rec := store.Record{State: engine.State{Seq: 7}, Repo: "octo/api", Branch: "main", Commit: "abc"}
	cases := []struct {
		name  string
		event engine.Event
		typ   string
		check func(t *testing.T, d Detail)
	}{
		{"a pipeline event names the execution", engine.Event{Type: engine.PipelineEvent, State: "STARTED", Pipeline: "api", Run: "api-7", Time: at},
			DetailPipeline, func(t *testing.T, d Detail) { assert.Equal(t, "api-7", d.ExecutionID); assert.Empty(t, d.Stage) }},
		{"a stage event names the stage", engine.Event{Type: engine.StageEvent, State: "SUCCEEDED", Pipeline: "api", Run: "api-7", Stage: "Build", Time: at},
			DetailStage, func(t *testing.T, d Detail) { assert.Equal(t, "Build", d.Stage) }},
		{"an action event carries CodePipeline's action type", engine.Event{Type: engine.ActionEvent, State: "FAILED", Pipeline: "api", Run: "api-7", Stage: "Build", Action: "Unit", Provider: "codebuild", Attempt: 2, Time: at, Message: "build x ended FAILED"},
			DetailAction, func(t *testing.T, d Detail) {
				assert.Equal(t, &ActionType{Owner: "stepline", Provider: "codebuild", Category: "Build", Version: "1"}, d.Type)
				assert.Equal(t, 2, d.Attempt)
				assert.Equal(t, "build x ended FAILED", d.Message)
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			typ, d := Envelope(rec, c.event)
			assert.Equal(t, c.typ, typ)
			assert.Equal(t, c.event.State, d.State)
			assert.Equal(t, int64(7), d.Version)
			assert.Equal(t, "2026-11-22T05:00:00Z", d.StartTime)
			assert.Equal(t, "octo/api", d.Repository)
			c.check(t, d)
		})
	}
}

func TestStateChangesReachARuleWrittenForThem(t *testing.T) {
	cfg := awstest.StartMoto(t).Config()
	ctx := context.Background()
	eb, sq := eventbridge.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
	name := fmt.Sprintf("changes-%d", time.Now().UnixNano())
	_, err := eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(name)})
	require.NoError(t, err)
	q, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
	require.NoError(t, err)
	attrs, err := sq.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	require.NoError(t, err)
	// A rule as one would write it for CodePipeline: failed actions only.
	_, err = eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(name), EventBusName: aws.String(name),
		EventPattern: aws.String(`{"source":["stepline"],"detail-type":["stepline Action Execution State Change"],"detail":{"state":["FAILED"]}}`)})
	require.NoError(t, err)
	_, err = eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(name), EventBusName: aws.String(name),
		Targets: []ebtypes.Target{{Id: aws.String("q"), Arn: aws.String(attrs.Attributes["QueueArn"])}}})
	require.NoError(t, err)

	var events []engine.Event
	for i := range 12 {
		state := "SUCCEEDED"
		if i == 5 {
			state = "FAILED"
		}
		events = append(events, engine.Event{Type: engine.ActionEvent, State: state, Pipeline: "api", Run: "api-1", Stage: "Build", Action: fmt.Sprint("A", i), Provider: "codebuild", Time: at})
	}
	// The advance function's client: its calls are recorded for the IAM check (iamcheck).
	fn := iamcheck.NewRecorder(t, "advance", map[string]string{"env:STEPLINE_EVENT_BUS": name}).Config(cfg)
	require.NoError(t, NewEventBridge(eventbridge.NewFromConfig(fn), name).Publish(ctx, store.Record{}, events))

	var got []Detail
	for deadline := time.Now().Add(10 * time.Second); len(got) < 1 && time.Now().Before(deadline); {
		msgs, err := sq.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		require.NoError(t, err)
		for _, m := range msgs.Messages {
			var env struct {
				Detail Detail `json:"detail"`
			}
			require.NoError(t, json.Unmarshal([]byte(*m.Body), &env))
			got = append(got, env.Detail)
		}
	}
	require.Len(t, got, 1, "only the failed action matches the rule")
	assert.Equal(t, "A5", got[0].Action)
}
