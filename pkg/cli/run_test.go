package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/store"
)

// waitFor is a buildspec command that waits (10 s at most) for a file another action creates:
// two actions can only both pass if they run at the same time.
func waitFor(file string) string {
	return fmt.Sprintf(`for i in $(seq 100); do [ -e "%s" ] && break; sleep 0.1; done; [ -e "%s" ]`, file, file)
}

func TestRunGoesThroughStagesInOrderWithParallelActionsAndExportedVariables(t *testing.T) {
	t.Parallel()
	marks := t.TempDir()
	r := newRepo(t, map[string]string{
		".stepline.yml": fmt.Sprintf(`version: 1
pipelines:
  - name: app
    stages:
      - name: Build
        actions:
          - {name: Left, provider: codebuild, buildspec: left.yml, inputs: [source], env: {MARKS: %[1]q}}
          - {name: Right, provider: codebuild, buildspec: right.yml, inputs: [source], env: {MARKS: %[1]q}}
          - {name: Package, provider: codebuild, run_order: 2, buildspec: package.yml,
             inputs: [source], outputs: [bin], namespace: build}
      - name: Deploy
        actions:
          - {name: Release, provider: local, inputs: [bin], path: "web-#{build.VERSION}"}
          - {name: Announce, provider: codebuild, run_order: 2, buildspec: announce.yml, inputs: [source],
             env: {VERSION: "#{build.VERSION}", OUT: %[2]q}}
`, marks, filepath.Join(marks, "announced")),
		"left.yml": `version: 0.2
phases:
  build:
    commands:
      - touch "$MARKS/left.started"
      - ` + waitFor("$MARKS/right.started") + "\n",
		"right.yml": `version: 0.2
phases:
  build:
    commands:
      - touch "$MARKS/right.started"
      - ` + waitFor("$MARKS/left.started") + "\n",
		"package.yml": `version: 0.2
env:
  exported-variables: [VERSION]
phases:
  build:
    commands:
      - VERSION=1.2.$CODEBUILD_BUILD_NUMBER
      - mkdir -p out && echo "app $VERSION" > out/app.txt
artifacts:
  base-directory: out
  files: ['**/*']
`,
		"announce.yml": `version: 0.2
phases:
  build:
    commands:
      - echo "$VERSION" > "$OUT"
`,
	})
	res := r.stepline("", "run", "--plain")
	require.Equal(t, ExitOK, res.code, "stdout:\n%s\nstderr:\n%s", res.out, res.err)

	id := r.runID("app-1")
	tr := trace(r.events(), id)
	for _, pair := range [][2]string{
		{"stage:SUCCEEDED:Source", "stage:STARTED:Build"},
		{"action:SUCCEEDED:Build/Left", "action:STARTED:Build/Package"},
		{"action:SUCCEEDED:Build/Right", "action:STARTED:Build/Package"},
		{"stage:SUCCEEDED:Build", "stage:STARTED:Deploy"},
		{"action:SUCCEEDED:Deploy/Release", "action:STARTED:Deploy/Announce"},
		{"stage:SUCCEEDED:Deploy", "pipeline:SUCCEEDED"},
	} {
		assert.Less(t, index(tr, pair[0]), index(tr, pair[1]), "%s before %s in %v", pair[0], pair[1], tr)
		assert.NotEqual(t, -1, index(tr, pair[0]))
	}
	assert.Equal(t, "app 1.2.1\n", readFile(t, filepath.Join(r.state(), "deploy", "web-1.2.1", "current", "app.txt")),
		"the exported VERSION named the deploy path and the artifact reached it")
	assert.Equal(t, "1.2.1\n", readFile(t, filepath.Join(marks, "announced")), "a later action read the exported variable")
	assert.Contains(t, res.out, "✓ app  run "+id+"  SUCCEEDED")
}

