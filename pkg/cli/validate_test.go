package cli

import (
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestValidateGolden runs `stepline validate` on every file of testdata/validate and compares
// what it prints, and its exit code, with the golden .out file beside it.
func TestValidateGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/validate/*.yml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			res := call("validate", "-f", file)
			got := res.out + res.err + "exit " + strconv.Itoa(res.code) + "\n"
			golden := strings.TrimSuffix(file, ".yml") + ".out"
			if *update {
				require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test ./pkg/cli -run TestValidateGolden -update")
			assert.Equal(t, string(want), got)
		})
	}
}

// examples/pr-preview, the documented pull-request preview pattern (docs/previews.md), is a
// file validate accepts: both its pipelines, the preview's environment url included.
func TestThePullRequestPreviewExampleIsValid(t *testing.T) {
	res := call("validate", "-f", "../../examples/pr-preview/.stepline.yml")
	require.Equal(t, 0, res.code, res.out+res.err)
	assert.Contains(t, res.out, "valid (2 pipelines: preview, preview-teardown)")
}
