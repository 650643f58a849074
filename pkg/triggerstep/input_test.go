package triggerstep

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/reposecret"
	"github.com/stepline/stepline/pkg/store/dynamo"
)

func sample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "events", "trigger", name))
	require.NoError(t, err)
	return b
}

func TestParseInputTellsTheThreeShapesApart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		raw   string
		shape Shape
		err   string
	}{
		{name: "the webhook's source event is an EventBridge event", raw: string(sample(t, "github-push.json")), shape: ShapeEventBridge},
		{name: "an ECR image push is an EventBridge event", raw: string(sample(t, "ecr-image-push.json")), shape: ShapeEventBridge},
		{name: "a schedule's input is a schedule", raw: string(sample(t, "schedule.json")), shape: ShapeSchedule},
		{name: "an SQS or S3 batch is no known shape", raw: `{"Records":[{"eventSource":"aws:s3"}]}`, err: `unknown payload shape: neither an EventBridge event nor a stepline-schedule input (keys ["Records"])`},
		{name: "the console's test event is no known shape", raw: `{"key1":"value1","key2":"value2"}`, err: `(keys ["key1", "key2"])`},
		{name: "an array is not an object", raw: `[1,2]`, err: "not a JSON object"},
		{name: "null is not an object", raw: `null`, err: "not a JSON object"},
		{name: "text is not JSON", raw: `hello`, err: "not a JSON object"},
		{name: "an event needs its detail", raw: `{"source":"aws.ecr","detail-type":"ECR Image Action"}`, err: "unknown payload shape"},
		{name: "an event with an empty source is refused", raw: `{"source":"","detail-type":"x","detail":{}}`, err: "empty source or detail-type"},
		{name: "an event whose time is not a time is refused", raw: `{"source":"s","detail-type":"x","detail":{},"time":"yesterday"}`, err: "not its shape"},
		{name: "both shapes at once are refused", raw: `{"stepline-schedule":{},"source":"aws.ecr","detail-type":"x","detail":{}}`, err: "mixes"},
		{name: "a schedule input missing values is refused", raw: `{"stepline-schedule":{"provider":"github","trigger":0}}`, err: "lacks repository, pipeline, branch, time"},
		{name: "a schedule input with a negative trigger is refused", raw: `{"stepline-schedule":{"provider":"g","repository":"r","pipeline":"p","branch":"b","time":"t","trigger":-1}}`, err: "not an index"},
		{name: "a schedule input with unknown keys is refused", raw: `{"stepline-schedule":{"provider":"g","repository":"r","pipeline":"p","branch":"b","time":"t","trigger":0,"extra":1}}`, err: "unknown field"},
		{name: "a schedule input of the wrong type is refused", raw: `{"stepline-schedule":"nightly"}`, err: "is not a schedule input"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in, err := ParseInput([]byte(tc.raw))
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.shape, in.Shape)
		})
	}
}

func TestInvokeAcknowledgesAnUnknownShapeWithAClearErrorLog(t *testing.T) {
	t.Parallel()
	r := newMemRig(t)
	require.NoError(t, r.h.Invoke(r.ctx, json.RawMessage(`{"Records":[{"body":"secret-value"}]}`)), "no retry loop")
	var line map[string]any
	require.NoError(t, json.Unmarshal([]byte(strings.TrimSpace(r.logs.String())), &line))
	assert.Equal(t, "ERROR", line["level"])
	assert.Contains(t, line["error"], `unrecognised input: unknown payload shape`)
	assert.Contains(t, line["error"], `["Records"]`)
	assert.NotContains(t, r.logs.String(), "secret-value", "values are never logged, only keys")
	assert.Empty(t, r.sfn.started())
}

func TestInvokeRoutesEachShape(t *testing.T) {
	t.Parallel()
	r := newMemRig(t)
	r.repo.set(commitA, registeredFile)
	require.NoError(t, r.h.Invoke(r.ctx, mustJSON(t, pushTo(t, "main", commitA, t0))))
	require.Len(t, r.sfn.started(), 1, "the source event ran the push pipeline")
	require.NoError(t, r.h.Invoke(r.ctx, mustJSON(t, ecrEvent(t, "api", "latest"))))
	require.Len(t, r.sfn.started(), 2, "the image push ran deploy")
	r.repo.heads["main"] = commitA
	require.NoError(t, r.h.Invoke(r.ctx, scheduleInput(t, "nightly", 0, "main", "2026-12-02T03:00:00Z")))
	require.Len(t, r.sfn.started(), 3, "the schedule ran nightly")
}