func TestAFailingUnitTestFailsTheBuildRunsPostBuildAndDeploysNothing(t *testing.T) {
	t.Parallel()
	marks := t.TempDir()
	r := newRepo(t, map[string]string{
		".stepline.yml": fmt.Sprintf(`version: 1
pipelines:
  - name: calc
    stages:
      - name: Build
        actions:
          - {name: Test, provider: codebuild, inputs: [source], outputs: [bin], env: {MARKS: %q}}
      - name: Deploy
        actions:
          - {name: Release, provider: local, inputs: [bin], path: prod}
`, marks),
		"buildspec.yml": `version: 0.2
phases:
  build:
    commands:
      - go test ./...
      - echo "never reached" > "$MARKS/after-test"
  post_build:
    commands:
      - echo "succeeding=$CODEBUILD_BUILD_SUCCEEDING" > "$MARKS/post_build"
artifacts:
  files: ['**/*']
`,
		"go.mod":  "module example.com/calc\n\ngo 1.24\n",
		"calc.go": "package calc\n\n// Add adds.\nfunc Add(a, b int) int { return a - b }\n",
		"calc_test.go": `package calc

import "testing"

func TestAdd(t *testing.T) {
	if got := Add(2, 2); got != 4 {
		t.Fatalf("Add(2, 2) = %d, want 4", got)
	}
}
`,
	})
	res := r.stepline("", "run")
	assert.Equal(t, ExitFailed, res.code, res.out+res.err)
	assert.Equal(t, "succeeding=0\n", readFile(t, filepath.Join(marks, "post_build")), "post_build ran after the failed build, told it failed")
	assert.NoFileExists(t, filepath.Join(marks, "after-test"), "commands after the failing one do not run")
	assert.NoDirExists(t, filepath.Join(r.state(), "deploy", "prod"), "nothing was deployed")
	assert.Contains(t, res.out, "action Test failed: build failed in phase BUILD")
	id := r.runID("calc-1")
	log := readFile(t, filepath.Join(r.state(), "runs", id, "logs", "Build.Test.1.log"))
	assert.Contains(t, log, "Add(2, 2) = 0, want 4", "the test's own output is in the action log")
	assert.NotContains(t, trace(r.events(), id), "stage:STARTED:Deploy")
}

const deployOnly = `version: 1
pipelines:
  - name: site
    stages:
      - name: Deploy
        actions:
          - {name: Release, provider: local, inputs: [source], path: site, health_check: "test -f healthy"}
`

func TestAFailingHealthCheckRestoresThePreviousRelease(t *testing.T) {
	t.Parallel()
	r := newRepo(t, map[string]string{".stepline.yml": deployOnly, "healthy": "", "version.txt": "v1\n"})
	require.Equal(t, ExitOK, r.stepline("", "run").code)
	current := filepath.Join(r.state(), "deploy", "site", "current")
	first, err := os.Readlink(current)
	require.NoError(t, err)

	r.git("rm", "-q", "healthy")
	r.commit("break health", map[string]string{"version.txt": "v2\n"})
	res := r.stepline("", "run")
	assert.Equal(t, ExitFailed, res.code)
	assert.Contains(t, res.out, "health check failed")
	assert.Contains(t, res.out, "restored the previous release "+r.runID("site-1")+".Release.1")
	now, err := os.Readlink(current)
	require.NoError(t, err)
	assert.Equal(t, first, now, "current points at the previous release again")
	assert.Equal(t, "v1\n", readFile(t, filepath.Join(current, "version.txt")))
}

func TestOnFailureRollbackRedeploysTheLastSuccessfulRun(t *testing.T) {
	t.Parallel()
	file := `version: 1
pipelines:
  - name: web
    stages:
      - name: Deploy
        on_failure: rollback
        actions:
          - {name: Release, provider: local, inputs: [source], path: web}
          - {name: Verify, provider: codebuild, run_order: 2, buildspec: verify.yml, inputs: [source]}
`
	verify := "version: 0.2\nphases:\n  build:\n    commands:\n      - grep -q good version.txt\n"
	r := newRepo(t, map[string]string{".stepline.yml": file, "verify.yml": verify, "version.txt": "good\n"})
	require.Equal(t, ExitOK, r.stepline("", "run").code)

	r.commit("bad release", map[string]string{"version.txt": "bad\n"})
	res := r.stepline("", "run", "--plain")
	assert.Equal(t, ExitFailed, res.code)
	tr := trace(r.events(), r.runID("web-2"))
	assert.Contains(t, tr, "stage:ROLLING_BACK:Deploy")
	assert.Equal(t, "good\n", readFile(t, filepath.Join(r.state(), "deploy", "web", "current", "version.txt")),
		"the last successful run's artifact is live again")
	assert.Contains(t, res.out, "(rollback)")
	assert.Contains(t, res.out, "rolled back")
}

