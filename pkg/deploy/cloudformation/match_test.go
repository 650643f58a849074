package cloudformation

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/deploy"
)

// The sample events in events/cloudformation follow the "CloudFormation Stack Status Change"
// event as documented, envelope and detail:
// https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/event-detail-stack-status-change.html
const sampleStack = "arn:aws:cloudformation:us-east-1:111122223333:stack/api-prod/5b3c9d70-d3f1-11f0-8e2a-0a1b2c3d4e5f"

func sample(t *testing.T, name string) events.CloudWatchEvent {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("../../../events/cloudformation", name))
	require.NoError(t, err)
	var ev events.CloudWatchEvent
	require.NoError(t, json.Unmarshal(raw, &ev))
	return ev
}

func TestTheSampleEventsRoundTrip(t *testing.T) {
	files, err := filepath.Glob("../../../events/cloudformation/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			require.NoError(t, err)
			var ev events.CloudWatchEvent
			require.NoError(t, json.Unmarshal(raw, &ev))
			again, err := json.Marshal(ev)
			require.NoError(t, err)
			assert.JSONEq(t, string(raw), string(again))
			assert.Equal(t, EventSource, ev.Source)
			assert.Equal(t, EventDetailType, ev.DetailType)
			assert.Equal(t, []string{sampleStack}, ev.Resources, "the rule scopes on the stack ARN in resources")
		})
	}
}

func TestMatchReadsTheSampleEvents(t *testing.T) {
	p := New(nil)
	for _, tc := range []struct {
		file string
		ok   bool
		want deploy.Outcome
	}{
		{"create-complete.json", true, deploy.Outcome{Done: true, Succeeded: true, Message: "CREATE_COMPLETE"}},
		{"update-complete.json", true, deploy.Outcome{Done: true, Succeeded: true, Message: "UPDATE_COMPLETE"}},
		{"delete-complete.json", true, deploy.Outcome{Done: true, Succeeded: true, Message: "DELETE_COMPLETE"}},
		{"update-rollback-complete.json", true, deploy.Outcome{Done: true, RolledBack: true, Message: "UPDATE_ROLLBACK_COMPLETE"}},
		{"rollback-complete.json", true, deploy.Outcome{Done: true, Message: "ROLLBACK_COMPLETE: The following resource(s) failed to create: [Queue]. Rollback requested by user."}},
		{"update-in-progress.json", false, deploy.Outcome{}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			ev := sample(t, tc.file)
			key, out, ok := p.Match(ev.DetailType, ev.Detail)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.want, out)
			if tc.ok {
				assert.Equal(t, sampleStack+"#3f1c2a9d8e7b6a5f4e3d2c1b", key, "the stack id and the request token")
			}
		})
	}
}

func TestMatchClassifiesEveryFinalStatus(t *testing.T) {
	p := New(nil)
	for _, tc := range []struct {
		status                   string
		done, succeeded, rolledB bool
	}{
		{"CREATE_COMPLETE", true, true, false},
		{"UPDATE_COMPLETE", true, true, false},
		{"IMPORT_COMPLETE", true, true, false},
		{"DELETE_COMPLETE", true, true, false},
		{"UPDATE_ROLLBACK_COMPLETE", true, false, true},
		{"UPDATE_ROLLBACK_FAILED", true, false, false},
		{"ROLLBACK_COMPLETE", true, false, false},
		{"ROLLBACK_FAILED", true, false, false},
		{"CREATE_FAILED", true, false, false},
		{"UPDATE_FAILED", true, false, false},
		{"DELETE_FAILED", true, false, false},
		{"IMPORT_ROLLBACK_COMPLETE", true, false, false},
		{"CREATE_IN_PROGRESS", false, false, false},
		{"UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", false, false, false},
		{"UPDATE_ROLLBACK_IN_PROGRESS", false, false, false},
		{"UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", false, false, false},
		{"REVIEW_IN_PROGRESS", false, false, false},
		{"A_STATUS_FROM_THE_FUTURE", false, false, false},
	} {
		t.Run(tc.status, func(t *testing.T) {
			detail, err := json.Marshal(map[string]any{"stack-id": sampleStack, "status-details": map[string]string{"status": tc.status}})
			require.NoError(t, err)
			key, out, ok := p.Match(EventDetailType, detail)
			assert.Equal(t, tc.done, ok)
			assert.Equal(t, tc.done, out.Done)
			assert.Equal(t, tc.succeeded, out.Succeeded)
			assert.Equal(t, tc.rolledB, out.RolledBack)
			if ok {
				assert.Equal(t, sampleStack, key)
			}
		})
	}
}

func TestMatchIgnoresWhatFinishesNothing(t *testing.T) {
	p := New(nil)
	ev := sample(t, "create-complete.json")
	for _, tc := range []struct {
		name, detailType, detail string
	}{
		{"another service's event", "ECS Deployment State Change", string(ev.Detail)},
		{"a resource's status change", "CloudFormation Resource Status Change", string(ev.Detail)},
		{"a detail that is not JSON", EventDetailType, `{"stack-id":`},
		{"a detail with the wrong types", EventDetailType, `{"stack-id":7,"status-details":"CREATE_COMPLETE"}`},
		{"a detail without a stack id", EventDetailType, `{"status-details":{"status":"CREATE_COMPLETE"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, ok := p.Match(tc.detailType, json.RawMessage(tc.detail))
			assert.False(t, ok)
		})
	}
}

func TestADuplicateEventGivesTheSameKeyAndOutcome(t *testing.T) {
	p := New(nil)
	ev := sample(t, "update-complete.json")
	k1, o1, ok1 := p.Match(ev.DetailType, ev.Detail)
	k2, o2, ok2 := p.Match(ev.DetailType, ev.Detail)
	assert.True(t, ok1 && ok2)
	assert.Equal(t, k1, k2)
	assert.Equal(t, o1, o2)
}

func FuzzMatch(f *testing.F) {
	files, _ := filepath.Glob("../../../events/cloudformation/*.json")
	for _, file := range files {
		raw, _ := os.ReadFile(file)
		var ev events.CloudWatchEvent
		if json.Unmarshal(raw, &ev) == nil {
			f.Add(string(ev.Detail))
		}
	}
	p := New(nil)
	f.Fuzz(func(t *testing.T, detail string) {
		key, out, ok := p.Match(EventDetailType, json.RawMessage(detail))
		if ok && (key == "" || !out.Done) {
			t.Fatalf("a match must name a stack and be final: %q %+v", key, out)
		}
	})
}

// A delayed final event of an earlier deploy of the same stack (another request token) does
// not give the key of the newer deploy's wait.
func TestAnEarlierDeploysEventDoesNotFinishANewerWait(t *testing.T) {
	p := New(nil)
	detail := func(tok string) json.RawMessage {
		b, _ := json.Marshal(map[string]any{"stack-id": sampleStack, "client-request-token": tok, "status-details": map[string]string{"status": "UPDATE_COMPLETE"}})
		return b
	}
	newer := p.wait(sampleStack, "newer", "x")
	key, _, ok := p.Match(EventDetailType, detail("older"))
	assert.True(t, ok)
	assert.NotEqual(t, newer.Key, key)
	key, _, _ = p.Match(EventDetailType, detail("newer"))
	assert.Equal(t, newer.Key, key)
}
