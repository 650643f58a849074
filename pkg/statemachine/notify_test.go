package statemachine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/advance"
	"github.com/stepline/stepline/pkg/approval"
	"github.com/stepline/stepline/pkg/awstest"
	"github.com/stepline/stepline/pkg/changes"
	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/notify"
	"github.com/stepline/stepline/pkg/notify/commitstatus"
	"github.com/stepline/stepline/pkg/notify/notifytest"
	"github.com/stepline/stepline/pkg/notifystep"
	"github.com/stepline/stepline/pkg/pipeline"
	"github.com/stepline/stepline/pkg/reposecret"
	"github.com/stepline/stepline/pkg/statemachine/asltest"
	"github.com/stepline/stepline/pkg/store"
	"github.com/stepline/stepline/pkg/store/dynamo"
	"github.com/stepline/stepline/pkg/store/dynamo/dynamotest"
)

const (
	notifyToken  = "ghp_StateMachineNotifyTokenNeverLogged9"
	notifyHook   = "sm-notify-hook-0123456789"
	notifyCommit = "9c1e2d3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d"
)

// stage is the stack's notification path around a state machine run, on moto: the advance
// handler puts its state changes on a bus, a rule with NotificationRule's pattern sends them
// to a notify queue (dead-letter queue after two receives), and the notify handler, fed from
// the queue as Lambda's event source mapping feeds it, posts GitHub statuses (a recorder)
// and publishes to a topic an SQS queue subscribes to.
type stage struct {
	*world
	moto     *awstest.Moto
	runs     *dynamo.Store
	notify   *notifystep.Handler
	queue    string
	dlq      string
	inbox    string
	mu       sync.Mutex
	statuses []string
	down     bool
	logs     bytes.Buffer
	logMu    sync.Mutex
}

func (s *stage) Write(p []byte) (int, error) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return s.logs.Write(p)
}

func newStage(t *testing.T) *stage {
	t.Helper()
	moto := awstest.StartMoto(t)
	ctx := context.Background()
	cfg := moto.Config()
	table := dynamotest.TableAndBus(t, moto, "sm-notify")
	base := strings.ReplaceAll(table, ".", "-")
	f, err := pipeline.Parse(".stepline.yml", []byte(examplePipeline))
	require.NoError(t, err)
	p, err := f.Pipeline("")
	require.NoError(t, err)
	s := &stage{moto: moto, runs: dynamo.New(dynamodb.NewFromConfig(cfg), table)}
	s.world = &world{t: t, def: p.Definition(), events: &events{}, sfn: &tokens{}}
	s.adv = advance.New(s.runs, changes.NewEventBridge(eventbridge.NewFromConfig(cfg), table), s.sfn,
		advance.Config{Bucket: "artifacts", Project: "stepline-build"}, advance.WithClock(func() time.Time { return time.Unix(1_795_000_000, 0) }))

	gh := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.down {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if r.URL.Path == "/repos/octo/api/statuses/"+notifyCommit && r.Header.Get("Authorization") == "Bearer "+notifyToken {
			s.statuses = append(s.statuses, fmt.Sprint(body["state"]))
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"id":1}`)
	}))
	t.Cleanup(gh.Close)
	prefix := base + "/repos/"
	secret, _ := json.Marshal(reposecret.Secret{Provider: "github", Repository: "octo/api", WebhookSecrets: []string{"s"}, Token: notifyToken, APIURL: gh.URL})
	sm := secretsmanager.NewFromConfig(cfg)
	_, err = sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(prefix + notifyHook), SecretString: aws.String(string(secret))})
	require.NoError(t, err)

	q := sqs.NewFromConfig(cfg)
	queueARN := func(name string) string { return "arn:aws:sqs:" + awstest.Region + ":123456789012:" + name }
	dlq, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(base + "-dlq")})
	require.NoError(t, err)
	s.dlq = aws.ToString(dlq.QueueUrl)
	notifyQueue, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(base + "-notify"), Attributes: map[string]string{
		// A failed delivery is offered again at once, so the test need not wait.
		"VisibilityTimeout": "0",
		"RedrivePolicy":     fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":"2"}`, queueARN(base+"-dlq"))}})
	require.NoError(t, err)
	s.queue = aws.ToString(notifyQueue.QueueUrl)
	pattern, _ := json.Marshal(map[string]any{"source": []string{changes.Source},
		"detail-type": []string{changes.DetailPipeline, changes.DetailStage, changes.DetailAction, approval.DetailRequested}})
	eb := eventbridge.NewFromConfig(cfg)
	_, err = eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(base + "-rule"), EventBusName: aws.String(table), EventPattern: aws.String(string(pattern))})
	require.NoError(t, err)
	_, err = eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(base + "-rule"), EventBusName: aws.String(table),
		Targets: []ebtypes.Target{{Id: aws.String("NotifyQueue"), Arn: aws.String(queueARN(base + "-notify"))}}})
	require.NoError(t, err)

	topic, err := sns.NewFromConfig(cfg).CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(base + "-topic")})
	require.NoError(t, err)
	inbox, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(base + "-inbox")})
	require.NoError(t, err)
	s.inbox = aws.ToString(inbox.QueueUrl)
	_, err = sns.NewFromConfig(cfg).Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"), Endpoint: aws.String(queueARN(base + "-inbox"))})
	require.NoError(t, err)

	log := slog.New(slog.NewJSONHandler(s, &slog.HandlerOptions{Level: slog.LevelDebug}))
	retries := []commitstatus.Option{commitstatus.WithRetry(2, time.Millisecond, time.Second), commitstatus.WithLogger(log)}
	s.notify = notifystep.New(s.runs, s.runs, reposecret.NewStore(sm, reposecret.WithPrefix(prefix)), commitstatus.Providers{Options: retries},
		sns.NewFromConfig(cfg), eb, notifystep.Config{TopicARN: aws.ToString(topic.TopicArn), Bus: table}, notifystep.WithLogger(log))
	return s
}