func TestApprovals(t *testing.T) {
	t.Parallel()
	file := `version: 1
pipelines:
  - name: rel
    stages:
      - name: Approve
        actions:
          - {name: Gate, provider: approval, message: "ship it?"}
      - name: Prod
        actions:
          - {name: Release, provider: local, inputs: [source], path: prod}
`
	t.Run("a rejected approval stops the run", func(t *testing.T) {
		t.Parallel()
		r := newRepo(t, map[string]string{".stepline.yml": file})
		res := r.stepline("n\n", "run")
		assert.Equal(t, ExitFailed, res.code)
		assert.Contains(t, res.out, "Approve Approve/Gate: ship it?? [y/N]")
		assert.Contains(t, res.out, "rejected in the terminal")
		assert.NoDirExists(t, filepath.Join(r.state(), "deploy", "prod"))
	})
	t.Run("an approval in the terminal lets it go on", func(t *testing.T) {
		t.Parallel()
		r := newRepo(t, map[string]string{".stepline.yml": file})
		res := r.stepline("yes\n", "run")
		assert.Equal(t, ExitOK, res.code, res.out)
		assert.FileExists(t, filepath.Join(r.state(), "deploy", "prod", "current", ".stepline.yml"))
	})
	t.Run("no answer on a closed input rejects, never approves", func(t *testing.T) {
		t.Parallel()
		r := newRepo(t, map[string]string{".stepline.yml": file})
		res := r.stepline("", "run")
		assert.Equal(t, ExitFailed, res.code)
		assert.Contains(t, res.out, "standard input is closed")
	})
	t.Run("--auto-approve approves without asking", func(t *testing.T) {
		t.Parallel()
		r := newRepo(t, map[string]string{".stepline.yml": file})
		res := r.stepline("", "run", "--auto-approve")
		assert.Equal(t, ExitOK, res.code)
		assert.NotContains(t, res.out, "[y/N]")
	})
}

func TestDirtyRunsIncludeUncommittedChanges(t *testing.T) {
	t.Parallel()
	r := newRepo(t, map[string]string{".stepline.yml": strings.ReplaceAll(deployOnly, `, health_check: "test -f healthy"`, ""), "version.txt": "committed\n"})
	r.write(map[string]string{"version.txt": "uncommitted\n", "new.txt": "new\n"})
	current := filepath.Join(r.state(), "deploy", "site", "current")

	res := r.stepline("", "run")
	require.Equal(t, ExitOK, res.code)
	assert.Contains(t, res.err, "uncommitted changes are not part of this run")
	assert.Equal(t, "committed\n", readFile(t, filepath.Join(current, "version.txt")))

	require.Equal(t, ExitOK, r.stepline("", "run", "--dirty").code)
	assert.Equal(t, "uncommitted\n", readFile(t, filepath.Join(current, "version.txt")))
	assert.FileExists(t, filepath.Join(current, "new.txt"))
	assert.NoDirExists(t, filepath.Join(current, ".stepline"), "the state directory is not part of the snapshot")
	assert.Empty(t, r.git("status", "--porcelain", "--ignored=no", ".stepline"), "the state directory ignores itself")
}

func TestRunsAndShowReadTheHistory(t *testing.T) {
	t.Parallel()
	r := newRepo(t, map[string]string{".stepline.yml": deployOnly, "healthy": ""})
	require.Equal(t, ExitOK, r.stepline("", "run").code)
	r.git("rm", "-q", "healthy")
	r.commit("break", nil)
	require.Equal(t, ExitFailed, r.stepline("", "run").code)

	res := r.stepline("", "runs")
	require.Equal(t, ExitOK, res.code, res.err)
	lines := strings.Split(strings.TrimSpace(res.out), "\n")
	require.Len(t, lines, 3)
	assert.Regexp(t, `^site-2-[0-9a-f]{8}\s+site\s+FAILED\s`, lines[1], "newest first")
	assert.Regexp(t, `^site-1-[0-9a-f]{8}\s+site\s+SUCCEEDED\s`, lines[2])

	res = r.stepline("", "show", "site-2")
	require.Equal(t, ExitOK, res.code, res.err)
	id := r.runID("site-2")
	assert.Contains(t, res.out, "run "+id+" of pipeline site (manual, branch main")
	assert.Contains(t, res.out, "✗ Deploy")
	assert.Contains(t, res.out, "health check failed")
	assert.Contains(t, res.out, filepath.Join(r.state(), "runs", id, "logs", "Deploy.Release.1.log"))

	res = r.stepline("", "show", "nope")
	assert.Equal(t, ExitFailed, res.code)
	assert.Contains(t, res.err, `no run "nope"`)
}

