package notifystep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/notify"
	"github.com/stepline/stepline/pkg/notify/commitstatus"
	"github.com/stepline/stepline/pkg/store"
)

// send sends the change's notification to every target the pipeline's rules route it to,
// skipping those a previous delivery of the same event already reached. One target failing
// does not keep the others from their message; the errors are returned together.
func (h *Handler) send(ctx context.Context, log *slog.Logger, id string, rec store.Record, c notify.Change,
	kind notify.Kind, run notify.Run, links notify.Links) error {
	n, ok := notify.Notify(c, run, links)
	if !ok {
		return nil
	}
	var errs []error
	for _, t := range notify.Route(rec.Definition, kind) {
		mark := "sent/" + id + "/" + targetKey(t)
		switch done, err := h.marks.Marked(ctx, mark); {
		case err != nil:
			errs = append(errs, err)
			continue
		case done:
			log.InfoContext(ctx, "notify: already sent to this target", "target", t.Kind)
			continue
		}
		sent, err := h.sendTo(ctx, log, t, n)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !sent {
			continue
		}
		if err := h.marks.Mark(ctx, mark, h.now().Add(Remembered)); err != nil {
			// Sent, but a retry would send it again: at least once, never lost.
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// sendTo sends n to one target and says whether it was sent. A target no retry can reach
// (a webhook secret outside the stack's prefix, a removed webhook, a secret that holds no
// URL) is logged and not sent, never retried.
func (h *Handler) sendTo(ctx context.Context, log *slog.Logger, t engine.NotificationTarget, n notify.Notification) (bool, error) {
	if t.Kind == notify.TargetSlack || t.Kind == notify.TargetTeams {
		return h.sendWebhook(ctx, log, t, n)
	}
	if t.Kind != notify.TargetTopic {
		log.WarnContext(ctx, "notify: no such kind of target; the rule is skipped", "target", t.Kind)
		return false, nil
	}
	topic := t.TopicARN
	if topic == "" {
		topic = h.cfg.TopicARN
	}
	msg, err := json.Marshal(n.Message)
	if err != nil {
		return false, fmt.Errorf("encode the %s notification: %w", n.Kind, err)
	}
	// SNS Publish (https://docs.aws.amazon.com/sns/latest/api/API_Publish.html): Message is
	// the Chatbot custom notification, which Chatbot renders; Subject is what email shows.
	out, err := h.sns.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(topic), Message: aws.String(string(msg)),
		Subject: aws.String(n.Subject)})
	if err != nil {
		return false, fmt.Errorf("publish the %s notification to %s: %w", n.Kind, topic, err)
	}
	log.InfoContext(ctx, "notify: published", "topic", topic, "sns", aws.ToString(out.MessageId))
	return true, nil
}

// sendWebhook posts n to the Slack or Teams webhook whose URL is the target's secret.
func (h *Handler) sendWebhook(ctx context.Context, log *slog.Logger, t engine.NotificationTarget, n notify.Notification) (bool, error) {
	name := t.Kind + " " + t.SecretID
	if h.webhooks == nil || !strings.HasPrefix(secretName(t.SecretID), h.cfg.WebhookSecretPrefix) || h.cfg.WebhookSecretPrefix == "" {
		log.WarnContext(ctx, "notify: a webhook's secret must be named under the stack's notification prefix; not sent",
			"target", name, "prefix", h.cfg.WebhookSecretPrefix)
		return false, nil
	}
	body, err := notify.Webhook(t.Kind, n)
	if err != nil {
		return false, fmt.Errorf("render the %s notification for %s: %w", n.Kind, name, err)
	}
	out, err := h.secretValues.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(t.SecretID)})
	var missing *smtypes.ResourceNotFoundException
	switch {
	case errors.As(err, &missing):
		log.WarnContext(ctx, "notify: the webhook's secret does not exist; not sent", "target", name)
		return false, nil
	case err != nil:
		return false, fmt.Errorf("read the secret of %s: %w", name, err)
	}
	err = h.webhooks.Send(ctx, name, aws.ToString(out.SecretString), body)
	var refused *notify.WebhookError
	switch {
	case err == nil:
		log.InfoContext(ctx, "notify: sent", "target", name)
		return true, nil
	case errors.Is(err, notify.ErrWebhookURL),
		errors.As(err, &refused) && refused.StatusCode < 500 && !errors.Is(err, commitstatus.ErrRateLimited):
		log.WarnContext(ctx, "notify: the webhook refused the message; it is not retried", "error", err)
		return false, nil
	}
	return false, err
}

// secretName is the name part of a secret id: an ARN's name with its six-character suffix,
// or the name itself.
func secretName(id string) string {
	if _, after, ok := strings.Cut(id, ":secret:"); ok && strings.HasPrefix(id, "arn:") {
		return after
	}
	return id
}

// targetKey names a target in its mark.
func targetKey(t engine.NotificationTarget) string {
	switch t.Kind {
	case notify.TargetTopic:
		return t.Kind + ":" + t.TopicARN
	default:
		return t.Kind + ":" + t.SecretID
	}
}
