package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/awstest"
	"github.com/stepline/stepline/pkg/iamcheck"
	"github.com/stepline/stepline/pkg/scm"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// busWithQueue creates a bus whose rule for stepline source events targets an SQS queue, so
// the test reads back exactly what EventBridge delivered, and a bucket for large events. The
// EventBridge and S3 clients it returns are the webhook function's: their calls are recorded
// for the IAM check (iamcheck); the test inspects S3 with its own client.
func busWithQueue(t *testing.T, name string) (eb *eventbridge.Client, s3c *s3.Client, bucket string, sq *sqs.Client, url string) {
	t.Helper()
	cfg := awstest.StartMoto(t).Config()
	ctx := context.Background()
	setup := eventbridge.NewFromConfig(cfg)
	sq = sqs.NewFromConfig(cfg)
	bucket = name + "-artifacts"

	_, err := setup.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(name)})
	require.NoError(t, err)
	q, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
	require.NoError(t, err)
	attrs, err := sq.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	require.NoError(t, err)
	pattern := fmt.Sprintf(`{"source":[%q],"detail-type":[%q]}`, EventSource, DetailTypeSource)
	_, err = setup.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(name), EventBusName: aws.String(name), EventPattern: aws.String(pattern)})
	require.NoError(t, err)
	_, err = setup.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(name), EventBusName: aws.String(name),
		Targets: []ebtypes.Target{{Id: aws.String("q"), Arn: aws.String(attrs.Attributes["QueueArn"])}}})
	require.NoError(t, err)
	_, err = inspector(t).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	require.NoError(t, err)

	rec := iamcheck.NewRecorder(t, "webhook", map[string]string{"env:STEPLINE_EVENT_BUS": name, "env:STEPLINE_BUCKET": bucket})
	fn := rec.Config(cfg)
	return eventbridge.NewFromConfig(fn), s3.NewFromConfig(fn, func(o *s3.Options) { o.UsePathStyle = true }), bucket, sq, *q.QueueUrl
}

// inspector is an S3 client for the test's own reads and writes.
func inspector(t *testing.T) *s3.Client {
	return s3.NewFromConfig(awstest.StartMoto(t).Config(), func(o *s3.Options) { o.UsePathStyle = true })
}

// received reads the details of every event the queue got.
func received(t *testing.T, sq *sqs.Client, url string, want int) []Detail {
	t.Helper()
	var out []Detail
	deadline := time.Now().Add(10 * time.Second)
	for len(out) < want && time.Now().Before(deadline) {
		msgs, err := sq.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		require.NoError(t, err)
		for _, m := range msgs.Messages {
			var env struct {
				Source     string `json:"source"`
				DetailType string `json:"detail-type"`
				Detail     Detail `json:"detail"`
			}
			require.NoError(t, json.Unmarshal([]byte(*m.Body), &env))
			assert.Equal(t, EventSource, env.Source)
			assert.Equal(t, DetailTypeSource, env.DetailType)
			out = append(out, env.Detail)
		}
	}
	return out
}

func pushEvent(ref string, files int) scm.Event {
	ev := scm.Event{Provider: scm.GitHub, Kind: scm.KindPush, Delivery: "d-1", Ref: ref, Branch: strings.TrimPrefix(ref, "refs/heads/"),
		Repository: scm.Repository{FullName: "octo/app"}, After: strings.Repeat("a", 40), FilesComplete: true}
	for i := range files {
		ev.ChangedFiles = append(ev.ChangedFiles, fmt.Sprintf("services/api/internal/handlers/generated/file_%06d.go", i))
	}
	return ev
}

func TestPublishedEventsReachARuleOnTheBus(t *testing.T) {
	eb, s3c, bucket, sq, url := busWithQueue(t, "stepline-small")
	p := NewEventBridge(eb, "stepline-small", s3c, bucket)
	var evs []Accepted
	for i := range 12 { // more than one PutEvents call takes
		ev := pushEvent(fmt.Sprintf("refs/heads/b%02d", i), 2)
		evs = append(evs, Accepted{Key: fmt.Sprintf("github-%040d-%d", 0, i+1), Event: ev})
	}
	require.NoError(t, p.Publish(context.Background(), evs))

	got := received(t, sq, url, 12)
	require.Len(t, got, 12)
	for _, d := range got {
		require.NotNil(t, d.Event, "a small event travels inline")
		assert.Nil(t, d.EventS3)
		assert.Equal(t, "octo/app", d.Repository)
		assert.Equal(t, d.Ref, d.Event.Ref)
		assert.Regexp(t, `^github-0{40}-\d+$`, d.Key)
	}
}

