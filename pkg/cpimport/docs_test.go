package cpimport

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTheDocumentedFindingsAreReal keeps docs/import.md's example findings equal to what the
// golden files say for the same inputs.
func TestTheDocumentedFindingsAreReal(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/import.md")
	require.NoError(t, err)
	lines := regexp.MustCompile(`(?m)^[a-z0-9-]+\.(?:json|yml):\d+:\d+: .*\[(?:not-imported|changed)\]$`).FindAll(doc, -1)
	require.NotEmpty(t, lines)
	for _, l := range lines {
		file, _, _ := strings.Cut(string(l), ":")
		out, err := os.ReadFile(filepath.Join("testdata", strings.TrimSuffix(file, filepath.Ext(file))+".out"))
		require.NoError(t, err, file)
		assert.Contains(t, string(out), string(l)+"\n")
	}
}

// TestTheDocumentedSourceVariablesAreTheMappedOnes keeps docs/import.md's table of source
// variables equal to the tables the import uses.
func TestTheDocumentedSourceVariablesAreTheMappedOnes(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/import.md")
	require.NoError(t, err)
	for row, table := range map[string]map[string]string{
		"of a repository source": gitVars, "of an ECR source": ecrVars, "of an S3 source": s3Vars,
	} {
		m := regexp.MustCompile("(?m)^\\| (.*) " + row + " \\| (.*) \\|$").FindSubmatch(doc)
		require.NotNil(t, m, row)
		names := regexp.MustCompile("`([A-Za-z]+)`").FindAllSubmatch(m[1], -1)
		values := regexp.MustCompile(`#\{source\.([a-z_]+)\}`).FindAllSubmatch(m[2], -1)
		require.Equal(t, len(table), len(names), row)
		require.Equal(t, len(names), len(values), row)
		for i := range names {
			assert.Equal(t, table[string(names[i][1])], string(values[i][1]), "%s: %s", row, names[i][1])
		}
	}
}
