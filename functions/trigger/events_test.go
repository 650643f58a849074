package main

import (
	"crypto/md5"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/scm"
	"github.com/stepline/stepline/pkg/scm/codecommit"
	"github.com/stepline/stepline/pkg/scm/github"
	"github.com/stepline/stepline/pkg/triggerstep"
	"github.com/stepline/stepline/pkg/webhook"
)

// assertReadAsSent checks that a detail type, which decodes only the fields stepline reads,
// encodes each of them back exactly as the sample sent it, and that it reads something: the
// encoded type is a part of the sample, object by object.
func assertReadAsSent(t *testing.T, sample, read []byte) {
	t.Helper()
	var full, part map[string]any
	require.NoError(t, json.Unmarshal(sample, &full))
	require.NoError(t, json.Unmarshal(read, &part))
	require.NotEmpty(t, part)
	var walk func(path string, full, part map[string]any)
	walk = func(path string, full, part map[string]any) {
		for k, v := range part {
			sub, isObj := v.(map[string]any)
			fullSub, fullIsObj := full[k].(map[string]any)
			if isObj && fullIsObj {
				walk(path+k+".", fullSub, sub)
				continue
			}
			assert.Equal(t, full[k], v, "%s%s is not read as the sample sends it", path, k)
		}
	}
	walk("", full, part)
}

func readSample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "events", name))
	require.NoError(t, err)
	return b
}

// TestTheSampleEventRoundTripsAndIsWhatTheWebhookPublishes decodes events/trigger/github-push.json
// with aws-lambda-go's type, encodes it again, and checks that its detail is what the webhook
// puts on the bus for events/webhook/github-push.json: same key, same normalised event.
func TestTheSampleEventRoundTripsAndIsWhatTheWebhookPublishes(t *testing.T) {
	t.Parallel()
	raw := readSample(t, "trigger/github-push.json")
	var e events.CloudWatchEvent
	require.NoError(t, json.Unmarshal(raw, &e))
	again, err := json.Marshal(e)
	require.NoError(t, err)
	assert.JSONEq(t, string(raw), string(again))
	assert.Equal(t, webhook.EventSource, e.Source)
	assert.Equal(t, webhook.DetailTypeSource, e.DetailType)

	var d triggerstep.Detail
	require.NoError(t, json.Unmarshal(e.Detail, &d))
	back, err := json.Marshal(d)
	require.NoError(t, err)
	assert.JSONEq(t, string(e.Detail), string(back))

	var req events.APIGatewayV2HTTPRequest
	require.NoError(t, json.Unmarshal(readSample(t, "webhook/github-push.json"), &req))
	body := []byte(req.Body)
	assert.Equal(t, scm.Key(scm.GitHub, body, 0, 1), d.Key)
	assert.Equal(t, req.PathParameters["hook"], d.Hook)
	want, err := github.Parse(req.Headers["x-github-event"], req.Headers["x-github-delivery"], body)
	require.NoError(t, err)
	require.Len(t, want, 1)
	require.NotNil(t, d.Event)
	assert.Equal(t, want[0], *d.Event)
	assert.Equal(t, webhook.Detail{Key: d.Key, Provider: want[0].Provider, Kind: want[0].Kind, Repository: want[0].Repository.FullName,
		Ref: want[0].Ref, Hook: req.PathParameters["hook"], Event: d.Event}, d)
}

func TestAMalformedSampleIsRefusedByTheDecoder(t *testing.T) {
	t.Parallel()
	for name, in := range map[string]string{
		"a truncated envelope":        `{"version":"0","detail":{"key":`,
		"a detail that is not JSON":   `{"version":"0","detail":nope}`,
		"an event of the wrong shape": `{"version":"0","detail":{"key":"k","event":{"commits":"many"}}}`,
	} {
		var e events.CloudWatchEvent
		err := json.Unmarshal([]byte(in), &e)
		if err == nil {
			var d triggerstep.Detail
			err = json.Unmarshal(e.Detail, &d)
		}
		assert.Error(t, err, name)
	}
}

