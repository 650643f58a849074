package cpimport

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/pipeline"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with the file at path, or rewrites the file with -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file; run go test ./pkg/cpimport -update")
	assert.Equal(t, string(want), string(got), "golden file %s differs; run go test ./pkg/cpimport -update and review the diff", path)
}

// inputs are the CodePipeline definitions of testdata: get-pipeline output (.json with a
// "pipeline" key) and CloudFormation templates (cfn-*.json, cfn-*.yml).
func inputs(t testing.TB) []string {
	var out []string
	for _, pat := range []string{"*.json", "*.yml"} {
		files, err := filepath.Glob(filepath.Join("testdata", pat))
		require.NoError(t, err)
		for _, f := range files {
			if !strings.HasSuffix(f, ".stepline.yml") {
				out = append(out, f)
			}
		}
	}
	require.NotEmpty(t, out)
	return out
}

// TestDefinitionsImportToTheirGoldenFiles imports each definition of testdata and compares the
// pipeline file with NAME.stepline.yml and the findings with NAME.out; every pipeline file
// written must pass stepline's own parser without a problem.
func TestDefinitionsImportToTheirGoldenFiles(t *testing.T) {
	t.Parallel()
	for _, path := range inputs(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			res, err := Import(filepath.Base(path), data)
			require.NoError(t, err)
			base := strings.TrimSuffix(path, filepath.Ext(path))
			golden(t, base+".stepline.yml", res.YAML)
			var out strings.Builder
			for _, f := range res.Findings {
				out.WriteString(f.String() + "\n")
			}
			golden(t, base+".out", []byte(out.String()))
			_, err = pipeline.Parse(".stepline.yml", res.YAML)
			require.NoError(t, err, "the imported file does not validate")
		})
	}
}
