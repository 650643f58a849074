package notifystep

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/awstest"
	"github.com/stepline/stepline/pkg/changes"
	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/iamcheck"
	"github.com/stepline/stepline/pkg/notify"
	"github.com/stepline/stepline/pkg/notify/commitstatus"
	"github.com/stepline/stepline/pkg/pipeline"
	"github.com/stepline/stepline/pkg/reposecret"
	"github.com/stepline/stepline/pkg/store"
	"github.com/stepline/stepline/pkg/store/dynamo"
	"github.com/stepline/stepline/pkg/store/dynamo/dynamotest"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// The values a log line or an event must never show.
const (
	testToken  = "ghp_NotifyTestTokenMustNeverBeLogged0123"
	testHook   = "notify-hook-0123456789"
	testCommit = "4f2c1ab9e0d3c5b7a6f8e1d2c3b4a5f60718293a"
	testRepo   = "octo/api"
)

var testNow = time.Date(2026, 12, 7, 9, 30, 0, 0, time.UTC)

// post is one request the GitHub stand-in received.
type post struct {
	Method, Path, Auth string
	Body               map[string]any
}

// github stands in for GitHub's commit statuses API ("Create a commit status":
// https://docs.github.com/en/rest/commits/statuses#create-a-commit-status): 201 with the
// status, or the answer the test chose.
type github struct {
	mu     sync.Mutex
	posts  []post
	answer int // 0: 201
}

