package trigger

import (
	"bytes"
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/scm"
)

// TestDocumentedExplanations replays the events docs/pipeline.md describes against its
// complete example, so the printed explanations there cannot drift from Explain.
func TestDocumentedExplanations(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/pipeline.md")
	require.NoError(t, err)
	example := regexp.MustCompile("(?s)## A complete example\n\n```yaml\n(version: 1\n.*?)```").FindSubmatch(doc)
	require.NotNil(t, example, "the complete example is missing")
	printed := regexp.MustCompile("(?s)a push whose head commit says `\\[skip ci\\]` give:\n\n```\n(.*?)```").FindSubmatch(doc)
	require.NotNil(t, printed, "the explained events are missing from the Triggers section")

	f := parse(t, string(example[1]))
	var b bytes.Buffer
	for _, ev := range []scm.Event{
		push("main", "services/api/x.go"),
		push("release/old-1", "services/api/x.go"),
		push("feature/x", "web/a.js"),
		pr("closed", "feature/x", "main"),
		message(push("main", "services/api/x.go"), "Tidy up [skip ci]"),
	} {
		require.NoError(t, Explain(&b, ".stepline.yml", MatchFile(f, ev)))
	}
	assert.Equal(t, string(printed[1]), b.String())
}
