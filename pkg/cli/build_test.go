package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func call(args ...string) result {
	var out, errOut bytes.Buffer
	code := Main(context.Background(), args, IO{In: strings.NewReader(""), Out: &out, Err: &errOut})
	return result{code: code, out: out.String(), err: errOut.String()}
}

func TestBuildPrintsTheDocumentedJSON(t *testing.T) {
	t.Parallel()
	src := writeFiles(t, map[string]string{
		"buildspec.yml": `version: 0.2
env:
  exported-variables: [VERSION]
phases:
  build:
    commands:
      - VERSION=2.0
      - mkdir -p dist && echo hi > dist/app.txt
artifacts:
  base-directory: dist
  files: ['**/*']
`,
	})
	out := t.TempDir()
	res := call("build", "--src", src, "--out", out, "--json", "--env", "EXTRA=1")
	require.Equal(t, ExitOK, res.code, res.err)
	var doc struct {
		Status string `json:"status"`
		Phases []struct {
			Name, Status string
		} `json:"phases"`
		Exported  map[string]string `json:"exported"`
		Artifacts []struct {
			Name  string   `json:"name"`
			Dir   string   `json:"dir"`
			Files []string `json:"files"`
		} `json:"artifacts"`
	}
	require.NoError(t, json.Unmarshal([]byte(res.out), &doc), "stdout is only the JSON document:\n%s", res.out)
	assert.Equal(t, "SUCCEEDED", doc.Status)
	require.NotEmpty(t, doc.Phases)
	assert.Equal(t, "INSTALL", doc.Phases[0].Name)
	assert.Equal(t, map[string]string{"VERSION": "2.0"}, doc.Exported)
	require.Len(t, doc.Artifacts, 1)
	assert.Equal(t, []string{"app.txt"}, doc.Artifacts[0].Files)
	assert.FileExists(t, filepath.Join(doc.Artifacts[0].Dir, "app.txt"))
	assert.Contains(t, res.err, "Running command VERSION=2.0", "the build log goes to standard error with --json")
}

func TestBuildExitCodes(t *testing.T) {
	t.Parallel()
	failing := writeFiles(t, map[string]string{"buildspec.yml": "version: 0.2\nphases:\n  build:\n    commands:\n      - exit 4\n"})
	res := call("build", "--src", failing)
	assert.Equal(t, ExitFailed, res.code)
	assert.Contains(t, res.out, "FAILED")

	bad := writeFiles(t, map[string]string{"buildspec.yml": "version: 0.2\nphases:\n  biuld:\n    commands: [true]\n"})
	res = call("build", "--src", bad)
	assert.Equal(t, ExitUsage, res.code)
	assert.Contains(t, res.err, "did you mean")
	assert.Contains(t, res.err, "buildspec.yml:3:3:")

	res = call("build", "--src", filepath.Join(t.TempDir(), "missing"))
	assert.Equal(t, ExitUsage, res.code)
	// A bare NAME passes the shell's value on, so one that is not set is refused.
	res = call("build", "--src", failing, "--env", "STEPLINE_TEST_NOT_SET_ANYWHERE")
	assert.Equal(t, ExitUsage, res.code)
	assert.Contains(t, res.err, "STEPLINE_TEST_NOT_SET_ANYWHERE is not set in this environment")
	res = call("build", "--src", failing, "--env", "=x")
	assert.Equal(t, ExitUsage, res.code)
	assert.Contains(t, res.err, "want KEY=VALUE or NAME")
}

func TestValidateExitCodes(t *testing.T) {
	t.Parallel()
	dir := writeFiles(t, map[string]string{
		"ok.yml":  deployOnly,
		"bad.yml": "version: 2\npipelines: []\n",
	})
	res := call("validate", "-f", filepath.Join(dir, "ok.yml"))
	assert.Equal(t, ExitOK, res.code, res.out+res.err)
	assert.Contains(t, res.out, "valid (1 pipeline: site)")

	res = call("validate", "-f", filepath.Join(dir, "bad.yml"))
	assert.Equal(t, ExitFailed, res.code)
	assert.Contains(t, res.out, "bad.yml:1:10:")

	res = call("validate", "-f", filepath.Join(dir, "missing.yml"))
	assert.Equal(t, ExitUsage, res.code)
	assert.Contains(t, res.err, "read pipeline file")
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	}
	return dir
}
