package triggerstep

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/store"
	"github.com/stepline/stepline/pkg/store/dynamo"
)

// What reaches the trigger from elsewhere than a checked parser (an event put on the bus by
// something else, the registry, a schedule's message, a provider's answer) is checked too: a
// ref or commit git would refuse starts nothing and is not retried.

func TestASourceEventNamingRefsOrCommitsGitRefusesStartsNothing(t *testing.T) {
	t.Parallel()
	for name, edit := range map[string]func(d *Detail){
		"a branch with ..":              func(d *Detail) { d.Event.Branch, d.Event.Ref = "envs/../../x", "refs/heads/envs/../../x" },
		"a branch that reads as option": func(d *Detail) { d.Event.Branch, d.Event.Ref = "--upload-pack=x", "refs/heads/--upload-pack=x" },
		"an after that is a revision":   func(d *Detail) { d.Event.After = "HEAD~1" },
		"an after that is short":        func(d *Detail) { d.Event.After = commitA[:12] },
		"a default branch git forbids":  func(d *Detail) { d.Event.Repository.DefaultBranch = "ma in" },
		"a ref that is not a full name": func(d *Detail) { d.Event.Ref = "main" },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := newMemRig(t)
			r.repo.set(commitA, registeredFile)
			e := pushTo(t, "main", commitA, t0)
			var d Detail
			require.NoError(t, json.Unmarshal(e.Detail, &d))
			edit(&d)
			e.Detail = mustJSON(t, d)

			require.NoError(t, r.h.Handle(r.ctx, e), "acknowledged: a retry cannot fix it")
			assert.Empty(t, r.sfn.started())
			assert.Contains(t, r.logs.String(), "is not a")
			recs, err := r.runs.ListRuns(r.ctx, store.Filter{})
			require.NoError(t, err)
			assert.Empty(t, recs)
		})
	}
}

func TestAScheduleInputForABranchGitForbidsIsRefused(t *testing.T) {
	t.Parallel()
	for _, branch := range []string{"a..b", "-x", "x/.y", "x y"} {
		_, err := ParseInput(scheduleInput(t, "nightly", 0, branch, "2026-12-02T03:00:00Z"))
		require.Error(t, err, branch)
		assert.Contains(t, err.Error(), "is not a valid git ref name", branch)
	}
}

func TestAnImagePushNeverStartsARunFromARegistryEntryGitWouldRefuse(t *testing.T) {
	t.Parallel()
	r := newMemRig(t)
	bad := dynamo.Registration{Provider: "github", Repo: "acme/bad", Branch: "envs/../../x", Commit: commitC, Hook: "bad-hook",
		File: []byte(registeredFile), Images: []string{"api"}, Pushed: t0}
	require.NoError(t, r.reg.PutRegistration(r.ctx, bad))
	require.NoError(t, r.reg.PutImageIndex(r.ctx, "api", bad.Provider, bad.Repo))
	short := dynamo.Registration{Provider: "github", Repo: "acme/short", Branch: "main", Commit: "HEAD~1", Hook: "short-hook",
		File: []byte(registeredFile), Images: []string{"api"}, Pushed: t0}
	require.NoError(t, r.reg.PutRegistration(r.ctx, short))
	require.NoError(t, r.reg.PutImageIndex(r.ctx, "api", short.Provider, short.Repo))

	require.NoError(t, r.h.Handle(r.ctx, ecrEvent(t, "api", "latest")))
	assert.Empty(t, r.sfn.started())
	assert.Contains(t, r.logs.String(), `ref \"refs/heads/envs/../../x\" is not a valid git ref name`)
	assert.Contains(t, r.logs.String(), `commit \"HEAD~1\" is not a full commit id`)
}

func TestAScheduleNeverBuildsAHeadThatIsNotAFullCommitID(t *testing.T) {
	t.Parallel()
	for _, head := range []string{"HEAD~1", commitC[:12], strings.ToUpper(commitC), "--upload-pack=x"} {
		r := newMemRig(t)
		r.repo.set(commitA, nightlyOnRelease)
		require.NoError(t, r.h.Handle(r.ctx, pushTo(t, "main", commitA, t0)))
		r.repo.heads["release/1"] = head
		r.repo.set(head, nightlyOnRelease) // a file there, so only the check stands between the head and a run

		require.NoError(t, r.h.Invoke(r.ctx, scheduleInput(t, "nightly", 1, "release/1", "2026-12-02T03:00:00Z")), head)
		assert.Empty(t, r.sfn.started(), head)
	}
}
