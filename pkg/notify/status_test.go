package notify

import (
	"reflect"
	"testing"
	"time"

	"github.com/stepline/stepline/pkg/changes"
	"github.com/stepline/stepline/pkg/notify/commitstatus"
	"github.com/stepline/stepline/pkg/store"
)

const runLink = "https://ci.example.com/runs/api-42"

func TestEachPipelineChangeSetsTheOneStatusOfThePipeline(t *testing.T) {
	t.Parallel()
	base := commitstatus.Status{Repository: "acme/api", Commit: commit, Branch: "main", Key: "api/prod",
		Name: "stepline: api #42 (prod)", URL: runLink, Number: "42"}
	took := 4*time.Minute + 12*time.Second
	for _, tc := range []struct {
		name   string
		change Change
		run    store.Record
		state  commitstatus.State
		desc   string
		took   time.Duration
	}{
		{"a started run is in progress", change(t, changes.DetailPipeline, "STARTED", "", "", ""), record(nil),
			commitstatus.InProgress, "Running", 0},
		{"a succeeded run says how long it took", change(t, changes.DetailPipeline, "SUCCEEDED", "", "", ""), record(nil),
			commitstatus.Succeeded, "Succeeded in 4m12s", took},
		{"a failed run names the failed stage, action and reason",
			change(t, changes.DetailPipeline, "FAILED", "", "", "action Test failed: exit status 2"), record(failedAt(1, 2, "exit status 2")),
			commitstatus.Failed, "Failed in Build/Test: exit status 2", took},
		{"a failed run without a failed action in its record keeps the event's reason",
			change(t, changes.DetailPipeline, "FAILED", "", "", "no earlier successful run"), record(nil),
			commitstatus.Failed, "No earlier successful run", took},
		{"a superseded run is stopped, not left in progress",
			change(t, changes.DetailPipeline, "SUPERSEDED", "", "", "superseded by run api-43"), record(nil),
			commitstatus.Stopped, "Superseded by run api-43", took},
		{"a canceled run is stopped with the reason",
			change(t, changes.DetailPipeline, "CANCELED", "", "", "abandoned: the execution ended FAILED"), record(nil),
			commitstatus.Stopped, "Canceled: abandoned: the execution ended FAILED", took},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := StatusFor(tc.change, RunOf(tc.run), runLink)
			want := base
			want.State, want.Description, want.Duration = tc.state, tc.desc, tc.took
			if !ok || !reflect.DeepEqual(got, want) {
				t.Errorf("StatusFor = %+v, %v\nwant       %+v", got, ok, want)
			}
		})
	}
}

func TestChangesThatSetNoStatus(t *testing.T) {
	t.Parallel()
	noCommit := record(func(r *store.Record) { r.Commit, r.Provider = "", "ecr" })
	for _, tc := range []struct {
		name   string
		change Change
		run    store.Record
	}{
		{"a stage that failed (the pipeline's own change follows)", change(t, changes.DetailStage, "FAILED", "Build", "", "x"), record(nil)},
		{"an action that failed and may be retried", change(t, changes.DetailAction, "FAILED", "Build", "Test", "x"), record(nil)},
		{"a stage rolling back", change(t, changes.DetailStage, "ROLLING_BACK", "Deploy", "", "x"), record(nil)},
		{"a stage waiting for its lock", change(t, changes.DetailStage, "WAITING", "Deploy", "", ""), record(nil)},
		{"an action that started", change(t, changes.DetailAction, "STARTED", "Build", "Test", ""), record(nil)},
		{"an approval request", approvalChange(t), record(nil)},
		{"a run started by an image push has no commit", change(t, changes.DetailPipeline, "STARTED", "", "", ""), noCommit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got, ok := StatusFor(tc.change, RunOf(tc.run), runLink); ok {
				t.Errorf("StatusFor = %+v", got)
			}
		})
	}
}

