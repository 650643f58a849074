package notifystep

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/notify"
	"github.com/stepline/stepline/pkg/notify/notifytest"
)

// TestARunsChangesPostItsStatusAndPublishChatbotMessages: a started and a failed run post
// GitHub's pending then failure status on the commit, with the run's console link, and
// publish one Chatbot custom notification each to the stack's topic, valid against the
// documented schema, with the email subject.
func TestARunsChangesPostItsStatusAndPublishChatbotMessages(t *testing.T) {
	r := newRig(t)
	rec := r.record(t)
	out, err := r.h.HandleQueue(r.ctx, batch(event(t, "e-started", rec, engine.Started)))
	require.NoError(t, err)
	assert.Empty(t, failed(out), r.logs.String())
	rec = r.fail(t, rec)
	out, err = r.h.HandleQueue(r.ctx, batch(event(t, "e-failed", rec, string(engine.Failed))))
	require.NoError(t, err)
	assert.Empty(t, failed(out), r.logs.String())

	assert.Equal(t, []string{"pending", "failure"}, r.gh.states())
	p := r.gh.posts[1]
	assert.Equal(t, http.MethodPost, p.Method)
	assert.Equal(t, "/repos/octo/api/statuses/"+testCommit, p.Path)
	assert.Equal(t, "Bearer "+testToken, p.Auth)
	assert.Equal(t, "api", p.Body["context"])
	assert.Equal(t, "Failed in Build/Test: exit status 2", p.Body["description"])
	assert.Equal(t, notify.ExecutionConsole(rec.ExecutionARN), p.Body["target_url"])

	msgs := r.published(t)
	require.Len(t, msgs, 2)
	schema := notifytest.LoadSchema(t, filepath.Join("..", "notify", "testdata", "chatbot-schema.json"))
	for _, m := range msgs {
		assert.Empty(t, schema.Validate([]byte(m.Message)), m.Message)
	}
	assert.Contains(t, msgs[0].Subject, "api #7 started")
	assert.Contains(t, msgs[1].Subject, "failed")
	var chat notify.Message
	require.NoError(t, json.Unmarshal([]byte(msgs[1].Message), &chat))
	assert.Contains(t, chat.Content.Description, "exit status 2")
	assert.Contains(t, chat.Content.Description, notify.ExecutionConsole(rec.ExecutionARN))
	r.noSecrets(t)
}

// TestARedeliveredEventPostsItsStatusAgainButSendsNoSecondMessage: the status post fails
// (the provider is down), so the event is retried; the retry finds the message already sent
// and only posts the status.
func TestARedeliveredEventPostsItsStatusAgainButSendsNoSecondMessage(t *testing.T) {
	r := newRig(t)
	rec := r.record(t)
	r.gh.set(http.StatusServiceUnavailable)
	body := event(t, "e-started", rec, engine.Started)
	out, err := r.h.HandleQueue(r.ctx, batch(body))
	require.NoError(t, err)
	assert.Equal(t, []string{"m0"}, failed(out), "an outage is retried")
	assert.Len(t, r.published(t), 1, "the message did not wait for the provider")

	r.gh.set(0)
	out, err = r.h.HandleQueue(r.ctx, batch(body))
	require.NoError(t, err)
	assert.Empty(t, failed(out), r.logs.String())
	assert.Empty(t, r.published(t), "the retry sends no second message")
	assert.Equal(t, []string{"pending", "pending", "pending"}, r.gh.states(), "two attempts, then the retry's")
	r.noSecrets(t)
}

// TestARefusedTokenIsReportedOncePerRunAndFailsNothing: GitHub answers 401; the event is
// not retried, "stepline Notification Problem" is put on the bus once for the run, whatever
// the number of changes, and neither the log nor the event holds the token.
func TestARefusedTokenIsReportedOncePerRunAndFailsNothing(t *testing.T) {
	r := newRig(t)
	rec := r.record(t)
	r.gh.set(http.StatusUnauthorized)
	out, err := r.h.HandleQueue(r.ctx, batch(event(t, "e-started", rec, engine.Started)))
	require.NoError(t, err)
	assert.Empty(t, failed(out))
	rec = r.fail(t, rec)
	out, err = r.h.HandleQueue(r.ctx, batch(event(t, "e-failed", rec, string(engine.Failed))))
	require.NoError(t, err)
	assert.Empty(t, failed(out))

	got := received(t, r.moto, r.events)
	require.Len(t, got, 1, "reported once")
	var e struct {
		DetailType string  `json:"detail-type"`
		Detail     Problem `json:"detail"`
	}
	require.NoError(t, json.Unmarshal([]byte(got[0]), &e))
	assert.Equal(t, DetailProblem, e.DetailType)
	assert.Equal(t, Problem{Pipeline: "api", ExecutionID: "api-7", Provider: "github", Repository: testRepo,
		Problem: e.Detail.Problem}, e.Detail)
	assert.Contains(t, e.Detail.Problem, "repo:status")
	assert.Len(t, r.published(t), 2, "the messages went out regardless")
	r.noSecrets(t, got[0])
}

