package pipeline

import (
	"regexp"
	"strings"

	"github.com/stepline/stepline/pkg/diag"

	"gopkg.in/yaml.v3"
)

// NotificationEvents are the changes a notifications rule can choose, in the order the
// documentation names them: the names of notify.Kind (a test keeps the two lists equal).
var NotificationEvents = []string{"pipeline-started", "pipeline-succeeded", "pipeline-failed", "pipeline-superseded",
	"pipeline-canceled", "stage-failed", "action-failed", "approval-needed", "rollback"}

// Notification target keys: where a rule sends its changes.
const (
	// TargetTopic sends to an SNS topic: an ARN, or StackTopic for the stack's own topic.
	TargetTopic = "topic"
	// TargetSlack and TargetTeams send to an incoming webhook whose URL is kept in Secrets
	// Manager: {secret: NAME}.
	TargetSlack = "slack"
	TargetTeams = "teams"
	// StackTopic, as a topic, names the stack's own topic, where every change goes when a
	// pipeline has no notifications block.
	StackTopic = "stack"
)

// Notification is one rule of a pipeline's notifications block: the changes it chooses
// (every one when Events is empty) and where they go.
type Notification struct {
	Pos Pos
	// Events are the NotificationEvents chosen; empty means every change.
	Events []String
	// Targets are where the changes go, in file order; at least one.
	Targets []Target
}

// Target is one destination of a notifications rule.
type Target struct {
	// Kind is TargetTopic, TargetSlack or TargetTeams, positioned at its key.
	Kind String
	// Topic is the SNS topic ARN of a topic target; "" for the stack's topic.
	Topic String
	// Secret names the Secrets Manager secret (name or ARN) holding a webhook's URL.
	Secret String
}