func TestRunEnvReachesEveryBuildButActionEnvWins(t *testing.T) {
	t.Parallel()
	marks := t.TempDir()
	r := newRepo(t, map[string]string{
		".stepline.yml": fmt.Sprintf(`version: 1
pipelines:
  - name: env
    stages:
      - name: Build
        actions:
          - {name: A, provider: codebuild, inputs: [source], env: {OUT: %q}}
          - {name: B, provider: codebuild, inputs: [source], env: {OUT: %q, GREETING: action}}
`, filepath.Join(marks, "a"), filepath.Join(marks, "b")),
		"buildspec.yml": "version: 0.2\nphases:\n  build:\n    commands:\n      - echo \"$GREETING\" > \"$OUT\"\n",
	})
	res := r.stepline("", "run", "--env", "GREETING=cli")
	require.Equal(t, ExitOK, res.code, res.out+res.err)
	assert.Equal(t, "cli\n", readFile(t, filepath.Join(marks, "a")))
	assert.Equal(t, "action\n", readFile(t, filepath.Join(marks, "b")))
	assert.Equal(t, ExitUsage, r.stepline("", "run", "--env", "=x").code)
}

func TestRunRefusesWhatItCannotRun(t *testing.T) {
	t.Parallel()
	t.Run("providers that need AWS", func(t *testing.T) {
		r := newRepo(t, map[string]string{".stepline.yml": `version: 1
pipelines:
  - name: svc
    stages:
      - name: Deploy
        actions:
          - {name: Service, provider: ecs, cluster: main, service: api, image_definitions: "source::imagedefinitions.json", inputs: [source]}
`})
		res := r.stepline("", "run")
		assert.Equal(t, ExitUsage, res.code)
		assert.Contains(t, res.err, "pipeline svc deploys to AWS in Deploy/Service (ecs): run it with --aws-deploy")
	})
	t.Run("an invalid pipeline file", func(t *testing.T) {
		r := newRepo(t, map[string]string{".stepline.yml": "version: 1\npipelines:\n  - name: x\n    stages: []\n"})
		res := r.stepline("", "run")
		assert.Equal(t, ExitFailed, res.code)
		assert.Contains(t, res.err, "nothing was run")
	})
	t.Run("several pipelines and no --pipeline", func(t *testing.T) {
		two := deployOnly + strings.ReplaceAll(strings.TrimPrefix(deployOnly, "version: 1\npipelines:\n"), "name: site", "name: other")
		r := newRepo(t, map[string]string{".stepline.yml": two})
		res := r.stepline("", "run")
		assert.Equal(t, ExitUsage, res.code)
		assert.Contains(t, res.err, "other")
	})
}

func TestShowFindsARunByItsNumberEvenWhenLaterNumbersShareThePrefix(t *testing.T) {
	t.Parallel()
	db := store.NewMemory()
	scope := store.Scope{Repository: "/src/site", Pipeline: "site"}
	for _, n := range []int64{2, 20, 21} {
		def := engine.Definition{Pipeline: "site"}
		require.NoError(t, db.PutRun(t.Context(), store.Record{Definition: def, Repo: scope.Repository,
			State: engine.New(def, engine.RunInfo{ID: store.RunID(scope, n), Seq: n})}))
	}

	rec, err := findRun(t.Context(), db, "site-2")
	require.NoError(t, err)
	assert.Equal(t, store.RunID(scope, 2), rec.ID())
	rec, err = findRun(t.Context(), db, "site-20")
	require.NoError(t, err)
	assert.Equal(t, store.RunID(scope, 20), rec.ID())
	_, err = findRun(t.Context(), db, "site")
	require.ErrorIs(t, err, store.ErrAmbiguous, "a prefix of no one number stays ambiguous")
	for _, n := range []int64{2, 20, 21} {
		assert.Contains(t, err.Error(), store.RunID(scope, n), "the error names the runs that matched")
	}
}