// TestTheRulesChooseTheTopics: with rules, a change goes only where a rule sends it: a
// succeeded run to a rule's own topic, and not to the stack's. A topic outside the stack is
// not the function role's to publish to: its own topic policy lets the role in
// (docs/stack.md), so this test's calls are not part of the role's contract.
func TestTheRulesChooseTheTopics(t *testing.T) {
	r := newRigWith(t, false)
	other := r.topic + "-deploys"
	_, err := snsClient(r).CreateTopic(r.ctx, snsCreate(strings.ReplaceAll(r.table, ".", "-")+"-topic-deploys"))
	require.NoError(t, err)
	inbox := subscribe(t, r.moto, other, strings.ReplaceAll(r.table, ".", "-")+"-deploys-inbox")
	rec := r.record(t, engine.Notification{Events: []string{string(notify.PipelineSucceeded)},
		Target: engine.NotificationTarget{Kind: notify.TargetTopic, TopicARN: other}})
	out, err := r.h.HandleQueue(r.ctx, batch(event(t, "e-started", rec, engine.Started), event(t, "e-ok", rec, string(engine.Succeeded))))
	require.NoError(t, err)
	assert.Empty(t, failed(out), r.logs.String())
	assert.Empty(t, r.published(t), "no rule sends to the stack's topic")
	got := received(t, r.moto, inbox)
	require.Len(t, got, 1, "only the succeeded change")
	assert.Contains(t, got[0], "succeeded")
}

// TestWhatNoRetryCanHelpIsDroppedAndTheRestOfTheBatchGoesOn: an event of another source and
// a malformed body are deleted, not retried; the batch's good message is handled.
func TestWhatNoRetryCanHelpIsDroppedAndTheRestOfTheBatchGoesOn(t *testing.T) {
	r := newRig(t)
	rec := r.record(t)
	out, err := r.h.HandleQueue(r.ctx, batch(`{"source":"aws.s3","detail-type":"Object Created","detail":{}}`, `{not json`,
		event(t, "e-started", rec, engine.Started)))
	require.NoError(t, err)
	assert.Empty(t, failed(out))
	assert.Equal(t, []string{"pending"}, r.gh.states())
	assert.Len(t, r.published(t), 1)
}

// TestAStartRetriedAfterTheRunEndedDoesNotReopenItsStatus: SQS does not keep order; a start
// redelivered after the run failed posts no pending status over the failure.
func TestAStartRetriedAfterTheRunEndedDoesNotReopenItsStatus(t *testing.T) {
	r := newRig(t)
	rec := r.fail(t, r.record(t))
	out, err := r.h.HandleQueue(r.ctx, batch(event(t, "e-failed", rec, string(engine.Failed)), event(t, "e-started", rec, engine.Started)))
	require.NoError(t, err)
	assert.Empty(t, failed(out))
	assert.Equal(t, []string{"failure"}, r.gh.states())
}

// TestASlackRuleSendsTheSlackRenderingToTheWebhookInItsSecret: the failed run goes to the
// Slack webhook whose URL the rule's secret holds, as Slack's JSON body, and not to the
// stack's topic; a webhook that is down fails the event for a retry, which then sends once;
// the URL never appears in a log line.
func TestASlackRuleSendsTheSlackRenderingToTheWebhookInItsSecret(t *testing.T) {
	r := newRig(t)
	rec := r.fail(t, r.record(t, engine.Notification{Events: []string{string(notify.PipelineFailed)},
		Target: engine.NotificationTarget{Kind: notify.TargetSlack, SecretID: r.slackSecret}}))
	body := event(t, "e-failed", rec, string(engine.Failed))
	r.slack.set(http.StatusServiceUnavailable)
	out, err := r.h.HandleQueue(r.ctx, batch(body))
	require.NoError(t, err)
	assert.Equal(t, []string{"m0"}, failed(out), "a webhook that is down is retried")
	assert.Equal(t, []string{"failure"}, r.gh.states(), "the status did not wait for the webhook")

	r.slack.set(0)
	out, err = r.h.HandleQueue(r.ctx, batch(body))
	require.NoError(t, err)
	assert.Empty(t, failed(out), r.logs.String())
	out, err = r.h.HandleQueue(r.ctx, batch(body))
	require.NoError(t, err)
	assert.Empty(t, failed(out))
	got := r.slack.received()
	require.Len(t, got, 1, "sent once, whatever the redeliveries")
	var slack notify.SlackMessage
	require.NoError(t, json.Unmarshal([]byte(got[0]), &slack))
	assert.Contains(t, slack.Text, "failed")
	assert.NotEmpty(t, slack.Blocks)
	assert.Empty(t, r.published(t), "no rule sends to the stack's topic")
	r.noSecrets(t)
}

// TestAWebhookSecretOutsideTheStacksPrefixIsNeverRead: the function's role may read only the
// notification prefix, so a rule naming another secret (a repository's token, say) is
// skipped with a warning, not read and not retried.
func TestAWebhookSecretOutsideTheStacksPrefixIsNeverRead(t *testing.T) {
	r := newRig(t)
	rec := r.fail(t, r.record(t, engine.Notification{
		Target: engine.NotificationTarget{Kind: notify.TargetSlack, SecretID: r.prefix + testHook}}))
	out, err := r.h.HandleQueue(r.ctx, batch(event(t, "e-failed", rec, string(engine.Failed))))
	require.NoError(t, err)
	assert.Empty(t, failed(out))
	assert.Empty(t, r.slack.received())
	assert.Contains(t, r.logs.String(), "notification prefix")
	r.noSecrets(t)
}
