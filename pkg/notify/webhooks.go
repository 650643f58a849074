package notify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Webhook renders a notification as the JSON body of an incoming webhook of the target kind
// (TargetSlack or TargetTeams).
func Webhook(kind string, n Notification) ([]byte, error) {
	var body any
	switch kind {
	case TargetSlack:
		body = Slack(n)
	case TargetTeams:
		body = Teams(n)
	default:
		return nil, fmt.Errorf("no webhook format for target %q", kind)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(body); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// SlackMessage is the body of a Slack incoming webhook: text, the notification's fallback
// (and what a client without blocks shows), and Block Kit blocks ("Sending messages using
// incoming webhooks": https://api.slack.com/messaging/webhooks).
type SlackMessage struct {
	Text        string       `json:"text"`
	Blocks      []SlackBlock `json:"blocks"`
	UnfurlLinks bool         `json:"unfurl_links"`
	UnfurlMedia bool         `json:"unfurl_media"`
}

// SlackBlock is a section block (Text) or a context block (Elements).
type SlackBlock struct {
	Type     string      `json:"type"`
	Text     *SlackText  `json:"text,omitempty"`
	Elements []SlackText `json:"elements,omitempty"`
}

// SlackText is a mrkdwn text object.
type SlackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// MaxSlackText bounds the text of a section block: "Maximum length for the text in this field
// is 3000 characters" (https://api.slack.com/reference/block-kit/blocks#section).
const MaxSlackText = 3000

// Slack renders n for a Slack incoming webhook. The Chatbot message is already Slack markdown
// with every user-written text escaped (escape), so a commit message can neither mention
// @channel nor forge a link; the blocks carry it as it is, the description cut to a section's
// limit at a line end.
func Slack(n Notification) SlackMessage {
	c := n.Message.Content
	m := SlackMessage{Text: c.Title, Blocks: []SlackBlock{
		{Type: "section", Text: &SlackText{Type: "mrkdwn", Text: clipMarkdown("*"+c.Title+"*", MaxSlackText)}},
	}}
	if c.Description != "" {
		m.Blocks = append(m.Blocks, SlackBlock{Type: "section", Text: &SlackText{Type: "mrkdwn", Text: clipMarkdown(c.Description, MaxSlackText)}})
	}
	if ctx := strings.Join(c.Keywords, " · "); ctx != "" {
		m.Blocks = append(m.Blocks, SlackBlock{Type: "context", Elements: []SlackText{{Type: "mrkdwn", Text: "stepline · " + escape(ctx)}}})
	}
	return m
}

// clipMarkdown cuts Slack markdown to at most max characters: whole lines while they fit,
// then "…". A single line too long is cut before any link or entity it would split, so the
// cut never leaves half a <url|text> or &amp; behind.
func clipMarkdown(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	const more = "\n…"
	budget := max - utf8.RuneCountInString(more)
	var kept []string
	used := 0
	for _, line := range strings.Split(s, "\n") {
		n := utf8.RuneCountInString(line)
		if used+n > budget {
			if len(kept) == 0 {
				kept = append(kept, cutLine(line, budget))
			}
			break
		}
		kept = append(kept, line)
		used += n + 1
	}
	return strings.Join(kept, "\n") + more
}

// cutLine keeps the first n characters of line, less any link or entity left open.
func cutLine(line string, n int) string {
	r := []rune(line)
	if len(r) > n {
		r = r[:n]
	}
	out := string(r)
	if i := strings.LastIndexByte(out, '<'); i > strings.LastIndexByte(out, '>') {
		out = out[:i]
	}
	if i := strings.LastIndexByte(out, '&'); i > strings.LastIndexByte(out, ';') {
		out = out[:i]
	}
	return out
}

// TeamsMessage is the body a Microsoft Teams incoming webhook (a Workflows "When a Teams
// webhook request is received" flow, or a channel's Incoming Webhook) takes: a message with
// one Adaptive Card attachment ("Send Adaptive Cards using an Incoming Webhook":
// https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using#send-adaptive-cards-using-an-incoming-webhook).
type TeamsMessage struct {
	Type        string            `json:"type"`
	Attachments []TeamsAttachment `json:"attachments"`
}

// TeamsAttachment holds the card.
type TeamsAttachment struct {
	ContentType string       `json:"contentType"`
	ContentURL  *string      `json:"contentUrl"`
	Content     AdaptiveCard `json:"content"`
}

// AdaptiveCard is the card: a title, the description's lines (labelled lines as a fact set)
// and a button per next step.
type AdaptiveCard struct {
	Schema  string         `json:"$schema"`
	Type    string         `json:"type"`
	Version string         `json:"version"`
	Body    []CardElement  `json:"body"`
	Actions []CardOpenURL  `json:"actions,omitempty"`
	MSTeams map[string]any `json:"msteams,omitempty"`
}

// CardElement is a TextBlock (Text) or a FactSet (Facts).
type CardElement struct {
	Type   string `json:"type"`
	Text   string `json:"text,omitempty"`
	Weight string `json:"weight,omitempty"`
	Size   string `json:"size,omitempty"`
	Wrap   bool   `json:"wrap,omitempty"`
	Facts  []Fact `json:"facts,omitempty"`
}

// Fact is one title and value of a FactSet.
type Fact struct {
	Title string `json:"title"`
	Value string `json:"value"`
}

// CardOpenURL is an Action.OpenUrl button.
type CardOpenURL struct {
	Type  string `json:"type"`
	Title string `json:"title"`
	URL   string `json:"url"`
}

// Teams renders n as an Adaptive Card. Teams reads a subset of Markdown in TextBlock text and
// fact values (bold **x**, italic _x_, [text](url) links; no HTML, and a mention needs an
// entity the card does not have: "Format cards in Teams",
// https://learn.microsoft.com/en-us/microsoftteams/platform/task-modules-and-cards/cards/cards-format),
// so the Chatbot message's Slack markdown is translated: its own links and labels become
// Teams', and every other character of text that may be user-written is Markdown-escaped, so
// a commit message cannot forge a link or a bold label.
func Teams(n Notification) TeamsMessage {
	c := n.Message.Content
	card := AdaptiveCard{Schema: "http://adaptivecards.io/schemas/adaptive-card.json", Type: "AdaptiveCard", Version: "1.4",
		Body:    []CardElement{{Type: "TextBlock", Text: teamsText(emojiText(c.Title)), Weight: "Bolder", Size: "Medium", Wrap: true}},
		MSTeams: map[string]any{"width": "Full"}}
	buttons := map[string]bool{}
	for _, step := range c.NextSteps {
		title, u, ok := strings.Cut(step, ": ")
		if ok && (strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://")) {
			card.Actions = append(card.Actions, CardOpenURL{Type: "Action.OpenUrl", Title: title, URL: u})
			buttons[u] = true
		}
	}
	var facts []Fact
	flush := func() {
		if len(facts) > 0 {
			card.Body = append(card.Body, CardElement{Type: "FactSet", Facts: facts})
			facts = nil
		}
	}
	for _, line := range strings.Split(clipMarkdown(c.Description, MaxSlackText), "\n") {
		if m := labelRE.FindStringSubmatch(line); m != nil {
			// The short commit id is Notify's code span; a hex id needs no code font to read.
			value := commitSpanRE.ReplaceAllString(m[2], "$1")
			facts = append(facts, Fact{Title: m[1], Value: teamsText(value)})
			continue
		}
		flush()
		// A line that is only a link a button opens (the run, the build log) is the button.
		if m := linkLineRE.FindStringSubmatch(line); m != nil && buttons[m[1]] {
			continue
		}
		if strings.TrimSpace(line) != "" {
			card.Body = append(card.Body, CardElement{Type: "TextBlock", Text: teamsText(line), Wrap: true})
		}
	}
	flush()
	return TeamsMessage{Type: "message", Attachments: []TeamsAttachment{{
		ContentType: "application/vnd.microsoft.card.adaptive", Content: card}}}
}

// labelRE is a labelled line of a Chatbot description, "*Label:* text": the labels are
// Notify's own, always at the start of a line.
var labelRE = regexp.MustCompile(`^\*([A-Z][A-Za-z ]*):\* (.*)$`)

// linkLineRE is a line of one Slack link, <url|text>.
var linkLineRE = regexp.MustCompile(`^<([^|<>]+)\|[^<>]*>$`)

// commitSpanRE is the code span of a short commit id that starts Notify's Commit line.
var commitSpanRE = regexp.MustCompile("^`([0-9a-f]{7,40})`")

// teamsText translates one line of Notify's Slack markdown into Teams Markdown. The line's
// only '<' are its links, <url|text>, since escape turned every user-written '<' into &lt;;
// the rest is text whose entities are decoded and whose Markdown characters are escaped.
func teamsText(s string) string {
	var b strings.Builder
	for s != "" {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			b.WriteString(teamsEscape(unescape(s)))
			break
		}
		b.WriteString(teamsEscape(unescape(s[:i])))
		j := strings.IndexByte(s[i:], '>')
		if j < 0 {
			b.WriteString(teamsEscape(unescape(s[i:])))
			break
		}
		u, text, _ := strings.Cut(s[i+1:i+j], "|")
		if text == "" {
			text = u
		}
		b.WriteString("[" + teamsEscape(unescape(text)) + "](" + strings.NewReplacer("(", "%28", ")", "%29").Replace(u) + ")")
		s = s[i+j+1:]
	}
	return b.String()
}

// unescape undoes escape.
var unescape = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&").Replace

// teamsEscape makes text literal in Teams Markdown with CommonMark's backslash escapes
// ("Backslash escapes": https://spec.commonmark.org/0.31.2/#backslash-escapes) of the
// characters that open emphasis, code, strikethrough or a link.
var teamsEscape = strings.NewReplacer(`\`, `\\`, "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`, "`", "\\`", "~", `\~`).Replace

// emojiText replaces the Slack emoji names Notify puts in titles with the characters, which
// Teams shows (it does not read :names:).
var emojiText = strings.NewReplacer(":arrow_forward:", "▶️", ":white_check_mark:", "✅", ":x:", "❌",
	":fast_forward:", "⏩", ":no_entry_sign:", "🚫", ":warning:", "⚠️", ":leftwards_arrow_with_hook:", "↩️",
	":raised_hand:", "✋").Replace
