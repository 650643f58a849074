package cli

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/store"
)

// The extraction limits reach every unpacking of a local run and can be set on the command line.
func TestRunExtractLimitsStopAnArtifactOverThemAndSayWhichLimit(t *testing.T) {
	t.Parallel()
	r := newRepo(t, map[string]string{
		".stepline.yml": envBuild[".stepline.yml"], "build.yml": envBuild["build.yml"],
		"a.txt": "a", "b.txt": "b",
	})
	res := r.stepline("", "run", "--max-extract-entries", "3")
	require.Equal(t, ExitFailed, res.code, res.out+res.err)
	show := r.stepline("", "show", "web-1")
	assert.Contains(t, show.out, "4 entries, more than the limit of 3 (Limits.Entries)")

	res = r.stepline("", "run", "--max-extract-entries", "4", "--max-extract-size", "1KiB")
	require.Equal(t, ExitOK, res.code, res.out+res.err)
	res = r.stepline("", "run", "--max-extract-size", "10B")
	require.Equal(t, ExitFailed, res.code, res.out+res.err)

	bad := r.stepline("", "run", "--max-extract-size", "lots")
	assert.Equal(t, ExitUsage, bad.code)
	assert.Contains(t, bad.err, `"lots" is not a size`)
}

func TestByteSizeReadsBinaryUnits(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{"0": 0, "512": 512, "1KiB": 1024, "3 MiB": 3 << 20, "8GiB": 8 << 30, "7B": 7} {
		var b byteSize
		require.NoError(t, b.Set(in), in)
		assert.Equal(t, want, int64(b), in)
	}
	for _, in := range []string{"", "-1", "1.5GiB", "1TB", "GiB"} {
		var b byteSize
		assert.Error(t, b.Set(in), in)
	}
	b := byteSize(8 << 30)
	assert.Equal(t, "8GiB", b.String())
	assert.True(t, strings.HasSuffix((&b).Type(), "size"))
}

// `stepline runs` and `show` print what a pusher chose (a branch name, a trigger carrying a
// delivery) escaped and clipped: an ANSI escape, \r or \b cannot repaint the terminal, and a
// 200-character branch cannot push the other columns away.
func TestRunsAndShowPrintHostileNamesEscapedAndClipped(t *testing.T) {
	t.Parallel()
	r := newRepo(t, map[string]string{".stepline.yml": envBuild[".stepline.yml"], "build.yml": envBuild["build.yml"]})
	require.Equal(t, ExitOK, r.stepline("", "run").code)
	db := store.NewBolt(filepath.Join(r.state(), "stepline.db"))
	rec, err := db.FindRun(context.Background(), "web-1") // the id is web-1-<repository tag>
	require.NoError(t, err)
	rec.Branch = "\x1b[2J\x1b[31mmain\rFAKE\b\b" + strings.Repeat("b", 200)
	rec.Trigger = "webhook github push \x1b]0;title\x07"
	require.NoError(t, db.PutRun(context.Background(), rec))

	for _, res := range []result{r.stepline("", "runs"), r.stepline("", "show", "web-1")} {
		require.Equal(t, ExitOK, res.code, res.err)
		assert.NotContains(t, res.out, "\x1b")
		assert.NotContains(t, res.out, "\r")
		assert.NotContains(t, res.out, "\b")
		assert.NotContains(t, res.out, "\x07")
		assert.Contains(t, res.out, `\x1b[2J\x1b[31mmain\rFAKE\x08\x08bbbb`)
		assert.Contains(t, res.out, `webhook github push \x1b]0;title\x07`)
		assert.NotContains(t, res.out, strings.Repeat("b", 41), "the branch is clipped")
	}
}