// TestTheECRSampleRoundTripsAndIsWhatTheAwsEventRuleLetsThrough decodes
// events/trigger/ecr-image-push.json (the shape of ECR's "Event for a completed image push")
// with aws-lambda-go's type and the trigger's detail type, encodes both again, and checks it
// is what the AwsEventRule passes on: a successful PUSH.
func TestTheECRSampleRoundTripsAndIsWhatTheAwsEventRuleLetsThrough(t *testing.T) {
	t.Parallel()
	raw := readSample(t, "trigger/ecr-image-push.json")
	var e events.CloudWatchEvent
	require.NoError(t, json.Unmarshal(raw, &e))
	again, err := json.Marshal(e)
	require.NoError(t, err)
	assert.JSONEq(t, string(raw), string(again))
	assert.Equal(t, triggerstep.ECRSource, e.Source)
	assert.Equal(t, triggerstep.ECRDetailType, e.DetailType)

	a, err := triggerstep.ParseImageAction(e.Detail)
	require.NoError(t, err)
	back, err := json.Marshal(a)
	require.NoError(t, err)
	assert.JSONEq(t, string(e.Detail), string(back))
	assert.Equal(t, "PUSH", a.ActionType)
	assert.Equal(t, "SUCCESS", a.Result)
	assert.Regexp(t, `^sha256:[0-9a-f]{64}$`, a.ImageDigest)

	in, err := triggerstep.ParseInput(raw)
	require.NoError(t, err)
	assert.Equal(t, triggerstep.ShapeEventBridge, in.Shape)
}

// TestTheS3SampleRoundTripsAndIsWhatTheAwsEventRuleLetsThrough decodes
// events/trigger/s3-object-created.json (the shape of S3's documented "Object created" event
// on EventBridge) with aws-lambda-go's type and the trigger's detail type, and encodes both
// again.
func TestTheS3SampleRoundTripsAndIsWhatTheAwsEventRuleLetsThrough(t *testing.T) {
	t.Parallel()
	raw := readSample(t, "trigger/s3-object-created.json")
	var e events.CloudWatchEvent
	require.NoError(t, json.Unmarshal(raw, &e))
	again, err := json.Marshal(e)
	require.NoError(t, err)
	assert.JSONEq(t, string(raw), string(again))
	assert.Equal(t, triggerstep.S3Source, e.Source)
	assert.Equal(t, triggerstep.S3ObjectCreatedType, e.DetailType)

	o, err := triggerstep.ParseObjectCreated(e.Detail)
	require.NoError(t, err)
	back, err := json.Marshal(o)
	require.NoError(t, err)
	assertReadAsSent(t, e.Detail, back)
	assert.Equal(t, []string{"arn:aws:s3:::" + o.Bucket.Name}, e.Resources)
	assert.Equal(t, "releases/1.4.0/app.zip", triggerstep.ObjectVariables(o)["object_key"])

	in, err := triggerstep.ParseInput(raw)
	require.NoError(t, err)
	assert.Equal(t, triggerstep.ShapeEventBridge, in.Shape)
}

