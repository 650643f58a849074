package notify

import (
	"slices"

	"github.com/stepline/stepline/pkg/engine"
)

// The kinds of notification target (engine.NotificationTarget.Kind).
const (
	// TargetTopic is an SNS topic: the target's TopicARN, or the stack's own topic when empty.
	TargetTopic = "topic"
	// TargetSlack is a Slack incoming webhook whose URL is a Secrets Manager secret's value.
	TargetSlack = "slack"
	// TargetTeams is a Microsoft Teams incoming webhook (or Workflows webhook) whose URL is a
	// Secrets Manager secret's value.
	TargetTeams = "teams"
)

// TargetKinds lists the target kinds, in the order documentation names them.
func TargetKinds() []string { return []string{TargetTopic, TargetSlack, TargetTeams} }

// StackTopic is the default target: the stack's own SNS topic.
var StackTopic = engine.NotificationTarget{Kind: TargetTopic}

// Route returns the targets a change of this kind goes to under the pipeline's notifications
// rules, in the order the rules name them, each once: without rules, every kind goes to the
// stack's topic; with rules, only where a rule sends it (a rule without events takes every
// kind), so a file that names only a Slack webhook no longer sends to the stack's topic.
func Route(def engine.Definition, kind Kind) []engine.NotificationTarget {
	if len(def.Notifications) == 0 {
		return []engine.NotificationTarget{StackTopic}
	}
	var out []engine.NotificationTarget
	for _, n := range def.Notifications {
		if len(n.Events) > 0 && !slices.Contains(n.Events, string(kind)) {
			continue
		}
		if !slices.Contains(out, n.Target) {
			out = append(out, n.Target)
		}
	}
	return out
}
