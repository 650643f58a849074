package notify

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stepline/stepline/pkg/approval"
	"github.com/stepline/stepline/pkg/changes"
	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/store"
)

const commit = "9fceb02d0ae598e95dc970b74767f19372d61af8"

var (
	started = time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	ended   = started.Add(4*time.Minute + 12*time.Second)
)

// record is a run of pipeline api (Source, Build with Test, Deploy with Stack) on main, in
// environment prod, as the trigger records it; mutate sets the outcome.
func record(mutate func(*store.Record)) store.Record {
	def := engine.Definition{Pipeline: "api", Stages: []engine.Stage{
		{Name: "Source", Actions: []engine.Action{{Name: "Source", Provider: "source"}}},
		{Name: "Build", Actions: []engine.Action{{Name: "Test", Provider: "codebuild"}}},
		{Name: "Deploy", Actions: []engine.Action{{Name: "Stack", Provider: "cloudformation", Namespace: "stack"}}},
	}}
	st := engine.New(def, engine.RunInfo{ID: "api-42", Seq: 42, Variables: map[string]map[string]string{
		"source": {"provider": "github", "commit_message": "Fix the <login> page & its tests", "author": "Jane Doe"},
		"env":    {"name": "prod"},
	}})
	st.Started = started.UnixMilli()
	rec := store.Record{Definition: def, State: st, Repo: "acme/api", Branch: "main", Commit: commit,
		Provider: "github", Hook: "0123456789abcdef0123456789abcdef", Trigger: "push"}
	if mutate != nil {
		mutate(&rec)
	}
	return rec
}

// failedAt marks stage i's first action failed with msg on attempt n, with a build id.
func failedAt(i, n int, msg string) func(*store.Record) {
	return func(r *store.Record) {
		sg := &r.State.Stages[i]
		sg.Status, sg.Message = engine.Failed, "action "+r.Definition.Stages[i].Actions[0].Name+" failed: "+msg
		sg.Actions[0] = engine.ActionState{Status: engine.Failed, Attempt: n, Message: msg,
			External: "stepline-build:7d1f9c2e-1111-2222-3333-444455556666"}
		r.State.Status, r.State.Message = engine.Failed, sg.Message
	}
}

// change builds the EventBridge event of a state change and decodes it, as the notify
// function receives it.
func change(t *testing.T, detailType, state, stage, action, msg string) Change {
	t.Helper()
	d := changes.Detail{Pipeline: "api", ExecutionID: "api-42", State: state, Version: 42, Stage: stage, Action: action,
		StartTime: ended.Format(time.RFC3339), Message: msg, Repository: "acme/api", Branch: "main", Commit: commit}
	if action != "" {
		d.Attempt = 2
		d.Type = &changes.ActionType{Owner: "stepline", Provider: "codebuild", Category: "Build", Version: "1"}
	}
	return decode(t, detailType, d)
}

func approvalChange(t *testing.T) Change {
	t.Helper()
	links := approval.LinksFor("https://api.example.com", "api-42", "Release.Approve.1", "k3y")
	return decode(t, approval.DetailRequested, approval.RequestedDetail{Pipeline: "api", Run: "api-42", Stage: "Release",
		Action: "Approve", Attempt: 1, Message: "Ship it to prod?", URL: "https://staging.example.com", Links: links,
		Expires: started.Add(24 * time.Hour).Format(time.RFC3339)})
}

func decode(t *testing.T, detailType string, detail any) Change {
	t.Helper()
	b, err := json.Marshal(map[string]any{"version": "0", "id": "6a7e8feb", "source": "stepline", "account": "123456789012",
		"time": ended.Format(time.RFC3339), "region": "eu-west-1", "resources": []string{}, "detail-type": detailType, "detail": detail})
	if err != nil {
		t.Fatal(err)
	}
	c, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