// TestTheCodeCommitSampleRoundTripsAndIsABranchPush decodes
// events/trigger/codecommit-reference-updated.json (the shape of CodeCommit's documented
// referenceUpdated event) with aws-lambda-go's type and the provider's detail type, encodes
// both again, and checks the normalised push it becomes.
func TestTheCodeCommitSampleRoundTripsAndIsABranchPush(t *testing.T) {
	t.Parallel()
	raw := readSample(t, "trigger/codecommit-reference-updated.json")
	var e events.CloudWatchEvent
	require.NoError(t, json.Unmarshal(raw, &e))
	again, err := json.Marshal(e)
	require.NoError(t, err)
	assert.JSONEq(t, string(raw), string(again))
	assert.Equal(t, codecommit.Source, e.Source)
	assert.Equal(t, codecommit.DetailType, e.DetailType)

	c, err := codecommit.ParseStateChange(e.Detail)
	require.NoError(t, err)
	back, err := json.Marshal(c)
	require.NoError(t, err)
	assertReadAsSent(t, e.Detail, back)

	ev, err := codecommit.ParseEvent(e)
	require.NoError(t, err)
	assert.Equal(t, scm.KindPush, ev.Kind)
	assert.Equal(t, "main", ev.Branch)
	assert.Equal(t, c.OldCommitID, ev.Before)
	assert.Equal(t, c.CommitID, ev.After)
	assert.Equal(t, []string{"arn:aws:codecommit:" + e.Region + ":" + e.AccountID + ":" + ev.Repository.FullName}, e.Resources)

	in, err := triggerstep.ParseInput(raw)
	require.NoError(t, err)
	assert.Equal(t, triggerstep.ShapeEventBridge, in.Shape)
}

// TestTheScheduleSampleRoundTripsAndIsAScheduleInput decodes events/trigger/schedule.json,
// the input a schedule trigger's schedule sends once Scheduler has filled in the time.
func TestTheScheduleSampleRoundTripsAndIsAScheduleInput(t *testing.T) {
	t.Parallel()
	raw := readSample(t, "trigger/schedule.json")
	var in map[string]triggerstep.ScheduleInput
	require.NoError(t, json.Unmarshal(raw, &in))
	again, err := json.Marshal(in)
	require.NoError(t, err)
	assert.JSONEq(t, string(raw), string(again))

	got, err := triggerstep.ParseInput(raw)
	require.NoError(t, err)
	assert.Equal(t, triggerstep.ShapeSchedule, got.Shape)
	assert.Equal(t, in[triggerstep.ScheduleKey], got.Schedule)
	_, err = time.Parse(time.RFC3339, got.Schedule.Time)
	assert.NoError(t, err)
}

func TestMalformedAWSAndScheduleSamplesAreRefused(t *testing.T) {
	t.Parallel()
	for name, in := range map[string]string{
		"a truncated ECR event":              `{"version":"0","source":"aws.ecr","detail-type":"ECR Image Action","detail":{"repository-name":`,
		"an ECR detail without repository":   `{"version":"0","source":"aws.ecr","detail-type":"ECR Image Action","detail":{"action-type":"PUSH","result":"SUCCESS"}}`,
		"an ECR detail of the wrong type":    `{"version":"0","source":"aws.ecr","detail-type":"ECR Image Action","detail":{"repository-name":["api"]}}`,
		"a truncated S3 event":               `{"version":"0","source":"aws.s3","detail-type":"Object Created","detail":{"bucket":`,
		"an S3 detail without a key":         `{"version":"0","source":"aws.s3","detail-type":"Object Created","detail":{"bucket":{"name":"b"},"object":{"size":1}}}`,
		"an S3 detail of the wrong type":     `{"version":"0","source":"aws.s3","detail-type":"Object Created","detail":{"bucket":{"name":"b"},"object":{"key":"k","size":"big"}}}`,
		"a truncated CodeCommit event":       `{"version":"0","source":"aws.codecommit","detail-type":"CodeCommit Repository State Change","detail":{"event":`,
		"a CodeCommit detail without commit": `{"version":"0","source":"aws.codecommit","detail-type":"CodeCommit Repository State Change","detail":{"event":"referenceUpdated","repositoryName":"r","referenceType":"branch"}}`,
		"a CodeCommit detail of wrong type":  `{"version":"0","source":"aws.codecommit","detail-type":"CodeCommit Repository State Change","detail":{"event":"referenceUpdated","commitId":7}}`,
		"a truncated schedule input":         `{"stepline-schedule":{"provider":"github"`,
		"a schedule input without a time":    `{"stepline-schedule":{"provider":"github","repository":"o/r","pipeline":"p","trigger":0,"branch":"main"}}`,
		"a schedule input of the wrong type": `{"stepline-schedule":{"provider":"github","repository":"o/r","pipeline":"p","trigger":"first","branch":"main","time":"2026-11-23T03:00:00Z"}}`,
	} {
		got, err := triggerstep.ParseInput([]byte(in))
		if err == nil && got.Shape == triggerstep.ShapeEventBridge {
			switch got.Event.Source {
			case triggerstep.S3Source:
				_, err = triggerstep.ParseObjectCreated(got.Event.Detail)
			case codecommit.Source:
				_, err = codecommit.ParseEvent(got.Event)
			default:
				_, err = triggerstep.ParseImageAction(got.Event.Detail)
			}
		}
		assert.Error(t, err, name)
	}
}