var (
	// TargetKinds are the target keys of a notifications rule.
	TargetKinds      = []string{TargetTopic, TargetSlack, TargetTeams}
	notificationKeys = append([]string{"events"}, TargetKinds...)
	webhookKeys      = []string{"secret"}

	// topicARNRE is an SNS topic ARN of a standard topic: topic names are 1 to 256 letters,
	// digits, hyphens and underscores (CreateTopic, Name:
	// https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html).
	topicARNRE = regexp.MustCompile(`^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$`)
	// secretNameRE is a Secrets Manager secret name: 1 to 512 ASCII letters, digits and
	// /_+=.@- (CreateSecret, Name:
	// https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html).
	secretNameRE = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]{1,512}$`)
	// secretARNRE is a secret's ARN, whose last part is the name and six random characters.
	secretARNRE = regexp.MustCompile(`^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}$`)
)

// decodeNotifications reads a pipeline's notifications block.
func (d *decoder) decodeNotifications(n *yaml.Node) []*Notification {
	n = d.resolve(n)
	items, _ := d.sequence(n, "notifications")
	if n != nil && n.Kind == yaml.SequenceNode && len(items) == 0 {
		d.report(pos(n), RuleRequired, "notifications: the list is empty: leave notifications out to send every change to the stack's topic")
	}
	var out []*Notification
	for _, item := range items {
		if nt := d.decodeNotification(item); nt != nil {
			out = append(out, nt)
		}
	}
	return out
}

func (d *decoder) decodeNotification(n *yaml.Node) *Notification {
	n = d.resolve(n)
	if n == nil {
		return nil
	}
	if isNull(n) {
		d.report(d.src.itemPos(pos(n)), RuleType, "notification: expected a mapping, found null (an empty list item)")
		return nil
	}
	ps, ok := d.mapping(n, "notification")
	if !ok {
		return nil
	}
	nt := &Notification{Pos: pos(n)}
	// aimed is set by a key meant as a target (a target key, however badly written, a
	// misspelt one, a URL's key): that key's problem says what to fix, not a missing target.
	aimed := false
	for _, p := range ps {
		kind := String{Value: p.key.Value, Pos: pos(p.key)}
		switch p.key.Value {
		case "events":
			nt.Events = d.notificationEvents(p.val)
		case TargetTopic:
			aimed = true
			if t, ok := d.topic(kind, p.val); ok {
				nt.Targets = append(nt.Targets, t)
			}
		case TargetSlack, TargetTeams:
			aimed = true
			if t, ok := d.webhook(kind, p.val); ok {
				nt.Targets = append(nt.Targets, t)
			}
		default:
			_, misspelt := diag.Suggest(p.key.Value, TargetKinds)
			aimed = aimed || misspelt || isWebhookKey(p.key.Value)
			if isWebhookKey(p.key.Value) {
				d.report(pos(p.key), RuleSecret, "%s: a webhook URL does not belong in the pipeline file: write slack: {secret: NAME} or teams: {secret: NAME}, NAME being the Secrets Manager secret that holds the URL", clip(p.key.Value))
				continue
			}
			d.unknownKey(p.key, "notification", notificationKeys)
		}
	}
	if !aimed {
		d.report(pos(n), RuleRequired, "notification is missing a target: topic, slack or teams")
	}
	return nt
}

// notificationEvents reads a rule's events: known names, each once, the list not empty.
func (d *decoder) notificationEvents(n *yaml.Node) []String {
	if r := d.resolve(n); r != nil && r.Kind == yaml.SequenceNode && len(r.Content) == 0 {
		d.report(pos(r), RuleRequired, "events: the list is empty: leave events out for every change")
	}
	var out []String
	seen := map[string]Pos{}
	for _, e := range d.strList(n, "events") {
		if !d.oneOf(e, "events", NotificationEvents...) {
			continue
		}
		if at, dup := seen[e.Value]; dup {
			d.report(e.Pos, RuleDuplicate, "events: %q is listed twice %s", e.Value, firstSeen(at, e.Pos))
			continue
		}
		seen[e.Value] = e.Pos
		out = append(out, e)
	}
	return out
}

// topic reads topic: ARN, or topic: stack.
func (d *decoder) topic(kind String, n *yaml.Node) (Target, bool) {
	if d.refuseURL(kind.Value, n) {
		return Target{}, false
	}
	s, ok := d.strOK(n, TargetTopic)
	if !ok {
		if isNull(d.resolve(n)) {
			d.report(kind.Pos, RuleRequired, "topic: no value: write an SNS topic ARN, or %q for the stack's topic", StackTopic)
		}
		return Target{}, false
	}
	t := Target{Kind: kind}
	switch {
	case s.Value == StackTopic:
	case strings.HasSuffix(s.Value, ".fifo") && strings.HasPrefix(s.Value, "arn:"):
		// A FIFO topic takes only messages with a message group id (Publish, MessageGroupId:
		// https://docs.aws.amazon.com/sns/latest/api/API_Publish.html), which notifications
		// have no use for.
		d.report(s.Pos, RuleValue, "topic: %q is a FIFO topic: notifications are published to standard topics", clip(s.Value))
		return Target{}, false
	case !topicARNRE.MatchString(s.Value):
		d.report(s.Pos, RuleValue, "topic: %q is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME); write %q for the stack's topic", clip(s.Value), StackTopic)
		return Target{}, false
	default:
		t.Topic = s
	}
	return t, true
}

// webhook reads slack: {secret: NAME} or teams: {secret: NAME}.
func (d *decoder) webhook(kind String, n *yaml.Node) (Target, bool) {
	if d.refuseURL(kind.Value, n) {
		return Target{}, false
	}
	r := d.resolve(n)
	if isNull(r) {
		d.report(kind.Pos, RuleRequired, "%s: no value: write {secret: NAME}, NAME being the Secrets Manager secret that holds the webhook's URL", kind.Value)
		return Target{}, false
	}
	if r.Kind != yaml.MappingNode {
		d.report(pos(r), RuleType, "%s: expected {secret: NAME}, NAME being the Secrets Manager secret that holds the webhook's URL, found %s", kind.Value, kindName(r))
		return Target{}, false
	}
	ps, _ := d.mapping(r, kind.Value)
	t := Target{Kind: kind}
	urlKey := false
	for _, p := range ps {
		switch {
		case p.key.Value == "secret":
			if d.refuseURL(kind.Value+".secret", p.val) {
				continue
			}
			s, ok := d.strOK(p.val, kind.Value+".secret")
			if ok && !secretNameRE.MatchString(s.Value) && !secretARNRE.MatchString(s.Value) {
				d.report(s.Pos, RuleValue, "%s.secret: %q is not a Secrets Manager secret name or ARN: names use letters, digits and /_+=.@-, at most 512", kind.Value, clip(s.Value))
				continue
			}
			t.Secret = s
		case isWebhookKey(p.key.Value):
			urlKey = true
			d.report(pos(p.key), RuleSecret, "%s.%s: a webhook URL does not belong in the pipeline file: keep it in a Secrets Manager secret and write %s: {secret: NAME}", kind.Value, clip(p.key.Value), kind.Value)
		default:
			d.unknownKey(p.key, kind.Value, webhookKeys)
		}
	}
	if !urlKey {
		d.require(r, ps, kind.Value, "secret")
	}
	return t, t.Secret.Value != ""
}

// refuseURL reports a URL written as a value: a webhook's URL lets anyone who reads it post to
// the channel, and the repository's history keeps it, so the file names a secret instead. The
// message does not repeat the URL.
func (d *decoder) refuseURL(key string, n *yaml.Node) bool {
	r := d.resolve(n)
	if r == nil || r.Kind != yaml.ScalarNode || !looksLikeURL(r.Value) {
		return false
	}
	kind, _, _ := strings.Cut(key, ".")
	d.report(pos(r), RuleSecret, "%s: a URL is written in the pipeline file, where everyone who can read the repository (and its history) sees it: keep a webhook's URL in a Secrets Manager secret, write %s: {secret: NAME}, and regenerate this webhook", key, webhookTarget(kind))
	return true
}

func webhookTarget(kind string) string {
	if kind == TargetTeams {
		return TargetTeams
	}
	return TargetSlack
}

// looksLikeURL reports whether s is written as a URL: a scheme and "://", or a host path of
// the known webhook services.
func looksLikeURL(s string) bool {
	s = strings.ToLower(strings.TrimSpace(s))
	if i := strings.Index(s, "://"); i > 0 && !strings.ContainsAny(s[:i], "/ ") {
		return true
	}
	return strings.HasPrefix(s, "hooks.slack.com/") || strings.Contains(s, ".webhook.office.com/")
}

// isWebhookKey reports keys people write a webhook's URL under.
func isWebhookKey(k string) bool {
	switch strings.ToLower(k) {
	case "url", "webhook", "webhook_url", "webhookurl", "hook", "hook_url", "endpoint":
		return true
	}
	return false
}
