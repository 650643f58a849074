package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/store"
)

// A delivery of a trigger marked trusted: false builds, keeps its artifacts apart from the
// trusted runs' and never reaches its deploy (docs/trust.md).
func TestServeBuildsAnUntrustedRunApartAndNeverDeploysIt(t *testing.T) {
	t.Parallel()
	r := newRepo(t, map[string]string{
		".stepline.yml": `version: 1
pipelines:
  - name: web
    triggers:
      - {on: push, branches: [main], trusted: false}
    stages:
      - name: Build
        actions:
          - {name: Build, provider: codebuild, buildspec: build.yml, inputs: [source], outputs: [site]}
      - name: Deploy
        actions:
          - {name: Release, provider: local, path: site, inputs: [site]}
`,
		"build.yml": "version: 0.2\nphases:\n  build:\n    commands:\n      - echo built\nartifacts:\n  files: [index.html]\n",
	})
	r.commit("change the page", map[string]string{"index.html": "<h1>hi</h1>\n"})
	body := pushFile(t, r, "main")
	url, out, stop := startServe(t, r, "--secret", "topsecret")
	var o, e bytes.Buffer
	code := Main(context.Background(), []string{"webhook", "send", "--provider", "github", "--event", "push",
		"--secret", "topsecret", "--url", url, body}, IO{Out: &o, Err: &e})
	require.Equal(t, ExitOK, code, o.String()+e.String())
	waitForMatch(t, out, regexp.MustCompile(`FAILED pipeline web run`))
	assert.Equal(t, ExitCanceled, stop())

	assert.Contains(t, out.String(), "untrusted: builds apart, never deploys")
	runs, err := store.NewBolt(filepath.Join(r.state(), "stepline.db")).ListRuns(context.Background(), store.Filter{})
	require.NoError(t, err)
	require.Len(t, runs, 1)
	rec := runs[0]
	assert.True(t, rec.Untrusted)
	assert.Contains(t, rec.State.Stages[2].Actions[0].Message, "action Deploy/Release (provider local) refused: this run is untrusted")
	assert.NoDirExists(t, filepath.Join(r.state(), "deploy", "site"), "nothing was released")
	assert.FileExists(t, filepath.Join(r.state(), "untrusted", "artifacts", rec.ID(), "site.zip"), "the build's output is kept apart")
	_, err = os.Stat(filepath.Join(r.state(), "artifacts", rec.ID()))
	assert.True(t, os.IsNotExist(err), "nothing of it where trusted runs keep theirs")
}

// A retry of an untrusted run, from the command line or the dashboard, builds as the run did:
// its outputs go where untrusted runs keep theirs, never where trusted deploys read.
func TestARetriedUntrustedRunKeepsItsArtifactsApart(t *testing.T) {
	t.Parallel()
	marks := t.TempDir()
	r := newRepo(t, map[string]string{
		".stepline.yml": `version: 1
pipelines:
  - name: web
    triggers:
      - {on: push, branches: [main], trusted: false}
    stages:
      - name: Build
        actions:
          - {name: Build, provider: codebuild, buildspec: build.yml, inputs: [source], outputs: [site]}
`,
		"build.yml": "version: 0.2\nphases:\n  build:\n    commands:\n      - test -e " + marks + "/fixed\nartifacts:\n  files: [index.html]\n",
	})
	r.commit("change the page", map[string]string{"index.html": "<h1>hi</h1>\n"})
	body := pushFile(t, r, "main")
	url, out, stop := startServe(t, r, "--secret", "topsecret")
	var o, e bytes.Buffer
	code := Main(context.Background(), []string{"webhook", "send", "--provider", "github", "--event", "push",
		"--secret", "topsecret", "--url", url, body}, IO{Out: &o, Err: &e})
	require.Equal(t, ExitOK, code, o.String()+e.String())
	waitForMatch(t, out, regexp.MustCompile(`FAILED pipeline web run`))
	assert.Equal(t, ExitCanceled, stop())
	runs, err := store.NewBolt(filepath.Join(r.state(), "stepline.db")).ListRuns(context.Background(), store.Filter{})
	require.NoError(t, err)
	require.Len(t, runs, 1)
	id := runs[0].ID()

	require.NoError(t, os.WriteFile(filepath.Join(marks, "fixed"), nil, 0o644))
	res := r.stepline("", "retry", id)
	require.Equal(t, ExitOK, res.code, "%s%s", res.out, res.err)
	assert.FileExists(t, filepath.Join(r.state(), "untrusted", "artifacts", id, "site.zip"), "the retried build's output is kept apart")
	_, err = os.Stat(filepath.Join(r.state(), "artifacts", id))
	assert.True(t, os.IsNotExist(err), "nothing of it where trusted runs keep theirs")
}