func TestAnEventTooLargeForEventBridgeIsStoredInS3AndReferenced(t *testing.T) {
	eb, s3c, bucket, sq, url := busWithQueue(t, "stepline-large")
	p := NewEventBridge(eb, "stepline-large", s3c, bucket)
	big := pushEvent("refs/heads/main", 5000) // ~300 KB of paths
	require.NoError(t, p.Publish(context.Background(), []Accepted{{Key: "github-" + strings.Repeat("b", 40), Event: big}}))

	got := received(t, sq, url, 1)
	require.Len(t, got, 1)
	d := got[0]
	assert.Nil(t, d.Event)
	require.NotNil(t, d.EventS3)
	assert.Equal(t, "refs/heads/main", d.Ref, "the summary stays in the event for rules to filter on")
	assert.Equal(t, bucket, d.EventS3.Bucket)
	assert.Equal(t, "webhooks/github-"+strings.Repeat("b", 40)+".json", d.EventS3.Key)

	obj, err := inspector(t).GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(d.EventS3.Bucket), Key: aws.String(d.EventS3.Key)})
	require.NoError(t, err)
	body, _ := io.ReadAll(obj.Body)
	var back scm.Event
	require.NoError(t, json.Unmarshal(body, &back))
	assert.Equal(t, big, back)
}

// flakyBus refuses the first n entries of each call, then accepts.
type flakyBus struct {
	refuse int
	calls  [][]ebtypes.PutEventsRequestEntry
}

func (f *flakyBus) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	f.calls = append(f.calls, in.Entries)
	out := &eventbridge.PutEventsOutput{}
	for i := range in.Entries {
		if i < f.refuse {
			out.FailedEntryCount++
			out.Entries = append(out.Entries, ebtypes.PutEventsResultEntry{ErrorCode: aws.String("ThrottlingException"), ErrorMessage: aws.String("Rate exceeded")})
			continue
		}
		out.Entries = append(out.Entries, ebtypes.PutEventsResultEntry{EventId: aws.String(fmt.Sprint(i))})
	}
	if f.refuse > 0 {
		f.refuse--
	}
	return out, nil
}

func TestRefusedEntriesAreRetriedAndOnlyThey(t *testing.T) {
	t.Parallel()
	bus := &flakyBus{refuse: 1}
	p := NewEventBridge(bus, "b", nil, "")
	p.backoff = []time.Duration{time.Millisecond}
	a, b := pushEvent("refs/heads/a", 1), pushEvent("refs/heads/b", 1)
	require.NoError(t, p.Publish(context.Background(), []Accepted{{Key: "a", Event: a}, {Key: "b", Event: b}}))
	require.Len(t, bus.calls, 2)
	assert.Len(t, bus.calls[0], 2)
	require.Len(t, bus.calls[1], 1, "only the refused entry is sent again")
	assert.Contains(t, *bus.calls[1][0].Detail, `"key":"a"`)
}

func TestEntriesStillRefusedAfterRetriesFailThePublish(t *testing.T) {
	t.Parallel()
	bus := &flakyBus{refuse: 100}
	p := NewEventBridge(bus, "b", nil, "")
	p.backoff = []time.Duration{time.Millisecond}
	err := p.Publish(context.Background(), []Accepted{{Key: "a", Event: pushEvent("refs/heads/a", 1)}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ThrottlingException")
	assert.Len(t, bus.calls, putAttempts)
}

func TestBatchesHoldAtMostTenEntriesWithinTheSizeLimit(t *testing.T) {
	t.Parallel()
	entry := func(n int) ebtypes.PutEventsRequestEntry {
		return ebtypes.PutEventsRequestEntry{Source: aws.String(EventSource), DetailType: aws.String(DetailTypeSource), Detail: aws.String(strings.Repeat("x", n))}
	}
	var small []ebtypes.PutEventsRequestEntry
	for range 25 {
		small = append(small, entry(100))
	}
	assert.Equal(t, []int{10, 10, 5}, sizes(batches(small)))
	big := []ebtypes.PutEventsRequestEntry{entry(150_000), entry(150_000), entry(10)}
	assert.Equal(t, []int{1, 2}, sizes(batches(big)))
}

func sizes(bs [][]ebtypes.PutEventsRequestEntry) []int {
	var out []int
	for _, b := range bs {
		out = append(out, len(b))
	}
	return out
}
