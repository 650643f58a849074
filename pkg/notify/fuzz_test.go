package notify

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// Decode reads what a rule delivers; whatever arrives, it never panics, and an event it
// accepts yields a notification (or none) whose message validates and whose subject is
// one SNS takes.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"source":"stepline","detail-type":"stepline Pipeline Execution State Change","time":"2026-12-07T09:04:12Z","detail":{"pipeline":"api","execution-id":"api-42","state":"FAILED","message":"action Test failed: <x>"}}`,
		`{"source":"stepline","detail-type":"stepline Action Execution State Change","detail":{"pipeline":"api","execution-id":"r","state":"FAILED","stage":"B","action":"T","attempt":3}}`,
		`{"source":"stepline","detail-type":"stepline Stage Execution State Change","detail":{"pipeline":"p","execution-id":"r","state":"ROLLING_BACK","stage":"D"}}`,
		`{"source":"stepline","detail-type":"stepline Approval Requested","detail":{"pipeline":"p","run":"r","stage":"S","action":"A","approve-url":"https://x/a?k=1","reject-url":"https://x/r"}}`,
		`{"source":"stepline","detail-type":"stepline Pipeline Execution State Change","detail":{"pipeline":"p"}}`,
		`[]`, `null`, `{"source":"aws.s3"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Decode(b)
		if err != nil {
			return
		}
		run := Run{ID: c.Run(), Pipeline: "api", Started: time.Unix(0, 0)}
		n, ok := Notify(c, run, Links{ExecutionARN: "arn:aws:states:eu-west-1:1:execution:sm:r"})
		if !ok {
			return
		}
		body, err := n.Message.JSON()
		if err != nil {
			t.Fatal(err)
		}
		var m Message
		if err := json.Unmarshal(body, &m); err != nil || m.Version != "1.0" || m.Source != "custom" || m.Content.Description == "" {
			t.Fatalf("message %s", body)
		}
		if len(n.Subject) > MaxSubject || strings.ContainsAny(n.Subject, "\r\n") {
			t.Fatalf("subject %q", n.Subject)
		}
	})
}

// Whatever a commit's message, author and a failure's reason say, the Slack and Teams bodies
// are valid, keep to their limits, and link only where Notify links: a user's text never
// becomes a Slack link or mention, nor a Teams link.
func FuzzWebhookBodiesOfUserText(f *testing.F) {
	for _, s := range [][3]string{
		{"Fix the <login> page & its tests", "Jane Doe", "exit status 2"},
		{"<!channel> [x](https://evil.example) *Approve:* `code`", "Mallory <m@evil.example>", "<https://evil|log>"},
		{"\\[escaped\\] ~strike~ _em_", "a\\", strings.Repeat("é<&>", 900)},
		{"", "", ""},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, message, author, reason string) {
		rec := record(failedAt(1, 1, reason))
		rec.State.Vars["source"]["commit_message"], rec.State.Vars["source"]["author"] = message, author
		n, ok := Notify(change(t, "stepline Pipeline Execution State Change", "FAILED", "", "", reason), RunOf(rec), Links{ExecutionARN: executionARN})
		if !ok {
			t.Fatal("no notification")
		}
		slack, err := Webhook(TargetSlack, n)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range checkSlack(t, slack).Blocks {
			if b.Text != nil && strings.Contains(b.Text.Text, "<!") {
				t.Errorf("a mention in %q", b.Text.Text)
			}
		}
		teams, err := Webhook(TargetTeams, n)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range teamsLinks(checkTeams(t, teams)) {
			if !strings.HasPrefix(l, "https://eu-west-1.console.aws.amazon.com/") {
				t.Errorf("a Teams link to %s", l)
			}
		}
	})
}