// run records run id as the trigger does and executes the state machine to its end.
func (s *stage) run(id string, seq int64) asltest.Execution {
	st := engine.New(s.def, engine.RunInfo{ID: id, Seq: seq, Variables: map[string]map[string]string{"source": {"branch": "main"}}})
	require.NoError(s.t, s.runs.PutRun(context.Background(), store.Record{Definition: s.def, State: st, Repo: "octo/api", Branch: "main",
		Provider: "github", Hook: notifyHook, Commit: notifyCommit,
		ExecutionARN: "arn:aws:states:us-east-1:123456789012:execution:stepline-pipeline:" + id}))
	handlers := s.handlers()
	advanceFn := handlers["Advance"]
	handlers["Advance"] = func(in json.RawMessage) (any, error) {
		out, err := advanceFn(in)
		s.deliver()
		return out, err
	}
	return asltest.Interpret(s.t, map[string]any{"run": id}, handlers)
}

// deliver feeds the notify queue to the handler until the queue is empty, as the event
// source mapping does: a message the answer names is left for its next receive (at once:
// visibility 0), the others deleted; after two receives SQS moves it to the dead-letter queue.
// run calls it after every Advance, as if the notify function kept up with the run.
func (s *stage) deliver() {
	ctx := context.Background()
	q := sqs.NewFromConfig(s.moto.Config())
	for {
		out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(s.queue), MaxNumberOfMessages: 10,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll}})
		require.NoError(s.t, err)
		if len(out.Messages) == 0 {
			return
		}
		var batch lambdaevents.SQSEvent
		for _, m := range out.Messages {
			batch.Records = append(batch.Records, lambdaevents.SQSMessage{MessageId: aws.ToString(m.MessageId), Body: aws.ToString(m.Body), Attributes: m.Attributes})
		}
		answer, err := s.notify.HandleQueue(ctx, batch)
		require.NoError(s.t, err)
		for _, m := range out.Messages {
			if slices.ContainsFunc(answer.BatchItemFailures, func(f lambdaevents.SQSBatchItemFailure) bool { return f.ItemIdentifier == aws.ToString(m.MessageId) }) {
				continue
			}
			_, err := q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(s.queue), ReceiptHandle: m.ReceiptHandle})
			require.NoError(s.t, err)
		}
	}
}

// drain returns and deletes every message of a queue.
func (s *stage) drain(url string) []string {
	ctx := context.Background()
	q := sqs.NewFromConfig(s.moto.Config())
	var bodies []string
	for {
		out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10})
		require.NoError(s.t, err)
		if len(out.Messages) == 0 {
			return bodies
		}
		for _, m := range out.Messages {
			bodies = append(bodies, aws.ToString(m.Body))
			_, err := q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle})
			require.NoError(s.t, err)
		}
	}
}