func (g *github) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	p := post{Method: r.Method, Path: r.URL.Path, Auth: r.Header.Get("Authorization")}
	_ = json.Unmarshal(raw, &p.Body)
	g.mu.Lock()
	g.posts = append(g.posts, p)
	status := g.answer
	g.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch status {
	case 0:
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"id":1,"state":"pending"}`)
	case http.StatusUnauthorized:
		w.WriteHeader(status)
		fmt.Fprint(w, `{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}`)
	default:
		w.WriteHeader(status)
		fmt.Fprint(w, `{"message":"Server Error"}`)
	}
}

func (g *github) set(status int) { g.mu.Lock(); g.answer = status; g.mu.Unlock() }

func (g *github) states() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []string
	for _, p := range g.posts {
		out = append(out, fmt.Sprint(p.Body["state"]))
	}
	return out
}

// rig is a handler wired as functions/notify wires it, to DynamoDB, SNS, Secrets Manager and
// EventBridge on moto and to a GitHub stand-in; an SQS queue subscribed to the topic reads
// back what was published, and the bus's events reach a queue too.
type rig struct {
	h      *Handler
	moto   *awstest.Moto
	runs   *dynamo.Store
	gh     *github
	table  string
	bus    string
	topic  string
	inbox  string
	events string
	logs   *bytes.Buffer
	ctx    context.Context
	// prefix is the secret prefix: one per rig, since tests share one moto server.
	prefix string
	// slack stands in for a Slack incoming webhook whose URL is the secret slackSecret.
	slack       *hook
	slackSecret string
	slackURL    string
}

// hook stands in for a Slack incoming webhook ("Sending messages using incoming webhooks":
// https://api.slack.com/messaging/webhooks): it takes a JSON POST and answers 200 "ok".
type hook struct {
	mu     sync.Mutex
	bodies []string
	answer int
}

func (k *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	k.mu.Lock()
	defer k.mu.Unlock()
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if k.answer != 0 {
		w.WriteHeader(k.answer)
		fmt.Fprint(w, "no_service")
		return
	}
	k.bodies = append(k.bodies, string(raw))
	fmt.Fprint(w, "ok")
}

func (k *hook) set(status int) { k.mu.Lock(); k.answer = status; k.mu.Unlock() }

func (k *hook) received() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.bodies...)
}

func newRig(t *testing.T) *rig { return newRigWith(t, true) }

// newRigWith records the handler's calls for the IAM check when recorded is true.
func newRigWith(t *testing.T, recorded bool) *rig {
	t.Helper()
	moto := awstest.StartMoto(t)
	ctx := context.Background()
	r := &rig{moto: moto, ctx: ctx, gh: &github{}, logs: &bytes.Buffer{}}
	r.table = dynamotest.Table(t, moto, "notify")
	r.bus = r.table + "-bus"
	_, err := eventbridge.NewFromConfig(moto.Config()).CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(r.bus)})
	require.NoError(t, err)
	cfg := moto.Config()
	// Topic and queue names take no dots.
	base := strings.ReplaceAll(r.table, ".", "-")
	r.prefix = base + "/repos/"

	topic, err := sns.NewFromConfig(cfg).CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(base + "-topic")})
	require.NoError(t, err)
	r.topic = aws.ToString(topic.TopicArn)
	r.inbox = subscribe(t, moto, r.topic, base+"-inbox")
	r.events = busQueue(t, moto, r.bus, base+"-events")

	srv := httptest.NewServer(r.gh)
	t.Cleanup(srv.Close)
	r.slack = &hook{}
	slack := httptest.NewTLSServer(r.slack)
	t.Cleanup(slack.Close)
	r.slackURL = slack.URL + "/services/T0NOTIFY1/B0NOTIFY2/NotifyTestWebhookSecret0123"
	r.slackSecret = base + "/notify/slack"
	_, err = secretsmanager.NewFromConfig(cfg).CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String(r.slackSecret), SecretString: aws.String(r.slackURL)})
	require.NoError(t, err)
	secret, _ := json.Marshal(reposecret.Secret{Provider: "github", Repository: testRepo, WebhookSecrets: []string{"whsec"},
		Token: testToken, APIURL: srv.URL})
	_, err = secretsmanager.NewFromConfig(cfg).CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String(r.prefix + testHook), SecretString: aws.String(string(secret))})
	require.NoError(t, err)

	// The handler's clients are the notify function's: their calls are recorded for the IAM
	// check; r.runs is the test's own view of the table.
	fn := cfg
	if recorded {
		fn = iamcheck.NewRecorder(t, "notify", map[string]string{"env:STEPLINE_TABLE": r.table, "env:STEPLINE_EVENT_BUS": r.bus,
			"env:STEPLINE_TOPIC_ARN": r.topic, "env:STEPLINE_SECRET_PREFIX": r.prefix,
			"env:STEPLINE_NOTIFY_SECRET_PREFIX": base + "/notify/"}).Config(cfg)
	}
	r.runs = dynamo.New(dynamodb.NewFromConfig(cfg), r.table)
	db := dynamo.New(dynamodb.NewFromConfig(fn), r.table, dynamo.WithClock(func() time.Time { return testNow }))
	log := slog.New(slog.NewJSONHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r.h = New(db, db, reposecret.NewStore(secretsmanager.NewFromConfig(fn), reposecret.WithPrefix(r.prefix)),
		commitstatus.Providers{Options: []commitstatus.Option{commitstatus.WithRetry(2, time.Millisecond, time.Second),
			commitstatus.WithLogger(log)}},
		sns.NewFromConfig(fn), eventbridge.NewFromConfig(fn), Config{TopicARN: r.topic, Bus: r.bus, WebhookSecretPrefix: base + "/notify/"},
		WithClock(func() time.Time { return testNow }), WithLogger(log),
		WithWebhooks(secretsmanager.NewFromConfig(fn), notify.NewWebhookSender(commitstatus.WithHTTPClient(slack.Client()),
			commitstatus.WithRetry(2, time.Millisecond, time.Second), commitstatus.WithLogger(log))))
	return r
}

// subscribe creates a queue subscribed to topic and returns its URL.
func subscribe(t *testing.T, moto *awstest.Moto, topic, name string) string {
	t.Helper()
	ctx := context.Background()
	q := sqs.NewFromConfig(moto.Config())
	out, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
	require.NoError(t, err)
	_, err = sns.NewFromConfig(moto.Config()).Subscribe(ctx, &sns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String("sqs"),
		Endpoint: aws.String(queueARN(name))})
	require.NoError(t, err)
	return aws.ToString(out.QueueUrl)
}

// busQueue creates a queue that a rule on bus sends every event to.
func busQueue(t *testing.T, moto *awstest.Moto, bus, name string) string {
	t.Helper()
	ctx := context.Background()
	out, err := sqs.NewFromConfig(moto.Config()).CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
	require.NoError(t, err)
	eb := eventbridge.NewFromConfig(moto.Config())
	_, err = eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(name), EventBusName: aws.String(bus),
		EventPattern: aws.String(`{"source":["stepline"]}`)})
	require.NoError(t, err)
	_, err = eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(name), EventBusName: aws.String(bus),
		Targets: []ebtypes.Target{{Id: aws.String("q"), Arn: aws.String(queueARN(name))}}})
	require.NoError(t, err)
	return aws.ToString(out.QueueUrl)
}

func queueARN(name string) string { return "arn:aws:sqs:" + awstest.Region + ":123456789012:" + name }

// received drains a queue's messages.
func received(t *testing.T, moto *awstest.Moto, url string) []string {
	t.Helper()
	q := sqs.NewFromConfig(moto.Config())
	var out []string
	for {
		m, err := q.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10})
		require.NoError(t, err)
		if len(m.Messages) == 0 {
			return out
		}
		for _, msg := range m.Messages {
			out = append(out, aws.ToString(msg.Body))
			_, err := q.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: msg.ReceiptHandle})
			require.NoError(t, err)
		}
	}
}

// published is one SNS notification as an SQS subscriber receives it.
type published struct {
	Subject string `json:"Subject"`
	Message string `json:"Message"`
}

func (r *rig) published(t *testing.T) []published {
	t.Helper()
	var out []published
	for _, body := range received(t, r.moto, r.inbox) {
		var p published
		require.NoError(t, json.Unmarshal([]byte(body), &p))
		out = append(out, p)
	}
	return out
}

const testFile = `version: 1
pipelines:
  - name: api
    execution_mode: parallel
    stages:
      - name: Build
        actions:
          - {name: Test, provider: codebuild, buildspec: buildspec.yml, inputs: [source]}
