package notify

import (
	"flag"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stepline/stepline/pkg/changes"
	"github.com/stepline/stepline/pkg/scm/scmtest"
	"github.com/stepline/stepline/pkg/store"
)

var update = flag.Bool("update", false, "rewrite testdata/messages from Notify's output")

// golden is what a golden file holds: the SNS subject and message of one notification.
type golden struct {
	Kind    Kind    `json:"kind"`
	Subject string  `json:"subject"`
	Message Message `json:"message"`
}

// Every kind of notification, as Chatbot would receive it: each matches its golden file and
// validates against the documented custom notification schema.
func TestEachKindOfNotificationMatchesItsGoldenFileAndTheChatbotSchema(t *testing.T) {
	t.Parallel()
	s := loadSchema(t)
	for _, tc := range samples(t) {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			n := tc.notification(t)
			body, err := n.Message.JSON()
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range validateMessage(t, s, body) {
				t.Error(e)
			}
			checkSubject(t, n.Subject)
			scmtest.Golden(t, filepath.Join("testdata", "messages", tc.file+".json"), golden{n.Kind, n.Subject, n.Message}, *update)
		})
	}
}

func checkSubject(t *testing.T, s string) {
	t.Helper()
	if s == "" || len(s) > MaxSubject || !utf8.ValidString(s) {
		t.Errorf("subject %q: empty or over %d characters", s, MaxSubject)
	}
	for _, r := range s {
		if r < 0x20 || r >= 0x7f {
			t.Errorf("subject %q has %q: SNS subjects are printable text without line breaks", s, r)
		}
	}
}

func TestTheApprovalNotificationCarriesItsApproveAndRejectLinks(t *testing.T) {
	t.Parallel()
	c := approvalChange(t)
	n, _ := Notify(c, RunOf(record(nil)), Links{})
	for _, u := range []string{c.Approval.Approve, c.Approval.Reject} {
		if !strings.Contains(n.Message.Content.Description, u) || !strings.Contains(strings.Join(n.Message.Content.NextSteps, "\n"), u) {
			t.Errorf("the message lacks %s", u)
		}
	}
}

func TestUserTextCannotForgeSlackLinksOrMentions(t *testing.T) {
	t.Parallel()
	rec := record(func(r *store.Record) {
		r.State.Vars["source"]["commit_message"] = "<!channel> see <https://evil.example|the fix> & more\nsecond line"
		r.State.Vars["source"]["author"] = "Mallory <m@evil.example>"
	})
	n, _ := Notify(change(t, changes.DetailPipeline, "STARTED", "", "", ""), RunOf(rec), Links{})
	d := n.Message.Content.Description
	for _, bad := range []string{"<!channel>", "<https://evil", "second line", "<m@"} {
		if strings.Contains(d, bad) {
			t.Errorf("the description keeps %q: %s", bad, d)
		}
	}
	if !strings.Contains(d, "&lt;!channel&gt;") {
		t.Errorf("the text was not escaped: %s", d)
	}
}

func TestChangesNobodyIsToldAbout(t *testing.T) {
	t.Parallel()
	for _, c := range []Change{
		change(t, changes.DetailStage, "STARTED", "Build", "", ""),
		change(t, changes.DetailStage, "SUCCEEDED", "Build", "", ""),
		change(t, changes.DetailStage, "WAITING", "Deploy", "", "waiting for the stage lock"),
		change(t, changes.DetailAction, "STARTED", "Build", "Test", ""),
		change(t, changes.DetailAction, "SUCCEEDED", "Build", "Test", ""),
	} {
		if n, ok := Notify(c, RunOf(record(nil)), Links{}); ok {
			t.Errorf("%s %s: %+v", c.DetailType, c.State.State, n)
		}
	}
}

func TestSubjectsWorkForEmail(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"stepline: api #42 (prod) failed in Build/Test",
		"stepline: déploiement (prød) failed\nsecond line\ttab",
		strings.Repeat("long pipeline name ", 20),
		"   ",
		"\x00\x01",
	} {
		got := Subject(in)
		checkSubject(t, got)
		if strings.HasPrefix(got, " ") {
			t.Errorf("Subject(%q) = %q starts with a space", in, got)
		}
	}
	if got := Subject("stepline: api #42 failed"); got != "stepline: api #42 failed" {
		t.Errorf("a plain subject changed: %q", got)
	}
}

// sample is one notification of every kind's golden files: a change of a run, with links.
type sample struct {
	file   string
	change Change
	run    store.Record
	links  Links
}

func (s sample) notification(t *testing.T) Notification {
	t.Helper()
	n, ok := Notify(s.change, RunOf(s.run), s.links)
	if !ok {
		t.Fatalf("%s: no notification", s.file)
	}
	return n
}

// samples lists a notification of each kind, as the golden files show them.
func samples(t *testing.T) []sample {
	t.Helper()
	links := Links{ExecutionARN: executionARN}
	failed := record(failedAt(1, 2, "COMMAND_EXECUTION_ERROR: Error while executing command: make test. Reason: exit status 2"))
	rolledBack := record(func(r *store.Record) {
		failedAt(2, 1, "stack api-prod: UPDATE_ROLLBACK_COMPLETE")(r)
		r.State.Stages[2].RollingBack = false
	})
	return []sample{
		{"pipeline-started", change(t, changes.DetailPipeline, "STARTED", "", "", ""), record(nil), links},
		{"pipeline-succeeded", change(t, changes.DetailPipeline, "SUCCEEDED", "", "", ""), record(nil), Links{Dashboard: "https://ci.example.com", ExecutionARN: executionARN}},
		{"pipeline-failed", change(t, changes.DetailPipeline, "FAILED", "", "", "action Test failed: exit status 2"), failed, links},
		{"pipeline-failed-locally", change(t, changes.DetailPipeline, "FAILED", "", "", "action Test failed: exit status 2"), failed, Links{}},
		{"pipeline-superseded", change(t, changes.DetailPipeline, "SUPERSEDED", "", "", "superseded by run api-43"), record(nil), links},
		{"pipeline-canceled", change(t, changes.DetailPipeline, "CANCELED", "", "", "canceled by jane"), record(nil), links},
		{"stage-failed", change(t, changes.DetailStage, "FAILED", "Build", "", "action Test failed: exit status 2"), failed, links},
		{"action-failed", change(t, changes.DetailAction, "FAILED", "Build", "Test", "exit status 2"), failed, links},
		{"rollback", change(t, changes.DetailStage, "ROLLING_BACK", "Deploy", "", "action Stack failed: stack api-prod: UPDATE_ROLLBACK_COMPLETE"), rolledBack, links},
		{"approval-needed", approvalChange(t), record(nil), links},
	}
}
