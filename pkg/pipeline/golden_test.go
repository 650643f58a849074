package pipeline

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/engine"
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
	require.NoError(t, err, "missing golden file; run go test ./pkg/pipeline -update")
	assert.Equal(t, string(want), string(got), "golden file %s differs; run go test ./pkg/pipeline -update and review the diff", path)
}

func testdata(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*.yml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	return files
}

// TestValidFilesCompileToTheirGoldenDefinitions parses every testdata/ok file, which must have
// no problem, and compares the compiled definitions of all its pipelines with the .json file.
func TestValidFilesCompileToTheirGoldenDefinitions(t *testing.T) {
	t.Parallel()
	for _, path := range testdata(t, "ok") {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			f, err := Parse(filepath.Base(path), data)
			require.NoError(t, err)
			defs := make([]engine.Definition, 0, len(f.Pipelines))
			for _, p := range f.Pipelines {
				defs = append(defs, p.Definition())
			}
			got, err := json.MarshalIndent(defs, "", "  ")
			require.NoError(t, err)
			golden(t, strings.TrimSuffix(path, ".yml")+".json", append(got, '\n'))
		})
	}
}

// TestInvalidFilesReportTheirGoldenProblems parses every testdata/err file and compares the
// full problem list with the .out file.
func TestInvalidFilesReportTheirGoldenProblems(t *testing.T) {
	t.Parallel()
	for _, path := range testdata(t, "err") {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			_, err = Parse(filepath.Base(path), data)
			require.Error(t, err)
			var probs Problems
			require.True(t, errors.As(err, &probs), "error is %T, want Problems", err)
			golden(t, strings.TrimSuffix(path, ".yml")+".out", []byte(err.Error()+"\n"))
		})
	}
}

// TestTheManyMistakesFileShowsEveryRule keeps the showcase file honest: it must exercise at
// least ten different rules.
func TestTheManyMistakesFileShowsEveryRule(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/err/many.yml")
	require.NoError(t, err)
	_, err = Parse("many.yml", data)
	var probs Problems
	require.True(t, errors.As(err, &probs))
	rules := map[string]bool{}
	for _, p := range probs {
		rules[p.Rule] = true
	}
	assert.GreaterOrEqual(t, len(rules), 10, "rules seen: %v", rules)
}
