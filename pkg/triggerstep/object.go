package triggerstep

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stepline/stepline/pkg/scm"
)

// The source and detail-type of the event S3 sends EventBridge when an object is created, in
// a bucket whose EventBridge notifications are on.
const (
	S3Source            = "aws.s3"
	S3ObjectCreatedType = "Object Created"
)

// ObjectCreated is what stepline reads of the detail of an S3 "Object Created" event: the
// bucket and the object. The detail also names the request (request-id, requester,
// source-ip-address, reason) and the object's sequencer; none of those is decoded, whatever
// its type, so a change there cannot refuse the event. What is read is strict.
type ObjectCreated struct {
	Bucket ObjectBucket  `json:"bucket"`
	Object CreatedObject `json:"object"`
}

// ObjectBucket names the bucket of an ObjectCreated event.
type ObjectBucket struct {
	Name string `json:"name"`
}

// CreatedObject is the object of an ObjectCreated event. The key is as written, not
// URL-encoded (unlike S3's own notifications); VersionID is absent in a bucket without
// versioning.
type CreatedObject struct {
	Key       string `json:"key"`
	Size      int64  `json:"size"`
	ETag      string `json:"etag,omitempty"`
	VersionID string `json:"version-id,omitempty"`
}

// ParseObjectCreated decodes and checks the detail of an S3 Object Created event.
func ParseObjectCreated(detail []byte) (ObjectCreated, error) {
	var o ObjectCreated
	if err := json.Unmarshal(detail, &o); err != nil {
		return ObjectCreated{}, fmt.Errorf("the detail is not an S3 Object Created detail: %w", err)
	}
	if o.Bucket.Name == "" || o.Object.Key == "" {
		return ObjectCreated{}, fmt.Errorf("the S3 Object Created detail names no bucket.name or object.key")
	}
	return o, nil
}

// handleObject starts, for an object created in an S3 bucket, every pipeline of the registry
// whose object trigger matches the bucket and key (startRegistered).
func (h *Handler) handleObject(ctx context.Context, e events.CloudWatchEvent) error {
	o, err := ParseObjectCreated(e.Detail)
	if err != nil {
		return permanent("event %s: %v", e.ID, err)
	}
	log := h.log.With("id", e.ID, "bucket", o.Bucket.Name, "key", o.Object.Key, "version", o.Object.VersionID)
	if e.ID == "" {
		return permanent("S3 Object Created event without an event id: no idempotency key")
	}
	if h.registry == nil {
		return permanent("event %s: an object creation needs the pipeline registry, and none is configured", e.ID)
	}
	regs, err := h.registry.BucketRegistrations(ctx, o.Bucket.Name)
	if err != nil {
		return fmt.Errorf("event %s: %w", e.ID, err)
	}
	if len(regs) == 0 {
		// Every bucket of the account with EventBridge notifications on reaches the function,
		// so this is the common case, not a mistake.
		log.InfoContext(ctx, "trigger: no registered pipeline file listens to this bucket")
		return nil
	}
	ev := scm.Event{Provider: scm.S3, Kind: scm.KindObject, Delivery: e.ID, Object: &scm.Object{
		Bucket: o.Bucket.Name, Key: o.Object.Key, Version: o.Object.VersionID, ETag: o.Object.ETag, Size: o.Object.Size}}
	return h.startRegistered(ctx, log, e.ID, regs, ev, ObjectVariables(o), "s3", "s3 object s3://"+o.Bucket.Name+"/"+o.Object.Key)
}

// ObjectVariables are the #{source.object_*} values of a run started by the creation of an
// object: its bucket, key, version id (empty without versioning), ETag and size in bytes.
func ObjectVariables(o ObjectCreated) map[string]string {
	return map[string]string{
		"event":          scm.KindObject,
		"object_bucket":  o.Bucket.Name,
		"object_key":     o.Object.Key,
		"object_version": o.Object.VersionID,
		"object_etag":    o.Object.ETag,
		"object_size":    strconv.FormatInt(o.Object.Size, 10),
	}
}