// published returns the Chatbot messages the topic received, each checked against the
// documented schema and the SNS subject limit.
func (s *stage) published() []notify.Message {
	schema := notifytest.LoadSchema(s.t, filepath.Join("..", "notify", "testdata", "chatbot-schema.json"))
	var out []notify.Message
	for _, body := range s.drain(s.inbox) {
		var n struct{ Subject, Message string }
		require.NoError(s.t, json.Unmarshal([]byte(body), &n))
		assert.Empty(s.t, schema.Validate([]byte(n.Message)), n.Message)
		assert.LessOrEqual(s.t, len(n.Subject), notify.MaxSubject)
		var m notify.Message
		require.NoError(s.t, json.Unmarshal([]byte(n.Message), &m))
		out = append(out, m)
	}
	return out
}

func kinds(msgs []notify.Message) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.Metadata.EventType)
	}
	return out
}

func (s *stage) posted() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.statuses
	s.statuses = nil
	return out
}

// TestARunsStateChangesReachItsCommitAndTheTopicInOrder: the state machine runs with the
// real advance handler on moto; its state changes go through the bus and the notify queue to
// the real notify handler. A run that succeeds sets pending then success and publishes its
// start and success; one whose Lint build fails sets pending then failure and publishes the
// start, the action's, the stage's and the pipeline's failure; every message is a valid
// Chatbot custom notification, and no log line holds the token.
func TestARunsStateChangesReachItsCommitAndTheTopicInOrder(t *testing.T) {
	s := newStage(t)
	ex := s.run("api-1", 1)
	require.Empty(t, ex.Error, ex.Cause)
	s.deliver()
	assert.Equal(t, []string{"pending", "success"}, s.posted())
	msgs := s.published()
	assert.Equal(t, []string{string(notify.PipelineStarted), string(notify.PipelineSucceeded)}, kinds(msgs))

	s.failBuild = "ci/lint.yml"
	ex = s.run("api-2", 2)
	assert.Equal(t, "PipelineFailed", ex.Error, ex.Cause)
	s.deliver()
	assert.Equal(t, []string{"pending", "failure"}, s.posted())
	msgs = s.published()
	assert.Equal(t, []string{string(notify.PipelineStarted), string(notify.ActionFailed), string(notify.StageFailed),
		string(notify.PipelineFailed)}, kinds(msgs))
	assert.Contains(t, msgs[len(msgs)-1].Content.Description, "Lint")
	assert.Empty(t, s.drain(s.dlq))
	assert.NotContains(t, s.logs.String(), notifyToken)
}

// TestAProviderDownForTheWholeRunChangesNothingOfTheRunAndLosesNoStatus: with GitHub down
// throughout, the run still succeeds; its messages are still published; the deliveries whose
// status could not be posted fail back to the queue and, after their receives, wait in the
// dead-letter queue; moved back once GitHub answers (what start-message-move-task does),
// they post the run's final status (its start, late, no longer sets one) without publishing
// anything twice.
func TestAProviderDownForTheWholeRunChangesNothingOfTheRunAndLosesNoStatus(t *testing.T) {
	s := newStage(t)
	s.down = true
	ex := s.run("api-3", 3)
	require.Empty(t, ex.Error, ex.Cause)
	s.deliver()
	rec, err := s.runs.GetRun(context.Background(), "api-3")
	require.NoError(t, err)
	assert.Equal(t, engine.Succeeded, rec.State.Status, "the run's result is its own")
	assert.Empty(t, s.posted())
	assert.Equal(t, []string{string(notify.PipelineStarted), string(notify.PipelineSucceeded)}, kinds(s.published()))

	dead := s.drain(s.dlq)
	require.Len(t, dead, 2, "the start's and the success's deliveries")
	s.mu.Lock()
	s.down = false
	s.mu.Unlock()
	q := sqs.NewFromConfig(s.moto.Config())
	for _, body := range dead {
		_, err := q.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(s.queue), MessageBody: aws.String(body)})
		require.NoError(t, err)
	}
	s.deliver()
	assert.Equal(t, []string{"success"}, s.posted(), "the run's end, never its start over it")
	assert.Empty(t, s.published(), "the redrive sends no message twice")
	assert.Empty(t, s.drain(s.dlq))
	assert.NotContains(t, s.logs.String(), notifyToken)
}
