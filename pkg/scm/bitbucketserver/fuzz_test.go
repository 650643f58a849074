package bitbucketserver

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stepline/stepline/pkg/scm"
)

// FuzzParse checks that no delivery panics Parse and that every answer keeps the parser
// contract: events of this provider and delivery and of a known kind, or an ignored or
// malformed error; a pull request's ref is always Data Center's pull request ref.
func FuzzParse(f *testing.F) {
	for _, fx := range allFixtures(f) {
		f.Add(fx.Event, "fuzz-delivery", fx.Body)
	}
	// Handled keys with bodies the fixtures do not reach.
	for _, key := range []string{"repo:refs_changed", "pr:opened", "pr:from_ref_updated", "pr:modified", "pr:merged", "diagnostics:ping"} {
		f.Add(key, "", []byte(`{}`))
		f.Add(key, "d", []byte(`null`))
		f.Add(key, "d", []byte(`{"changes":[{}],"pullRequest":{"id":1}}`))
	}
	kinds := map[string]bool{scm.KindPush: true, scm.KindTag: true, scm.KindPullRequest: true, scm.KindPing: true}
	f.Fuzz(func(t *testing.T, event, delivery string, body []byte) {
		evs, err := Parse(event, delivery, body)
		if err != nil {
			var ig *scm.IgnoredError
			var mal *scm.MalformedError
			if !errors.As(err, &ig) && !errors.As(err, &mal) {
				t.Fatalf("error %T %v is neither ignored nor malformed", err, err)
			}
			if len(evs) != 0 {
				t.Fatalf("%d events along with error %v", len(evs), err)
			}
			return
		}
		if len(evs) == 0 {
			t.Fatal("no events and no error")
		}
		for i, ev := range evs {
			if ev.Provider != scm.BitbucketServer {
				t.Errorf("event %d: provider %q", i, ev.Provider)
			}
			if ev.Delivery != delivery {
				t.Errorf("event %d: delivery %q, want %q", i, ev.Delivery, delivery)
			}
			if !kinds[ev.Kind] {
				t.Errorf("event %d: kind %q", i, ev.Kind)
			}
			if (ev.Kind == scm.KindPullRequest) != (ev.PullRequest != nil) {
				t.Errorf("event %d: kind %q with pull request %v", i, ev.Kind, ev.PullRequest)
			}
			if ev.PullRequest != nil && ev.Ref != fmt.Sprintf("refs/pull-requests/%d/from", ev.PullRequest.Number) {
				t.Errorf("event %d: pull request %d has ref %q, not its pull request ref", i, ev.PullRequest.Number, ev.Ref)
			}
		}
	})
}
