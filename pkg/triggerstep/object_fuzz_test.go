package triggerstep

import (
	"encoding/json"
	"testing"
)

// FuzzParseObjectCreated throws any detail at the S3 Object Created parser, seeded with the
// sample event: it never panics, and a detail it accepts names its bucket and key, which the
// registry look-up and the run's variables need.
func FuzzParseObjectCreated(f *testing.F) {
	var e struct {
		Detail json.RawMessage `json:"detail"`
	}
	if err := json.Unmarshal(sample(f, "s3-object-created.json"), &e); err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(e.Detail))
	f.Add([]byte(`{"bucket":{"name":"b"},"object":{"key":"k","size":"12"}}`))
	f.Add([]byte(`{"bucket":{"name":""},"object":{"key":"k"}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		o, err := ParseObjectCreated(raw)
		if err != nil {
			return
		}
		if o.Bucket.Name == "" || o.Object.Key == "" {
			t.Fatalf("accepted %q without a bucket or key", raw)
		}
		vars := ObjectVariables(o)
		if vars["object_bucket"] != o.Bucket.Name || vars["object_key"] != o.Object.Key {
			t.Fatalf("variables %v do not name bucket %q", vars, o.Bucket.Name)
		}
	})
}
