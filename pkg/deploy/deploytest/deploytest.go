// Package deploytest holds what tests of deploy providers share: an input artifact kept in
// memory as a real zip, read the way the S3 artifact reads one.
package deploytest

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"reflect"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stepline/stepline/pkg/deploy"
)

// Artifact is an input artifact held in memory as a zip.
type Artifact struct {
	zip *zip.Reader
	loc deploy.Location
}

var _ deploy.Artifact = (*Artifact)(nil)

// Zip returns the bytes of a zip holding files (path → content).
func Zip(tb testing.TB, files map[string]string) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for name, body := range files {
		f, err := w.Create(name)
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := io.WriteString(f, body); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// NewArtifact returns an artifact of files, said to be at loc.
func NewArtifact(tb testing.TB, loc deploy.Location, files map[string]string) *Artifact {
	tb.Helper()
	b := Zip(tb, files)
	r, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		tb.Fatal(err)
	}
	return &Artifact{zip: r, loc: loc}
}

// ReadFile returns one file of the zip.
func (a *Artifact) ReadFile(_ context.Context, name string) ([]byte, error) {
	f, err := a.zip.Open(name)
	if err != nil {
		return nil, fmt.Errorf("artifact s3://%s/%s: %w", a.loc.Bucket, a.loc.Key, err)
	}
	defer f.Close()
	return io.ReadAll(f)
}

// Location is where the artifact is said to be.
func (a *Artifact) Location() deploy.Location { return a.loc }

// Event reads a sample EventBridge event (events/<provider>/*.json), checks that it survives
// a decode into aws-lambda-go's type and an encode back unchanged, and returns it.
func Event(tb testing.TB, path string) events.CloudWatchEvent {
	tb.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var e events.CloudWatchEvent
	if err := json.Unmarshal(raw, &e); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	again, err := json.Marshal(e)
	if err != nil {
		tb.Fatal(err)
	}
	var want, got any
	if err := json.Unmarshal(raw, &want); err != nil {
		tb.Fatal(err)
	}
	if err := json.Unmarshal(again, &got); err != nil {
		tb.Fatal(err)
	}
	if !reflect.DeepEqual(want, got) {
		tb.Fatalf("%s does not survive a round trip through events.CloudWatchEvent:\n%s", path, again)
	}
	return e
}
