package notify

import (
	"reflect"
	"testing"

	"github.com/stepline/stepline/pkg/engine"
)

func TestRouteSendsEachKindWhereTheRulesSay(t *testing.T) {
	t.Parallel()
	slack := engine.NotificationTarget{Kind: TargetSlack, SecretID: "stepline/slack-webhook"}
	teams := engine.NotificationTarget{Kind: TargetTeams, SecretID: "stepline/teams"}
	deploys := engine.NotificationTarget{Kind: TargetTopic, TopicARN: "arn:aws:sns:eu-west-1:123456789012:deploys"}
	rules := []engine.Notification{
		{Events: []string{"pipeline-failed", "approval-needed"}, Target: slack},
		{Events: []string{"pipeline-succeeded"}, Target: deploys},
		{Target: teams},
	}
	for _, tc := range []struct {
		name  string
		rules []engine.Notification
		kind  Kind
		want  []engine.NotificationTarget
	}{
		{"without rules every kind goes to the stack's topic", nil, StageFailed,
			[]engine.NotificationTarget{StackTopic}},
		{"without rules a started pipeline goes to the stack's topic too", nil, PipelineStarted,
			[]engine.NotificationTarget{StackTopic}},
		{"a kind two rules name goes to both, in the rules' order", rules, PipelineFailed,
			[]engine.NotificationTarget{slack, teams}},
		{"a rule without events takes every kind", rules, Rollback,
			[]engine.NotificationTarget{teams}},
		{"a kind one rule names goes to its topic", rules, PipelineSucceeded,
			[]engine.NotificationTarget{deploys, teams}},
		{"a kind no rule names goes nowhere, not to the stack's topic",
			rules[:2], PipelineStarted, nil},
		{"a target two rules name is sent to once",
			[]engine.Notification{{Events: []string{"pipeline-failed"}, Target: slack}, {Target: slack}},
			PipelineFailed, []engine.NotificationTarget{slack}},
		{"the stack's topic can be named next to other targets",
			[]engine.Notification{{Target: StackTopic}, {Events: []string{"approval-needed"}, Target: slack}},
			ApprovalNeeded, []engine.NotificationTarget{StackTopic, slack}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Route(engine.Definition{Pipeline: "api", Notifications: tc.rules}, tc.kind)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Route(%s) = %+v\nwant %+v", tc.kind, got, tc.want)
			}
		})
	}
}
