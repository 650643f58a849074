package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/stepline/stepline/pkg/scm"
)

// The EventBridge envelope of an accepted source event.
const (
	// EventSource is the source of every event stepline puts on its bus.
	EventSource = "stepline"
	// DetailTypeSource is the detail-type of an accepted webhook event; the trigger function's
	// rule matches it.
	DetailTypeSource = "stepline Source Event"
	// MaxEntryBytes is EventBridge's limit on one PutEvents entry (source, detail-type, detail
	// and resources, in UTF-8 bytes); a bigger event is stored in S3 and referenced.
	MaxEntryBytes = 256 * 1024
	// maxBatch is the most entries one PutEvents call takes.
	maxBatch = 10
	// putAttempts bounds the tries of entries EventBridge refused (throttling, internal):
	// GitHub does not redeliver a failed delivery by itself, so the handler tries hard first.
	putAttempts = 5
)

// Detail is the detail of a DetailTypeSource event. The summary fields let EventBridge rules
// filter without the event; Event is absent when it was too large and is in S3 at EventS3.
type Detail struct {
	Key        string `json:"key"`
	Provider   string `json:"provider"`
	Kind       string `json:"kind"`
	Repository string `json:"repository"`
	Ref        string `json:"ref"`
	// Hook is the webhook the event came through; it names the repository's secret.
	Hook    string     `json:"hook,omitempty"`
	Event   *scm.Event `json:"event,omitempty"`
	EventS3 *S3Object  `json:"event_s3,omitempty"`
}

// S3Object locates an object in S3.
type S3Object struct {
	Bucket string `json:"bucket"`
	Key    string `json:"key"`
}

type eventPutter interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, optFns ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

type objectPutter interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

var (
	_ eventPutter  = (*eventbridge.Client)(nil)
	_ objectPutter = (*s3.Client)(nil)
)

// EventBridge publishes accepted events to an event bus, spilling large ones to S3.
type EventBridge struct {
	eb     eventPutter
	s3     objectPutter
	bus    string
	bucket string
	prefix string
	// backoff is the pause before each retry of refused entries (the last value repeats).
	backoff []time.Duration
}

// NewEventBridge returns a publisher putting events on bus, storing events too large for an
// entry in bucket under "webhooks/".
func NewEventBridge(eb eventPutter, bus string, s3c objectPutter, bucket string) *EventBridge {
	return &EventBridge{eb: eb, s3: s3c, bus: bus, bucket: bucket, prefix: "webhooks/",
		backoff: []time.Duration{50 * time.Millisecond, 200 * time.Millisecond, 800 * time.Millisecond, 1600 * time.Millisecond}}
}

// Publish puts every event on the bus, at most ten per call and within the size limit, and
// retries the entries EventBridge refuses. It fails if any event is still refused, so the
// provider's redelivery puts it again (the trigger step deduplicates by key).
func (p *EventBridge) Publish(ctx context.Context, events []Accepted) error {
	entries := make([]ebtypes.PutEventsRequestEntry, 0, len(events))
	for _, a := range events {
		e, err := p.entry(ctx, a)
		if err != nil {
			return err
		}
		entries = append(entries, e)
	}
	for _, batch := range batches(entries) {
		if err := p.put(ctx, batch); err != nil {
			return err
		}
	}
	return nil
}

func (p *EventBridge) entry(ctx context.Context, a Accepted) (ebtypes.PutEventsRequestEntry, error) {
	d := Detail{Key: a.Key, Provider: a.Event.Provider, Kind: a.Event.Kind,
		Repository: a.Event.Repository.FullName, Ref: a.Event.Ref, Hook: a.Hook, Event: &a.Event}
	detail, err := json.Marshal(d)
	if err != nil {
		return ebtypes.PutEventsRequestEntry{}, fmt.Errorf("encode event %s: %w", a.Key, err)
	}
	if entrySize(detail) > MaxEntryBytes {
		obj := S3Object{Bucket: p.bucket, Key: p.prefix + a.Key + ".json"}
		body, err := json.Marshal(a.Event)
		if err != nil {
			return ebtypes.PutEventsRequestEntry{}, fmt.Errorf("encode event %s: %w", a.Key, err)
		}
		if p.s3 == nil || p.bucket == "" {
			return ebtypes.PutEventsRequestEntry{}, fmt.Errorf("event %s is %d bytes, over EventBridge's limit, and no bucket is configured", a.Key, len(detail))
		}
		if _, err := p.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(obj.Bucket), Key: aws.String(obj.Key),
			Body: bytes.NewReader(body), ContentType: aws.String("application/json")}); err != nil {
			return ebtypes.PutEventsRequestEntry{}, fmt.Errorf("store large event %s in s3://%s/%s: %w", a.Key, obj.Bucket, obj.Key, err)
		}
		d.Event, d.EventS3 = nil, &obj
		if detail, err = json.Marshal(d); err != nil {
			return ebtypes.PutEventsRequestEntry{}, err
		}
	}
	return ebtypes.PutEventsRequestEntry{
		EventBusName: aws.String(p.bus),
		Source:       aws.String(EventSource),
		DetailType:   aws.String(DetailTypeSource),
		Detail:       aws.String(string(detail)),
	}, nil
}

func entrySize(detail []byte) int { return len(EventSource) + len(DetailTypeSource) + len(detail) }

// batches splits entries into PutEvents calls of at most ten entries and, together, at most
// MaxEntryBytes.
func batches(entries []ebtypes.PutEventsRequestEntry) [][]ebtypes.PutEventsRequestEntry {
	var out [][]ebtypes.PutEventsRequestEntry
	var cur []ebtypes.PutEventsRequestEntry
	size := 0
	for _, e := range entries {
		n := len(*e.Source) + len(*e.DetailType) + len(*e.Detail)
		if len(cur) == maxBatch || (len(cur) > 0 && size+n > MaxEntryBytes) {
			out = append(out, cur)
			cur, size = nil, 0
		}
		cur = append(cur, e)
		size += n
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

func (p *EventBridge) put(ctx context.Context, entries []ebtypes.PutEventsRequestEntry) error {
	for attempt := 1; ; attempt++ {
		out, err := p.eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
		if err != nil {
			return fmt.Errorf("put %d events on bus %s: %w", len(entries), p.bus, err)
		}
		if out.FailedEntryCount == 0 {
			return nil
		}
		// Entries answer in request order; keep the refused ones for another try.
		var again []ebtypes.PutEventsRequestEntry
		var reasons []string
		for i, r := range out.Entries {
			if r.ErrorCode != nil && i < len(entries) {
				again = append(again, entries[i])
				reasons = append(reasons, aws.ToString(r.ErrorCode)+": "+aws.ToString(r.ErrorMessage))
			}
		}
		if len(again) == 0 {
			return fmt.Errorf("put events on bus %s: %d failed without per-entry errors", p.bus, out.FailedEntryCount)
		}
		if attempt == putAttempts {
			return errors.New("put events on bus " + p.bus + ": refused after retries: " + strings.Join(reasons, "; "))
		}
		if len(p.backoff) > 0 {
			pause := p.backoff[min(attempt-1, len(p.backoff)-1)]
			select {
			case <-time.After(pause):
			case <-ctx.Done():
				return fmt.Errorf("put events on bus %s: %w (%s)", p.bus, ctx.Err(), strings.Join(reasons, "; "))
			}
		}
		entries = again
	}
}