// TestTheSQSBatchSampleRoundTripsAndCarriesTheOtherSamples decodes
// events/trigger/sqs-batch.json (the shape of the batch Lambda hands a function polling a
// standard queue) with aws-lambda-go's type, encodes it again, and checks that its bodies are
// github-push.json as the SourceEventRule sends it and schedule.json as a schedule sends it,
// each with the MD5 SQS gives it.
func TestTheSQSBatchSampleRoundTripsAndCarriesTheOtherSamples(t *testing.T) {
	t.Parallel()
	raw := readSample(t, "trigger/sqs-batch.json")
	var batch events.SQSEvent
	require.NoError(t, json.Unmarshal(raw, &batch))
	again, err := json.Marshal(batch)
	require.NoError(t, err)
	// aws-lambda-go writes md5OfMessageAttributes, which SQS leaves out for a message
	// without attributes; everything else comes back as it was.
	var want, got map[string][]map[string]any
	require.NoError(t, json.Unmarshal(raw, &want))
	require.NoError(t, json.Unmarshal(again, &got))
	for _, m := range got["Records"] {
		assert.Equal(t, "", m["md5OfMessageAttributes"])
		delete(m, "md5OfMessageAttributes")
	}
	assert.Equal(t, want, got)

	require.Len(t, batch.Records, 2)
	for i, sample := range []string{"trigger/github-push.json", "trigger/schedule.json"} {
		m := batch.Records[i]
		assert.JSONEq(t, string(readSample(t, sample)), m.Body, sample)
		assert.Equal(t, fmt.Sprintf("%x", md5.Sum([]byte(m.Body))), m.Md5OfBody, sample)
		assert.Equal(t, "aws:sqs", m.EventSource)
		assert.Equal(t, "arn:aws:sqs:us-east-1:123456789012:stepline-trigger", m.EventSourceARN)
		assert.Equal(t, "1", m.Attributes["ApproximateReceiveCount"])
		assert.NotEmpty(t, m.MessageId, "the id the function names a failed message by")
	}
	in, err := triggerstep.ParseInput([]byte(batch.Records[0].Body))
	require.NoError(t, err)
	assert.Equal(t, triggerstep.ShapeEventBridge, in.Shape)
	in, err = triggerstep.ParseInput([]byte(batch.Records[1].Body))
	require.NoError(t, err)
	assert.Equal(t, triggerstep.ShapeSchedule, in.Shape)
}

func TestAMalformedSQSBatchIsRefusedByTheDecoder(t *testing.T) {
	t.Parallel()
	for name, in := range map[string]string{
		"a truncated batch":             `{"Records":[{"messageId":"m","body":`,
		"records that are not a list":   `{"Records":{"messageId":"m"}}`,
		"a body that is not a string":   `{"Records":[{"messageId":"m","body":{"source":"stepline"}}]}`,
		"attributes that are not texts": `{"Records":[{"messageId":"m","attributes":{"ApproximateReceiveCount":1}}]}`,
	} {
		var batch events.SQSEvent
		assert.Error(t, json.Unmarshal([]byte(in), &batch), name)
	}
}
