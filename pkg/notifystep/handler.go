// Package notifystep is the handler of functions/notify, which the notify queue feeds with
// stepline's state-change events (the stack's NotificationRule): for each, the commit status
// it sets on the run's commit (notify.StatusFor, posted with the repository's token through
// commitstatus) and the notifications the pipeline file's notifications: rules send
// (notify.Route: the stack's SNS topic by default, another topic, or a Slack or Teams
// incoming webhook whose URL is a Secrets Manager secret under the stack's notification
// prefix): on a topic an AWS Chatbot custom notification with an email subject
// (notify.Notify), to a webhook its Slack or Teams rendering (notify.Webhook).
//
// Order and redelivery: the messages go first and each is marked once sent (Marks), then the
// status is posted. A provider outage therefore never holds back a chat message, and the
// queue's retry of an event whose status failed posts the status again (the same key
// replaces it: harmless) without sending its messages twice. A token the provider refuses is
// reported once per run ("stepline Notification Problem" on the bus) and never fails the
// event; an outage or a rate limit fails it, so the queue offers it again and, after its last
// receive, moves it to the dead-letter queue, from which it can be moved back.
package notifystep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/stepline/stepline/pkg/approval"
	"github.com/stepline/stepline/pkg/notify"
	"github.com/stepline/stepline/pkg/notify/commitstatus"
	"github.com/stepline/stepline/pkg/reposecret"
	"github.com/stepline/stepline/pkg/store"
)

// Runs reads a run's record by its exact id (store/dynamo on AWS).
type Runs interface {
	GetRun(ctx context.Context, id string) (store.Record, error)
}

// Marks remembers what was done once (store/dynamo on AWS): a message sent, a problem
// reported.
type Marks interface {
	Marked(ctx context.Context, key string) (bool, error)
	Mark(ctx context.Context, key string, expires time.Time) error
}

// Secrets reads a repository's secret by its hook id (reposecret.Store).
type Secrets interface {
	Get(ctx context.Context, hook string) (reposecret.Secret, error)
}

