package notify

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// Message is an AWS Chatbot (Amazon Q Developer in chat applications) custom notification,
// the JSON an SNS message carries for Chatbot to render it in Slack, Microsoft Teams or
// Amazon Chime without a function of the user's. The fields and their rules are those of
// "Custom notifications using Amazon Q Developer in chat applications"
// (https://docs.aws.amazon.com/chatbot/latest/adminguide/custom-notifs.html): version "1.0"
// and source "custom" are required; content.textType is "client-markdown", the only type
// supported, rendered in the chat platform's own markdown.
type Message struct {
	Version  string    `json:"version"`
	Source   string    `json:"source"`
	ID       string    `json:"id,omitempty"`
	Content  Content   `json:"content"`
	Metadata *Metadata `json:"metadata,omitempty"`
}

// Content is what the chat channel shows.
type Content struct {
	TextType    string   `json:"textType"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	NextSteps   []string `json:"nextSteps,omitempty"`
	Keywords    []string `json:"keywords,omitempty"`
}

// Metadata threads and describes a notification: notifications with the same ThreadID are
// grouped in one chat thread (every notification of a run shares one).
type Metadata struct {
	ThreadID          string            `json:"threadId,omitempty"`
	Summary           string            `json:"summary,omitempty"`
	EventType         string            `json:"eventType,omitempty"`
	RelatedResources  []string          `json:"relatedResources,omitempty"`
	AdditionalContext map[string]string `json:"additionalContext,omitempty"`
}

// Notification is what a change tells people: the Chatbot message, published as the SNS
// message, and the subject email subscribers see.
type Notification struct {
	Kind    Kind
	Subject string
	Message Message
}

// MaxSubject bounds an SNS subject: "less than 100 characters", with no line breaks or
// control characters (SNS Publish, Subject:
// https://docs.aws.amazon.com/sns/latest/api/API_Publish.html). Subjects are kept to
// printable ASCII, which every mail client shows.
const MaxSubject = 99

// Notify returns the notification of a change of run, and false for a change nobody is
// told about. links gives the run's link and a failed build's log link.
func Notify(c Change, run Run, links Links) (Notification, bool) {
	kind, ok := c.Kind()
	if !ok {
		return Notification{}, false
	}
	n := note{c: c, run: run, link: links.Run(run.ID)}
	d := c.State
	where := d.Stage
	if d.Action != "" {
		where += "/" + d.Action
	}
	switch kind {
	case PipelineStarted:
		n.head(":arrow_forward:", run.Title()+" started")
		n.source()
	case PipelineSucceeded:
		n.head(":white_check_mark:", run.Title()+" succeeded")
		n.source()
		n.took()
	case PipelineFailed:
		n.head(":x:", run.Title()+" failed"+failedWhere(run))
		n.failure(failedAction(run, d.Message), links)
		n.source()
		n.took()
	case PipelineSuperseded:
		n.head(":fast_forward:", run.Title()+" was superseded")
		n.line("Why", sentence(d.Message, "A newer run took its place"))
		n.source()
	case PipelineCanceled:
		n.head(":no_entry_sign:", run.Title()+" was canceled")
		n.line("Why", sentence(d.Message, "Canceled"))
		n.source()
	case StageFailed:
		n.head(":x:", run.Title()+": stage "+d.Stage+" failed")
		n.failure(failedAction(run, d.Message), links)
		n.source()
	case ActionFailed:
		n.head(":warning:", run.Title()+": "+where+" failed (attempt "+strconv.Itoa(d.Attempt)+")")
		n.failure(&Failure{Stage: d.Stage, Action: d.Action, Attempt: d.Attempt, Message: d.Message,
			External: run.Refs[where]}, links)
		n.source()
	case Rollback:
		n.head(":leftwards_arrow_with_hook:", run.Title()+" is rolling back stage "+d.Stage)
		n.line("Why", sentence(d.Message, "An action failed"))
		n.source()
	case ApprovalNeeded:
		a := c.Approval
		n.head(":raised_hand:", run.Title()+" waits for approval: "+a.Stage+"/"+a.Action)
		if a.Message != "" {
			n.line("Asks", a.Message)
		}
		if a.URL != "" {
			n.text("*Review:* " + mdLink(a.URL, a.URL))
		}
		// A local run asks in its terminal and has no links; an empty <|Approve> would be a
		// broken link.
		if a.Approve != "" && a.Reject != "" {
			n.text(mdLink(a.Approve, "Approve") + " · " + mdLink(a.Reject, "Reject") + " (each link opens a page that asks to confirm)")
		}
		if a.Expires != "" {
			n.line("Expires", a.Expires)
		}
		if a.Approve != "" && a.Reject != "" {
			n.next("Approve: " + a.Approve)
			n.next("Reject: " + a.Reject)
		}
		n.source()
	}
	if n.link != "" {
		n.text(mdLink(n.link, "Open the run"))
		n.next("Open the run: " + n.link)
	}
	msg := Message{Version: "1.0", Source: "custom", Content: Content{TextType: "client-markdown",
		Title: n.title, Description: strings.Join(n.lines, "\n"), NextSteps: n.steps, Keywords: keywords(run, kind)},
		Metadata: &Metadata{ThreadID: run.ID, Summary: n.plain, EventType: string(kind),
			AdditionalContext: additional(run, c)}}
	if links.ExecutionARN != "" {
		msg.Metadata.RelatedResources = []string{links.ExecutionARN}
	}
	return Notification{Kind: kind, Subject: Subject("stepline: " + n.plain), Message: msg}, true
}

// note collects a message's parts.
type note struct {
	c            Change
	run          Run
	link         string
	title, plain string
	lines, steps []string
}

func (n *note) head(emoji, plain string) {
	n.plain = plain
	n.title = emoji + " " + escape(plain)
}

// line adds "*Label:* text", the text escaped.
func (n *note) line(label, text string) { n.text("*" + label + ":* " + escape(oneLine(text))) }

// text adds a line of markdown as it is.
func (n *note) text(md string) { n.lines = append(n.lines, md) }

func (n *note) next(step string) { n.steps = append(n.steps, step) }

// source says what the run builds: the commit, its author and branch.
func (n *note) source() {
	r := n.run
	if r.Commit != "" {
		s := "`" + escape(r.ShortCommit()) + "`"
		if first, _, _ := strings.Cut(r.Message, "\n"); strings.TrimSpace(first) != "" {
			s += " " + escape(oneLine(first))
		}
		if r.Author != "" {
			s += " — " + escape(r.Author)
		}
		n.text("*Commit:* " + s)
	}
	if r.Branch != "" || r.Repository != "" {
		n.line("Branch", strings.TrimSpace(r.Branch+" of "+r.Repository))
	}
}

func (n *note) took() {
	if d := duration(n.run.Started, n.c.Time); d > 0 {
		n.line("Duration", d.String())
	}
}

// failure says which action failed, why, and links its build log.
func (n *note) failure(f *Failure, links Links) {
	if f == nil {
		return
	}
	where := f.Stage
	if f.Action != "" {
		where += "/" + f.Action
	}
	if f.Attempt > 1 {
		where += " (attempt " + strconv.Itoa(f.Attempt) + ")"
	}
	n.line("Failed", where)
	if f.Message != "" {
		n.line("Reason", f.Message)
	}
	if log := links.Build(f.External); log != "" {
		n.text(mdLink(log, "Build log"))
		n.next("Read the build log: " + log)
	}
}

// failedWhere is " in Stage/Action" of a failed run, or "".
func failedWhere(run Run) string {
	f := run.Failure
	if f == nil {
		return ""
	}
	if f.Action == "" {
		return " in " + f.Stage
	}
	return " in " + f.Stage + "/" + f.Action
}

// failedAction is the run's failure, or one made of the event's message when the record
// names no failed action.
func failedAction(run Run, message string) *Failure {
	if run.Failure != nil {
		return run.Failure
	}
	if message == "" {
		return nil
	}
	return &Failure{Message: message}
}

func keywords(run Run, kind Kind) []string {
	out := []string{run.Pipeline}
	for _, k := range []string{run.Environment, run.Branch, string(kind)} {
		if k != "" {
			out = append(out, k)
		}
	}
	return out
}

func additional(run Run, c Change) map[string]string {
	m := map[string]string{"pipeline": run.Pipeline, "run": run.ID}
	for k, v := range map[string]string{"number": run.Number, "environment": run.Environment, "repository": run.Repository,
		"branch": run.Branch, "commit": run.Commit, "state": c.State.State, "stage": c.State.Stage, "action": c.State.Action} {
		if v != "" {
			m[k] = v
		}
	}
	return m
}

// escape makes text literal in Slack markdown: &, < and > are its control characters
// ("Escaping text": https://api.slack.com/reference/surfaces/formatting#escaping).
var escape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace

// mdLink is a Slack link, <url|text>; a URL with | or > in it would end it early, so those are
// percent-encoded.
func mdLink(u, text string) string {
	u = strings.NewReplacer("|", "%7C", ">", "%3E", "<", "%3C", " ", "%20").Replace(u)
	return "<" + u + "|" + escape(text) + ">"
}

// Subject makes s an SNS subject that works for email: printable ASCII (other characters
// become '?', line breaks and runs of spaces one space), starting with a letter, digit or
// punctuation, and at most MaxSubject characters (cut with "...").
func Subject(s string) string {
	var b strings.Builder
	for _, r := range oneLine(s) {
		if r >= 0x20 && r < 0x7f {
			b.WriteRune(r)
		} else {
			b.WriteByte('?')
		}
	}
	out := strings.TrimLeft(b.String(), " ")
	if len(out) > MaxSubject {
		out = strings.TrimRight(out[:MaxSubject-3], " ") + "..."
	}
	if out == "" {
		return "stepline"
	}
	return out
}

// JSON is the SNS message: the Message as JSON, with <, > and & as they are (Slack links
// and escapes read better that way; JSON allows either).
func (m Message) JSON() ([]byte, error) { return marshal(m) }

// marshal is v as JSON on one line, with <, > and & as they are.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}