`

// record writes the run api-7 of testFile, as the trigger records it, and returns it.
func (r *rig) record(t *testing.T, notifications ...engine.Notification) store.Record {
	t.Helper()
	f, err := pipeline.Parse(".stepline.yml", []byte(testFile))
	require.NoError(t, err)
	p, err := f.Pipeline("")
	require.NoError(t, err)
	def := p.Definition()
	def.Notifications = notifications
	rec := store.Record{Definition: def, State: engine.New(def, engine.RunInfo{ID: "api-7", Seq: 7, Variables: map[string]map[string]string{
		"source": {"commit_message": "Fix the login redirect", "author": "Mona"}}}),
		Repo: testRepo, Branch: "main", Commit: testCommit, Provider: "github", Hook: testHook, Trigger: "push",
		ExecutionARN: "arn:aws:states:us-east-1:123456789012:execution:stepline-pipeline:github-1-api"}
	rec.State.Started = testNow.Add(-3 * time.Minute).UnixMilli()
	require.NoError(t, r.runs.PutRun(r.ctx, rec))
	return rec
}

// fail marks the run failed in its Build/Test action, as the engine leaves it.
func (r *rig) fail(t *testing.T, rec store.Record) store.Record {
	t.Helper()
	for i, sg := range rec.Definition.Stages {
		if sg.Name == "Build" {
			rec.State.Stages[i].Status = engine.Failed
			rec.State.Stages[i].Actions[0].Status = engine.Failed
			rec.State.Stages[i].Actions[0].Attempt = 1
			rec.State.Stages[i].Actions[0].Message = "exit status 2"
		}
	}
	rec.State.Status = engine.Failed
	require.NoError(t, r.runs.PutRun(r.ctx, rec))
	return rec
}

// event is the EventBridge event of one of the run's state changes, as the rule delivers it.
func event(t *testing.T, id string, rec store.Record, state string) string {
	t.Helper()
	typ, d := changes.Envelope(rec, engine.Event{Type: engine.PipelineEvent, State: state, Pipeline: rec.Pipeline(), Run: rec.ID(), Time: testNow})
	detail, err := json.Marshal(d)
	require.NoError(t, err)
	b, err := json.Marshal(map[string]any{"version": "0", "id": id, "detail-type": typ, "source": changes.Source,
		"account": "123456789012", "time": testNow.Format(time.RFC3339), "region": "us-east-1", "resources": []string{},
		"detail": json.RawMessage(detail)})
	require.NoError(t, err)
	return string(b)
}

// batch is an SQS batch of bodies, message ids m0, m1, …
func batch(bodies ...string) events.SQSEvent {
	var e events.SQSEvent
	for i, b := range bodies {
		e.Records = append(e.Records, events.SQSMessage{MessageId: fmt.Sprintf("m%d", i), Body: b,
			Attributes: map[string]string{"ApproximateReceiveCount": "1"}})
	}
	return e
}

// failed lists the ids of the messages a batch answer asks to retry.
func failed(out events.SQSEventResponse) []string {
	var ids []string
	for _, f := range out.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids
}

// noSecrets checks that no captured log line or event holds the token or the webhook's URL.
func (r *rig) noSecrets(t *testing.T, captured ...string) {
	t.Helper()
	for _, c := range append(captured, r.logs.String()) {
		require.NotContains(t, c, testToken)
		require.False(t, strings.Contains(c, testToken[4:20]), "a part of the token")
		require.NotContains(t, c, "NotifyTestWebhookSecret0123", "the webhook's URL")
		require.NotContains(t, c, r.slackURL)
	}
}

func snsClient(r *rig) *sns.Client { return sns.NewFromConfig(r.moto.Config()) }

func snsCreate(name string) *sns.CreateTopicInput {
	return &sns.CreateTopicInput{Name: aws.String(name)}
}