// publisher publishes a notification to an SNS topic.
type publisher interface {
	Publish(ctx context.Context, in *sns.PublishInput, optFns ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// secretValues reads a webhook's URL, the value of a notification secret.
type secretValues interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// webhookSender posts a rendered message to a Slack or Teams incoming webhook
// (notify.WebhookSender).
type webhookSender interface {
	Send(ctx context.Context, target, rawURL string, body []byte) error
}

var (
	_ publisher     = (*sns.Client)(nil)
	_ Secrets       = (*reposecret.Store)(nil)
	_ secretValues  = (*secretsmanager.Client)(nil)
	_ webhookSender = (*notify.WebhookSender)(nil)
)

// Config is the deployment's settings, from the function's environment.
type Config struct {
	// TopicARN is the stack's topic, where notifications go by default (STEPLINE_TOPIC_ARN).
	TopicARN string
	// Bus is the bus problems are reported on (STEPLINE_EVENT_BUS).
	Bus string
	// Dashboard is the dashboard's run URL (notify.Links.Dashboard), "" to link to the
	// execution's console page (STEPLINE_DASHBOARD_URL).
	Dashboard string
	// WebhookSecretPrefix is where the secrets holding Slack and Teams webhook URLs must be
	// named (STEPLINE_NOTIFY_SECRET_PREFIX): the function's role may read nothing else.
	WebhookSecretPrefix string
}

// DetailProblem is the detail-type of the event reporting a status that cannot be posted
// because the provider refused the repository's token.
const DetailProblem = "stepline Notification Problem"

// Problem is the detail of a DetailProblem event.
type Problem struct {
	Pipeline    string `json:"pipeline"`
	ExecutionID string `json:"execution-id"`
	Provider    string `json:"provider"`
	Repository  string `json:"repository"`
	// Problem says what was refused and what the token needs; never the token.
	Problem string `json:"problem"`
}

// Remembered is how long a sent message or a reported problem is remembered: longer than
// the queue keeps a message, so no redelivery sends one again, and a run rarely lasts longer,
// so a token problem is told once per run.
const Remembered = 30 * 24 * time.Hour

// Handler is functions/notify's handler. Build it with New.
type Handler struct {
	runs      Runs
	marks     Marks
	secrets   Secrets
	providers commitstatus.Providers
	sns       publisher
	events    approval.EventPutter
	// secretValues and webhooks send to Slack and Teams; nil sends to topics only.
	secretValues secretValues
	webhooks     webhookSender
	cfg          Config
	now          func() time.Time
	log          *slog.Logger
}

// Option configures a Handler.
type Option func(*Handler)

// WithClock sets the clock (tests).
func WithClock(now func() time.Time) Option { return func(h *Handler) { h.now = now } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(h *Handler) { h.log = l } }

// WithWebhooks sends to Slack and Teams webhook targets: each URL read from its secret with
// sm, posted with sender.
func WithWebhooks(sm secretValues, sender webhookSender) Option {
	return func(h *Handler) { h.secretValues, h.webhooks = sm, sender }
}

// New returns a Handler. providers builds each repository's commit status poster.
func New(runs Runs, marks Marks, secrets Secrets, providers commitstatus.Providers, topics publisher,
	eb approval.EventPutter, cfg Config, opts ...Option) *Handler {
	h := &Handler{runs: runs, marks: marks, secrets: secrets, providers: providers, sns: topics, events: eb, cfg: cfg,
		now: time.Now, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(h)
	}
	return h
}

// deadlineReserve is kept back from the invocation's deadline, as the trigger does: work
// still running then is cancelled and its message reported for a retry, so the answer
// reaches Lambda before the function is stopped.
const deadlineReserve = 2 * time.Second

// HandleQueue is the Lambda entry point: a batch of notify queue messages, each body the
// EventBridge event the rule sent. A message whose handling failed in a way a retry may fix
// is named in BatchItemFailures, and so is every message not reached before the deadline;
// the others are deleted. The error is always nil: a batch is never failed whole.
func (h *Handler) HandleQueue(ctx context.Context, batch events.SQSEvent) (events.SQSEventResponse, error) {
	var out events.SQSEventResponse
	work, cancel := ctx, context.CancelFunc(func() {})
	if deadline, ok := ctx.Deadline(); ok {
		work, cancel = context.WithDeadline(ctx, deadline.Add(-deadlineReserve))
	}
	defer cancel()
	for _, m := range batch.Records {
		err := work.Err()
		if err == nil {
			err = h.Handle(work, m.MessageId, []byte(m.Body))
		}
		if err != nil {
			h.log.WarnContext(ctx, "notify: the message is retried", "message", m.MessageId,
				"receives", m.Attributes["ApproximateReceiveCount"], "error", err)
			out.BatchItemFailures = append(out.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
		}
	}
	return out, nil
}

// Handle tells people about one event: the notifications its pipeline's rules send, then the
// commit status it sets. id identifies the delivery when the event has no id of its own. An
// error means a retry may help; what no retry can help (not a stepline event, an unknown run,
// a refused token) is logged and answered nil.
func (h *Handler) Handle(ctx context.Context, id string, body []byte) error {
	c, err := notify.Decode(body)
	if err != nil {
		h.log.WarnContext(ctx, "notify: the event is dropped", "message", id, "error", err)
		return nil
	}
	kind, ok := c.Kind()
	if !ok {
		return nil
	}
	var envelope struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(body, &envelope) == nil && envelope.ID != "" {
		id = envelope.ID
	}
	log := h.log.With("run", c.Run(), "kind", string(kind), "event", id)
	rec, err := h.runs.GetRun(ctx, c.Run())
	switch {
	case errors.Is(err, store.ErrNotFound):
		log.WarnContext(ctx, "notify: the event's run is not recorded; nothing is sent")
		return nil
	case err != nil:
		return fmt.Errorf("read run %s: %w", c.Run(), err)
	}
	run := notify.RunOf(rec)
	links := notify.Links{Dashboard: h.cfg.Dashboard, ExecutionARN: rec.ExecutionARN}
	sendErr := h.send(ctx, log, id, rec, c, kind, run, links)
	statusErr := h.status(ctx, log, rec, c, kind, run, links)
	return errors.Join(sendErr, statusErr)
}
