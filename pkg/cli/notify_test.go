package cli

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const notifyPipeline = `version: 1
pipelines:
  - name: api
    stages:
      - name: Build
        actions:
          - {name: Test, provider: codebuild, inputs: [source]}
      - name: Deploy
        on_failure: rollback
        actions:
          - {name: Ship, provider: approval, message: "Ship it?"}
    notifications:
      - events: [pipeline-failed, approval-needed]
        slack: {secret: stepline/slack}
      - events: [pipeline-succeeded]
        topic: arn:aws:sns:eu-west-1:123456789012:deploys
      - events: [pipeline-failed]
        teams: {secret: stepline/teams}
`

func TestNotifyDryRunShowsWhoIsToldOfEachChangeAndWhat(t *testing.T) {
	t.Parallel()
	r := newRepo(t, map[string]string{".stepline.yml": notifyPipeline})
	res := r.stepline("", "notify", "--dry-run", "-f", r.dir+"/.stepline.yml")
	require.Equal(t, ExitOK, res.code, "stdout:\n%s\nstderr:\n%s", res.out, res.err)
	for _, want := range []string{
		"pipeline api (3 notification rules)",
		"pipeline-started    → nobody (no rule chooses pipeline-started)",
		"pipeline-succeeded  → topic arn:aws:sns:eu-west-1:123456789012:deploys",
		"pipeline-failed     → slack webhook (secret stepline/slack), teams webhook (secret stepline/teams)",
		"title:   :x: api #1 failed in Build/Test",
		"subject: stepline: api #1 failed in Build/Test",
		"approval-needed     → slack webhook (secret stepline/slack)",
		"title:   :raised_hand: api #1 waits for approval: Deploy/Ship",
		"rollback            → nobody (no rule chooses rollback)",
	} {
		assert.Contains(t, res.out, want)
	}
}

func TestNotifyDryRunPrintsTheBodyEachTargetReceives(t *testing.T) {
	t.Parallel()
	r := newRepo(t, map[string]string{".stepline.yml": notifyPipeline})
	res := r.stepline("", "notify", "--dry-run", "--body", "-f", r.dir+"/.stepline.yml")
	require.Equal(t, ExitOK, res.code, res.err)
	bodies := regexp.MustCompile(`(?m)receives:\n +(\{.*\})$`).FindAllStringSubmatch(res.out, -1)
	// succeeded to the topic; failed to Slack and Teams; approval needed to Slack.
	require.Len(t, bodies, 4, res.out)
	for _, b := range bodies {
		var v map[string]any
		require.NoError(t, json.Unmarshal([]byte(b[1]), &v), b[1])
	}
	assert.Contains(t, bodies[0][1], `"source":"custom"`, "a topic gets the Chatbot custom notification")
	assert.Contains(t, bodies[1][1], `"blocks":`, "Slack gets Block Kit")
	assert.Contains(t, bodies[2][1], `"application/vnd.microsoft.card.adaptive"`, "Teams gets an Adaptive Card")
}

func TestNotifyWithoutDryRunSendsNothingAndSaysSo(t *testing.T) {
	t.Parallel()
	r := newRepo(t, map[string]string{".stepline.yml": notifyPipeline})
	res := r.stepline("", "notify", "-f", r.dir+"/.stepline.yml")
	assert.Equal(t, ExitUsage, res.code)
	assert.Contains(t, res.err, "give --dry-run")
}

func TestNotifyReportsAWebhookURLInTheFileWithoutPrintingIt(t *testing.T) {
	t.Parallel()
	const hook = "https://hooks.slack.com/services/T0/B0/notForTheLogs123456789"
	r := newRepo(t, map[string]string{".stepline.yml": strings.Replace(notifyPipeline, "{secret: stepline/slack}", hook, 1)})
	res := r.stepline("", "notify", "--dry-run", "-f", r.dir+"/.stepline.yml")
	assert.Equal(t, ExitFailed, res.code)
	assert.Contains(t, res.err, ".stepline.yml:14:16: slack: a URL is written in the pipeline file")
	assert.Contains(t, res.err, "[secret]")
	assert.NotContains(t, res.out+res.err, "notForTheLogs")
	val := r.stepline("", "validate", "-f", r.dir+"/.stepline.yml")
	assert.Equal(t, ExitFailed, val.code, "stepline validate reports it too")
	assert.Contains(t, val.out+val.err, "[secret]")
}
