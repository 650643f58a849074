package pipeline

import (
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDocumentedFilesAreValid parses every complete file (a yaml block starting with
// "version: 1") in docs/pipeline.md and docs/trust.md, so the reference cannot drift from the
// parser.
func TestDocumentedFilesAreValid(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"docs/pipeline.md", "docs/trust.md"} {
		doc, err := os.ReadFile("../../" + name)
		require.NoError(t, err)
		blocks := regexp.MustCompile("(?s)```yaml\n(version: 1\n.*?)```").FindAllSubmatch(doc, -1)
		require.NotEmpty(t, blocks, name)
		for _, b := range blocks {
			_, err := Parse(name, b[1])
			assert.NoError(t, err, "%s", b[1])
		}
	}
}

// TestDocumentedSourceVariablesAreTheKnownOnes keeps the reference's list of #{source.*}
// names equal to the names validation accepts, in both directions.
func TestDocumentedSourceVariablesAreTheKnownOnes(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/pipeline.md")
	require.NoError(t, err)
	row := regexp.MustCompile("(?m)^\\| `source` +\\| ([^|]+)\\|").FindSubmatch(doc)
	require.NotNil(t, row, "the source row of the variables table")
	var documented []string
	for _, m := range regexp.MustCompile("`([a-z_]+)`").FindAllSubmatch(row[1], -1) {
		documented = append(documented, string(m[1]))
	}
	assert.ElementsMatch(t, SourceVariables, documented)
}
