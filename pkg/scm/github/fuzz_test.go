package github

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/stepline/stepline/pkg/scm"
)

// FuzzParse feeds Parse every real example of the five events it understands, and what the
// fuzzer makes of them, under any event name. Whatever the input, Parse must not panic, must
// answer nothing but events, *scm.IgnoredError or *scm.MalformedError, and every event must be
// a GitHub event of a known kind carrying the delivery id; a head commit apart from after
// belongs to a tag and is among its commits, and a pull request's ref is GitHub's own.
func FuzzParse(f *testing.F) {
	for _, x := range loadExamples(f) {
		f.Add(x.Event, x.Body)
	}
	f.Add("push", []byte(`{"ref":"refs/heads/main","after":"1","repository":{"full_name":"o/r"},"commits":[{"id":"1","added":null}]}`))
	f.Add("push", []byte(`{"ref":"refs/heads/main","commits":"not a list"}`))
	f.Add("pull_request", []byte(`{"action":"edited","changes":{"base":{}},"pull_request":{"number":1}}`))
	f.Add("create", []byte(`{"ref":"x","ref_type":"branch","repository":{"full_name":"o/r"}}`))
	f.Add("delete", []byte(`{"ref":"x","ref_type":"tag","master_branch":null,"repository":{"full_name":"o/r"}}`))
	f.Add("push", []byte(`payload=%7B%22ref%22%3A%22refs%2Ftags%2Fv1%22%2C%22after%22%3A%221%22%2C%22head_commit%22%3A%7B%22id%22%3A%222%22%7D%7D`))
	f.Add("ping", []byte(`payload=%zz`))
	f.Add("issues", []byte(`{}`))
	f.Add("ping", []byte(`null`))

	const delivery = "fuzz-delivery"
	kinds := []string{scm.KindPush, scm.KindTag, scm.KindPullRequest, scm.KindPing}
	f.Fuzz(func(t *testing.T, event string, body []byte) {
		evs, err := Parse(event, delivery, body)
		if err != nil {
			var ig *scm.IgnoredError
			var bad *scm.MalformedError
			switch {
			case errors.As(err, &ig):
			case errors.As(err, &bad):
				if strings.Contains(bad.Reason, "\n") {
					t.Fatalf("malformed reason spans lines: %q", bad.Reason)
				}
			default:
				t.Fatalf("Parse answered %T %v", err, err)
			}
			if evs != nil {
				t.Fatalf("Parse answered events and an error: %v", err)
			}
			return
		}
		if len(evs) == 0 {
			t.Fatal("Parse answered no events and no error")
		}
		if other, ok := map[string]string{"create": "delete", "delete": "create"}[event]; ok {
			if _, err := Parse(other, delivery, body); err == nil {
				t.Fatalf("one body yields events as a %s and as a %s delivery", event, other)
			}
		}
		for _, ev := range evs {
			if ev.Provider != scm.GitHub || ev.Delivery != delivery || !slices.Contains(kinds, ev.Kind) {
				t.Fatalf("bad event: provider %q delivery %q kind %q", ev.Provider, ev.Delivery, ev.Kind)
			}
			if ev.FilesComplete && (ev.Created || ev.Deleted || ev.Forced || ev.Kind == scm.KindPullRequest) {
				t.Fatalf("files vouched for on a %s event (created %v, deleted %v, forced %v)", ev.Kind, ev.Created, ev.Deleted, ev.Forced)
			}
			if ev.HeadCommit != "" && (ev.Kind != scm.KindTag || ev.Deleted) {
				t.Fatalf("a head commit apart from after on a %s event (deleted %v)", ev.Kind, ev.Deleted)
			}
			if ev.HeadCommit != "" && !slices.ContainsFunc(ev.Commits, func(c scm.Commit) bool { return c.ID == ev.HeadCommit }) {
				t.Fatalf("head commit %q is not among the commits", ev.HeadCommit)
			}
			if ev.Kind == scm.KindPullRequest && !strings.HasPrefix(ev.Ref, "refs/pull/") {
				t.Fatalf("pull request ref %q is not a refs/pull/ ref", ev.Ref)
			}
		}
	})
}