func mustJSON(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// FuzzParseInput checks that any payload is either refused or given exactly one shape, with
// the shape's own values present, and that the error never echoes a value.
func FuzzParseInput(f *testing.F) {
	for _, name := range []string{"github-push.json", "ecr-image-push.json", "schedule.json"} {
		f.Add(sample(f, name))
	}
	f.Add([]byte(`{"Records":[]}`))
	f.Add([]byte(`{"stepline-schedule":{"provider":"g","repository":"r","pipeline":"p","branch":"b","time":"t","trigger":0}}`))
	f.Add([]byte(`{"source":"a","detail-type":"b","detail":null}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		in, err := ParseInput(raw)
		if err != nil {
			assert.Zero(t, in.Shape)
			return
		}
		switch in.Shape {
		case ShapeSchedule:
			assert.NoError(t, in.Schedule.check())
		case ShapeEventBridge:
			assert.NotEmpty(t, in.Event.Source)
			assert.NotEmpty(t, in.Event.DetailType)
		default:
			t.Fatalf("no error and no shape for %q", raw)
		}
	})
}

// FuzzParseImageAction checks that a decoded image action always names its repository.
func FuzzParseImageAction(f *testing.F) {
	var e struct {
		Detail json.RawMessage `json:"detail"`
	}
	require.NoError(f, json.Unmarshal(sample(f, "ecr-image-push.json"), &e))
	f.Add([]byte(e.Detail))
	f.Add([]byte(`{"repository-name":""}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		a, err := ParseImageAction(raw)
		if err == nil {
			assert.NotEmpty(t, a.RepositoryName)
		}
	})
}

// TestTheSampleInputsRunThroughTheHandler invokes events/trigger/ecr-image-push.json and
// events/trigger/schedule.json against a registry entry for the sample repository.
func TestTheSampleInputsRunThroughTheHandler(t *testing.T) {
	t.Parallel()
	r := newMemRig(t)
	const file = `version: 1
pipelines:
  - name: deploy
    triggers: [{on: image, repository: api, tags: [latest]}]
    stages: [{name: Deploy, actions: [{name: Deploy, provider: codebuild, inputs: [source]}]}]
  - name: nightly
    triggers:
      - {on: push, branches: [never]}
      - {on: schedule, cron: "cron(0 3 * * ? *)"}
    stages: [{name: Build, actions: [{name: Build, provider: codebuild, inputs: [source]}]}]
`
	r.secrets["sample-hook"] = reposecret.Secret{Provider: "github", Repository: "Codertocat/Hello-World", Token: testToken}
	require.NoError(t, r.reg.PutRegistration(r.ctx, dynamo.Registration{Provider: "github", Repo: "Codertocat/Hello-World", Branch: "master",
		Commit: testCommit, Hook: "sample-hook", File: []byte(file), Images: []string{"api"}, Pushed: t0}))
	require.NoError(t, r.reg.PutImageIndex(r.ctx, "api", "github", "Codertocat/Hello-World"))
	r.repo.heads["master"] = commitB
	r.repo.set(commitB, file)

	require.NoError(t, r.h.Invoke(r.ctx, sample(t, "ecr-image-push.json")))
	require.NoError(t, r.h.Invoke(r.ctx, sample(t, "schedule.json")))
	starts := r.sfn.started()
	require.Len(t, starts, 2, r.logs.String())
	assert.Contains(t, aws.ToString(starts[0].Name), "ecr-4f6c1e2a-8d3b-4c7e-9a51-2b0d7e9f3c48-")
	assert.True(t, strings.HasPrefix(aws.ToString(starts[1].Name), "schedule-20261123T030000Z-"), aws.ToString(starts[1].Name))
	rec, err := r.runs.GetRun(r.ctx, runID("github", "Codertocat/Hello-World", "nightly", 1))
	require.NoError(t, err)
	assert.Equal(t, commitB, rec.Commit)
}
