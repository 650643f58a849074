package pipeline

import (
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/notify"
)

// TestNotificationNamesAreTheNotifyPackagesNames keeps the events and targets the file
// accepts equal to the kinds notify sends and the targets it routes to.
func TestNotificationNamesAreTheNotifyPackagesNames(t *testing.T) {
	t.Parallel()
	var kinds []string
	for _, k := range notify.Kinds() {
		kinds = append(kinds, string(k))
	}
	assert.Equal(t, kinds, NotificationEvents)
	assert.Equal(t, notify.TargetKinds(), TargetKinds)
}

func TestNotificationsRules(t *testing.T) {
	t.Parallel()
	const head = `
		version: 1
		pipelines:
		  - name: p
		    stages:
		      - name: Build
		        actions:
		          - {name: Build, provider: codebuild, inputs: [source]}
		    notifications:
	`
	runRuleCases(t, []ruleCase{
		{name: "a rule needs a target", src: head + `
		      - events: [pipeline-failed]
		`, want: []expect{"10:9 required notification is missing a target: topic, slack or teams"}},
		{name: "a misspelt target suggests the right one and is not also a missing target", src: head + `
		      - teems: {secret: s}
		`, want: []expect{`10:9 unknown-key unknown key "teems" in notification; did you mean "teams"?`}},
		{name: "a misspelt event suggests the right one", src: head + `
		      - {events: [approval-neded], topic: stack}
		`, want: []expect{`10:19 value did you mean "approval-needed"?`}},
		{name: "a webhook URL as the target is refused without repeating it", src: head + `
		      - slack: https://hooks.slack.com/services/T0/B0/secretpart
		`, want: []expect{"10:16 secret slack: a URL is written in the pipeline file"}},
		{name: "a webhook URL without its scheme is refused too", src: head + `
		      - teams: {secret: acme.webhook.office.com/webhookb2/secretpart}
		`, want: []expect{"10:25 secret teams.secret: a URL is written"}},
		{name: "a webhook URL under a url key is refused", src: head + `
		      - slack: {url: "https://hooks.slack.com/services/T0/B0/secretpart"}
		`, want: []expect{"10:17 secret slack.url: a webhook URL does not belong in the pipeline file"}},
		{name: "a topic must be an SNS topic ARN", src: head + `
		      - topic: arn:aws:sqs:eu-west-1:123456789012:q
		`, want: []expect{`10:16 value is not an SNS topic ARN`}},
		{name: "a FIFO topic is refused", src: head + `
		      - topic: arn:aws:sns:eu-west-1:123456789012:t.fifo
		`, want: []expect{`10:16 value is a FIFO topic`}},
		{name: "a secret named by its ARN and topics of other partitions are accepted", src: head + `
		      - slack: {secret: "arn:aws:secretsmanager:us-east-1:123456789012:secret:stepline/slack-a1B2c3"}
		      - topic: arn:aws-cn:sns:cn-north-1:123456789012:deploys
		`},
	})
}

// TestProblemsNeverRepeatAWebhookURL checks every problem of the error file that writes
// webhook URLs: none of them may be printed back (CI logs are read by more people than the
// file).
func TestProblemsNeverRepeatAWebhookURL(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/err/notifications.yml")
	require.NoError(t, err)
	probs := problemsOf(t, string(data))
	require.NotEmpty(t, probs)
	urls := regexp.MustCompile(`(?:https://)?[a-z.]*(?:hooks\.slack\.com|webhook\.office\.com)/[^\s"}]+`).FindAllString(string(data), -1)
	require.Len(t, urls, 4)
	for _, u := range urls {
		assert.NotContains(t, probs.Error(), u[len(u)-8:], "the URL's end")
	}
	for _, host := range []string{"hooks.slack.com", "webhook.office.com"} {
		assert.NotContains(t, probs.Error(), host, "not even a clipped URL")
	}
}

// TestCompiledNotificationsRouteEachKind reads the notifications example, compiles it, and
// routes each kind with notify.Route, the function both drivers call.
func TestCompiledNotificationsRouteEachKind(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/ok/notifications.yml")
	require.NoError(t, err)
	f, err := Parse("notifications.yml", data)
	require.NoError(t, err)
	slack := engine.NotificationTarget{Kind: "slack", SecretID: "stepline/slack-webhook"}
	deploys := engine.NotificationTarget{Kind: "topic", TopicARN: "arn:aws:sns:eu-west-1:123456789012:deploys"}
	teams := engine.NotificationTarget{Kind: "teams", SecretID: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:stepline/teams-AbCdEf"}
	api, web := f.Pipelines[0].Definition(), f.Pipelines[1].Definition()
	assert.Equal(t, []engine.NotificationTarget{slack, teams}, notify.Route(api, notify.PipelineFailed))
	assert.Equal(t, []engine.NotificationTarget{deploys, teams}, notify.Route(api, notify.Rollback))
	assert.Equal(t, []engine.NotificationTarget{teams, notify.StackTopic, slack}, notify.Route(api, notify.StageFailed))
	assert.Equal(t, []engine.NotificationTarget{teams}, notify.Route(api, notify.PipelineStarted))
	assert.Equal(t, []engine.NotificationTarget{notify.StackTopic}, notify.Route(web, notify.PipelineStarted),
		"a pipeline without notifications sends to the stack's topic")
}
