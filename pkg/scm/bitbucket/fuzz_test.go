package bitbucket

import (
	"errors"
	"slices"
	"testing"

	"github.com/stepline/stepline/pkg/scm"
)

// FuzzParse feeds Parse every fixture under its own and under other event keys, mutated:
// Parse must not panic, must refuse only with the two refusal types, and every event it
// yields must be a Bitbucket event of a buildable kind carrying the delivery. X-Event-Key is
// not signed, so a body that yields events under one key must yield none under another
// (pullrequest:created and :updated excepted: their bodies are alike, see sameShape).
func FuzzParse(f *testing.F) {
	keys := []string{"repo:push", "pullrequest:created", "pullrequest:updated", "pullrequest:fulfilled", "pullrequest:rejected", "repo:fork", ""}
	for _, fx := range allFixtures(f) {
		f.Add(fx.Event, "delivery-1", fx.Body)
	}
	for _, k := range keys {
		f.Add(k, "d", []byte(`{"push":{"changes":[{"new":null,"old":null}]}}`))
		f.Add(k, "d", []byte(`{"pullrequest":{"id":1,"source":{"branch":{"name":"x"},"commit":{"hash":"a"}}}}`))
		for _, state := range []string{"OPEN", "MERGED", "DECLINED"} {
			f.Add(k, "d", []byte(`{"pullrequest":{"id":1,"state":"`+state+`","source":{"branch":{"name":"x"},"commit":{"hash":"a"}}}}`))
		}
		f.Add(k, "d", []byte(`{"push":{"changes":[{"new":{"type":"tag","name":"v1","target":{"hash":"a"}},"old":null}]},"pullrequest":{"id":1,"state":"OPEN","source":{"branch":{"name":"x"},"commit":{"hash":"a"}}}}`))
	}
	kinds := []string{scm.KindPush, scm.KindTag, scm.KindPullRequest}
	f.Fuzz(func(t *testing.T, event, delivery string, body []byte) {
		events, err := Parse(event, delivery, body)
		var ig *scm.IgnoredError
		var mal *scm.MalformedError
		if err != nil && !errors.As(err, &ig) && !errors.As(err, &mal) {
			t.Fatalf("error %T (%v) is neither ignored nor malformed", err, err)
		}
		if err != nil && len(events) > 0 {
			t.Fatalf("%d events beside error %v", len(events), err)
		}
		if err == nil && len(events) == 0 {
			t.Fatal("no events and no error")
		}
		if err == nil {
			for _, other := range handledKeys {
				if sameShape(other, event) {
					continue
				}
				if evs, err := Parse(other, delivery, body); err == nil {
					t.Fatalf("a body that is a %s delivery also yields %d events as %s", event, len(evs), other)
				}
			}
		}
		for i, e := range events {
			if e.Provider != scm.Bitbucket || e.Delivery != delivery || !slices.Contains(kinds, e.Kind) {
				t.Fatalf("event %d: provider %q, delivery %q, kind %q", i, e.Provider, e.Delivery, e.Kind)
			}
			if (e.Kind == scm.KindPullRequest) != (e.PullRequest != nil) {
				t.Fatalf("event %d: kind %q with pull request %v", i, e.Kind, e.PullRequest)
			}
		}
	})
}
