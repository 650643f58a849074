package codecommit

import (
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stepline/stepline/pkg/scm"
)

// FuzzParseEvent throws any detail at the CodeCommit parser, seeded with the sample reference
// event: it never panics, every refusal is a malformed or ignored event (a 4xx, never a retry),
// and every event it yields passes the check refs and commits must pass where they enter.
func FuzzParseEvent(f *testing.F) {
	raw, err := os.ReadFile("../../../events/trigger/codecommit-reference-updated.json")
	if err != nil {
		f.Fatal(err)
	}
	var sample events.CloudWatchEvent
	if err := json.Unmarshal(raw, &sample); err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(sample.Detail))
	f.Add([]byte(`{"event":"referenceCreated","repositoryName":"r","referenceType":"tag","referenceName":"v1","commitId":"0123456789abcdef0123456789abcdef01234567"}`))
	f.Add([]byte(`{"event":"referenceUpdated","repositoryName":"r","referenceType":"branch","referenceName":"a..b","commitId":"HEAD~1"}`))
	f.Add([]byte(`{"event":"referenceDeleted"}`))
	f.Fuzz(func(t *testing.T, detail []byte) {
		e := sample
		e.Detail = detail
		ev, err := ParseEvent(e)
		if err != nil {
			var malformed *scm.MalformedError
			var ignored *scm.IgnoredError
			if !errors.As(err, &malformed) && !errors.As(err, &ignored) {
				t.Fatalf("a refusal that is neither malformed nor ignored: %T %v", err, err)
			}
			return
		}
		if err := ev.Check(); err != nil {
			t.Fatalf("an accepted event fails its check: %v", err)
		}
		if ev.Provider != scm.CodeCommit || ev.Repository.FullName == "" || ev.Delivery != sample.ID {
			t.Fatalf("accepted event %+v lacks its provider, repository or delivery", ev)
		}
	})
}
