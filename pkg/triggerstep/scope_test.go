package triggerstep

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/store"
)

// envFile gives main the environment prod; other branches run without one.
const envFile = `version: 1
pipelines:
  - name: web
    triggers: [{on: push, branches: ["**"]}]
    environments:
      - {branches: [main], name: prod}
    stages: [{name: Build, actions: [{name: Build, provider: codebuild, inputs: [source]}]}]
`

// succeededRun stores a successful run of web of repo whose artifacts are {bin: bin}.
func succeededRun(t *testing.T, r *memRig, id, repo, branch, env, bin string) {
	t.Helper()
	def := engine.Definition{Pipeline: "web", Stages: []engine.Stage{{Name: "Build", Actions: []engine.Action{{Name: "Build", Provider: "codebuild"}}}}}
	vars := map[string]map[string]string{}
	if env != "" {
		vars["env"] = map[string]string{"name": env}
	}
	st := engine.New(def, engine.RunInfo{ID: id, Seq: 1, Variables: vars})
	st.Status, st.Started, st.Artifacts = engine.Succeeded, 1000, map[string]string{"bin": bin}
	require.NoError(t, r.runs.PutRun(r.ctx, store.Record{Definition: def, State: st, Provider: "github", Repo: repo, Branch: branch}))
}

// started is the run the trigger created for commit.
func startedFor(t *testing.T, r *memRig, commit string) store.Record {
	t.Helper()
	recs, err := r.runs.ListRuns(r.ctx, store.Filter{Pipeline: "web"})
	require.NoError(t, err)
	for _, rec := range recs {
		if rec.Commit == commit {
			return rec
		}
	}
	require.FailNow(t, "no run of commit "+commit, r.logs.String())
	return store.Record{}
}

func TestARunStartsWithTheLastSuccessOfItsOwnEnvironmentOrBranch(t *testing.T) {
	r := newMemRig(t)
	succeededRun(t, r, "old-prod", memRepoName, "main", "prod", "s3://a/prod.zip")
	succeededRun(t, r, "old-feature", memRepoName, "feature/x", "", "s3://a/feature.zip")
	succeededRun(t, r, "other-repo", "acme/other", "feature/new", "", "s3://a/other.zip")
	at := time.Date(2026, 12, 1, 11, 0, 0, 0, time.UTC)
	for _, tc := range []struct{ branch, commit, want string }{
		{"main", "a1" + commitA[2:], "s3://a/prod.zip"},
		{"feature/x", "b2" + commitA[2:], "s3://a/feature.zip"},
		{"feature/new", "c3" + commitA[2:], ""},
	} {
		r.repo.set(tc.commit, envFile)
		require.NoError(t, r.h.Handle(r.ctx, pushTo(t, tc.branch, tc.commit, at)), r.logs.String())

		rec := startedFor(t, r, tc.commit)
		assert.Equal(t, tc.want, rec.State.Previous["bin"], "the rollback target of a run of %s", tc.branch)
	}
	prod := startedFor(t, r, "a1"+commitA[2:])
	assert.Equal(t, store.Scope{Provider: "github", Repository: memRepoName, Pipeline: "web", Environment: "prod"}, prod.Scope())
}

func TestARunIDTakenByAnotherRepositoryIsNeverTakenOver(t *testing.T) {
	r := newMemRig(t)
	id := runID("github", memRepoName, "web", 1)
	def := engine.Definition{Pipeline: "web"}
	taken := store.Record{Definition: def, State: engine.New(def, engine.RunInfo{ID: id, Seq: 1}), Provider: "github", Repo: "acme/colliding"}
	require.NoError(t, r.runs.PutRun(r.ctx, taken))
	r.repo.set(commitA, envFile)

	err := r.h.Handle(r.ctx, pushTo(t, "feature/x", commitA, time.Date(2026, 12, 1, 11, 0, 0, 0, time.UTC)))

	require.ErrorContains(t, err, "is taken by a run of web of github:acme/colliding")
	assert.Empty(t, r.sfn.started(), "nothing starts the other repository's run")
	got, err := r.runs.GetRun(r.ctx, id)
	require.NoError(t, err)
	assert.Equal(t, "acme/colliding", got.Repo)
}

func TestARunOfATriggerMarkedUntrustedIsRecordedUntrustedAndApartFromProd(t *testing.T) {
	r := newMemRig(t)
	succeededRun(t, r, "old-prod", memRepoName, "main", "prod", "s3://a/prod.zip")
	r.repo.set(commitA, `version: 1
pipelines:
  - name: web
    triggers: [{on: push, branches: ["**"], trusted: false}]
    environments:
      - {branches: [main], name: prod}
    stages: [{name: Build, actions: [{name: Build, provider: codebuild, inputs: [source]}]}]
`)
	require.NoError(t, r.h.Handle(r.ctx, pushTo(t, "main", commitA, time.Date(2026, 12, 1, 11, 0, 0, 0, time.UTC))), r.logs.String())

	rec := startedFor(t, r, commitA)
	assert.True(t, rec.Untrusted, "the record keeps the trigger's verdict")
	assert.False(t, rec.Trusted())
	assert.Equal(t, store.Scope{Provider: "github", Repository: memRepoName, Pipeline: "web", Branch: "main", Fork: true}, rec.Scope(),
		"an untrusted run neither shares prod's lanes nor becomes its rollback target")
	assert.Empty(t, rec.State.Previous, "nor rolls back to prod's artifacts")
}