func TestAPipelineWithoutEnvironmentsKeysItsStatusByItsName(t *testing.T) {
	t.Parallel()
	rec := record(func(r *store.Record) { delete(r.State.Vars, "env") })
	s, ok := StatusFor(change(t, changes.DetailPipeline, "STARTED", "", "", ""), RunOf(rec), runLink)
	if !ok || s.Key != "api" || s.Name != "stepline: api #42" {
		t.Errorf("key %q, name %q", s.Key, s.Name)
	}
}

// A preview's environment url, resolved from the deploy's stack output, is where a succeeded
// run's status links; until the run has succeeded, and when the url does not resolve to a web
// address, the status links to the run.
func TestASucceededRunWithAnEnvironmentURLLinksToIt(t *testing.T) {
	t.Parallel()
	preview := func(url, output string) store.Record {
		return record(func(r *store.Record) {
			r.State.URL = url
			if output != "" {
				r.State.Stages[2].Actions[0].Vars = map[string]string{"URL": output}
			}
		})
	}
	for _, tc := range []struct {
		name, change string
		rec          store.Record
		link, desc   string
	}{
		{"a succeeded run links to its environment", "SUCCEEDED", preview("#{stack.URL}/", "https://pr-7.preview.example.com"),
			"https://pr-7.preview.example.com/", "Succeeded in 4m12s: Details opens prod"},
		{"a started run links to the run", "STARTED", preview("#{stack.URL}/", "https://pr-7.preview.example.com"), runLink, "Running"},
		{"a failed run links to the run", "FAILED", preview("https://pr-#{source.pr_number}.preview.example.com", ""), runLink, "Failed"},
		{"an output that never came leaves the run's link", "SUCCEEDED", preview("#{stack.URL}", ""), runLink, "Succeeded in 4m12s"},
		{"an output that is no web address leaves the run's link", "SUCCEEDED", preview("#{stack.URL}", "javascript:alert(1)"), runLink, "Succeeded in 4m12s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, ok := StatusFor(change(t, changes.DetailPipeline, tc.change, "", "", ""), RunOf(tc.rec), runLink)
			if !ok || s.URL != tc.link || s.Description != tc.desc {
				t.Errorf("StatusFor = %q, %q, %v; want %q, %q", s.URL, s.Description, ok, tc.link, tc.desc)
			}
		})
	}
}

func TestEachChangeIsTheKindOfNotificationPeopleChoose(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		change Change
		want   Kind
	}{
		{change(t, changes.DetailPipeline, "STARTED", "", "", ""), PipelineStarted},
		{change(t, changes.DetailPipeline, "SUCCEEDED", "", "", ""), PipelineSucceeded},
		{change(t, changes.DetailPipeline, "FAILED", "", "", ""), PipelineFailed},
		{change(t, changes.DetailPipeline, "SUPERSEDED", "", "", ""), PipelineSuperseded},
		{change(t, changes.DetailPipeline, "CANCELED", "", "", ""), PipelineCanceled},
		{change(t, changes.DetailStage, "FAILED", "Build", "", ""), StageFailed},
		{change(t, changes.DetailStage, "ROLLING_BACK", "Deploy", "", ""), Rollback},
		{change(t, changes.DetailAction, "FAILED", "Build", "Test", ""), ActionFailed},
		{approvalChange(t), ApprovalNeeded},
		{change(t, changes.DetailStage, "STARTED", "Build", "", ""), ""},
		{change(t, changes.DetailStage, "SUCCEEDED", "Build", "", ""), ""},
		{change(t, changes.DetailStage, "RESUMED", "Build", "", ""), ""},
		{change(t, changes.DetailStage, "CANCELED", "Build", "", ""), ""},
		{change(t, changes.DetailAction, "SUCCEEDED", "Build", "Test", ""), ""},
		{change(t, changes.DetailAction, "CANCELED", "Build", "Test", ""), ""},
	} {
		got, ok := tc.change.Kind()
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("%s %s: Kind = %q, %v; want %q", tc.change.DetailType, tc.change.State.State, got, ok, tc.want)
		}
	}
	if got := approvalChange(t).Run(); got != "api-42" {
		t.Errorf("the approval's run = %q", got)
	}
}
