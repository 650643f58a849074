package notify

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stepline/stepline/pkg/changes"
	"github.com/stepline/stepline/pkg/scm/scmtest"
	"github.com/stepline/stepline/pkg/store"
)

// Every kind of notification as a Slack and a Teams webhook body: each matches its golden file
// and keeps to the limits and shapes of its platform.
func TestEachKindOfNotificationAsSlackAndTeamsWebhooksMatchesItsGoldenFile(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{TargetSlack, TargetTeams} {
		keep := map[string]bool{}
		for _, tc := range samples(t) {
			keep[tc.file+".json"] = true
			t.Run(kind+"/"+tc.file, func(t *testing.T) {
				t.Parallel()
				body, err := Webhook(kind, tc.notification(t))
				if err != nil {
					t.Fatal(err)
				}
				var v any
				if err := json.Unmarshal(body, &v); err != nil {
					t.Fatal(err)
				}
				if kind == TargetSlack {
					checkSlack(t, body)
				} else {
					checkTeams(t, body)
				}
				scmtest.Golden(t, filepath.Join("testdata", "webhooks", kind, tc.file+".json"), v, *update)
			})
		}
		scmtest.NoLeftovers(t, filepath.Join("testdata", "webhooks", kind), keep, *update)
	}
}

// checkSlack checks a Slack body: a fallback text, sections of mrkdwn within the section
// limit, and every < opening a link that is closed.
func checkSlack(t *testing.T, body []byte) SlackMessage {
	t.Helper()
	var m SlackMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	if m.Text == "" || len(m.Blocks) == 0 || m.UnfurlLinks {
		t.Errorf("text %q, %d blocks, unfurl %v", m.Text, len(m.Blocks), m.UnfurlLinks)
	}
	for _, b := range m.Blocks {
		texts := b.Elements
		switch b.Type {
		case "section":
			texts = []SlackText{*b.Text}
		case "context":
		default:
			t.Errorf("block type %q", b.Type)
		}
		for _, x := range texts {
			if x.Type != "mrkdwn" || utf8.RuneCountInString(x.Text) > MaxSlackText {
				t.Errorf("%s text of type %q, %d characters", b.Type, x.Type, utf8.RuneCountInString(x.Text))
			}
			if open := strings.Count(x.Text, "<"); open != strings.Count(x.Text, ">") || !regexp.MustCompile(`^([^<>]*<[^<>]*>)*[^<>]*$`).MatchString(x.Text) {
				t.Errorf("unbalanced link in %q", x.Text)
			}
		}
	}
	return m
}

// checkTeams checks a Teams body: one Adaptive Card attachment whose elements are text blocks
// and fact sets and whose buttons open https links.
func checkTeams(t *testing.T, body []byte) AdaptiveCard {
	t.Helper()
	var m TeamsMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	if m.Type != "message" || len(m.Attachments) != 1 || m.Attachments[0].ContentType != "application/vnd.microsoft.card.adaptive" {
		t.Fatalf("not one Adaptive Card message: %s", body)
	}
	c := m.Attachments[0].Content
	if c.Type != "AdaptiveCard" || c.Version != "1.4" || len(c.Body) == 0 {
		t.Errorf("card %s %s with %d elements", c.Type, c.Version, len(c.Body))
	}
	for _, e := range c.Body {
		if (e.Type == "TextBlock") == (e.Text == "") || (e.Type == "FactSet") == (len(e.Facts) == 0) {
			t.Errorf("element %+v", e)
		}
		if strings.Contains(e.Text, ":x:") || strings.Contains(e.Text, "*Commit:*") {
			t.Errorf("Slack markdown left in %q", e.Text)
		}
	}
	for _, a := range c.Actions {
		if a.Type != "Action.OpenUrl" || a.Title == "" || !strings.HasPrefix(a.URL, "https://") {
			t.Errorf("action %+v", a)
		}
	}
	return c
}

// A commit message and author written to abuse the channel: a mention, a link with other
// text, Markdown that would make a link or a bold label in Teams.
func TestUserTextCannotForgeLinksOrMentionsInWebhooks(t *testing.T) {
	t.Parallel()
	rec := record(func(r *store.Record) {
		r.State.Vars["source"]["commit_message"] = "<!channel> @channel see <https://evil.example|the fix> or [the fix](https://evil.example) *Approve:* & more"
		r.State.Vars["source"]["author"] = "Mallory <m@evil.example>"
	})
	n, _ := Notify(change(t, changes.DetailPipeline, "STARTED", "", "", ""), RunOf(rec), Links{ExecutionARN: executionARN})
	slack, err := Webhook(TargetSlack, n)
	if err != nil {
		t.Fatal(err)
	}
	m := checkSlack(t, slack)
	for _, b := range m.Blocks {
		if b.Text != nil && (strings.Contains(b.Text.Text, "<!channel>") || strings.Contains(b.Text.Text, "<https://evil")) {
			t.Errorf("Slack block keeps a mention or a forged link: %s", b.Text.Text)
		}
	}
	teams, err := Webhook(TargetTeams, n)
	if err != nil {
		t.Fatal(err)
	}
	c := checkTeams(t, teams)
	var all []string
	for _, e := range c.Body {
		all = append(all, e.Text)
		for _, f := range e.Facts {
			all = append(all, f.Value)
		}
	}
	text := strings.Join(all, "\n")
	// An unescaped [ or ] around the attacker's text would be a link; every link left must be
	// the run's own.
	for _, l := range regexp.MustCompile(`(^|[^\\])\[([^\]]*[^\\])\]\(([^)]*)\)`).FindAllStringSubmatch(text, -1) {
		if !strings.HasPrefix(l[3], "https://eu-west-1.console.aws.amazon.com/") {
			t.Errorf("Teams text links %q to %s", l[2], l[3])
		}
	}
	for _, want := range []string{`\[the fix\](https://evil.example)`, `\*Approve:\*`, "<!channel>", "Mallory <m@evil.example>"} {
		if !strings.Contains(text, want) {
			t.Errorf("Teams text lacks the literal %q:\n%s", want, text)
		}
	}
}

func TestALongReasonIsCutAtALineOrBeforeALink(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in string
		max      int
		want     string
	}{
		{"a short text is kept", "*Failed:* Build\n<https://x|log>", 100, "*Failed:* Build\n<https://x|log>"},
		{"whole lines are kept while they fit", "aaaa\nbbbb\ncccc", 12, "aaaa\nbbbb\n…"},
		{"a first line too long is cut before the link it would split", "see <https://example.com/log|the log>", 20, "see \n…"},
		{"a first line too long is cut before the entity it would split", "a &amp; b &lt; c", 10, "a &amp; \n…"},
		{"characters count, not bytes", strings.Repeat("é", 10), 9, "ééééééé\n…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := clipMarkdown(tc.in, tc.max)
			if got != tc.want || utf8.RuneCountInString(got) > tc.max {
				t.Errorf("clipMarkdown(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
			}
		})
	}
	long := record(failedAt(1, 1, strings.Repeat("error: a long line of compiler output <here> & there ", 100)))
	n, _ := Notify(change(t, changes.DetailPipeline, "FAILED", "", "", ""), RunOf(long), Links{ExecutionARN: executionARN})
	body, _ := Webhook(TargetSlack, n)
	checkSlack(t, body)
	body, _ = Webhook(TargetTeams, n)
	checkTeams(t, body)
}

func TestAWebhookOfAnotherKindIsRefused(t *testing.T) {
	t.Parallel()
	if _, err := Webhook(TargetTopic, Notification{}); err == nil {
		t.Error("a topic has no webhook body")
	}
}
