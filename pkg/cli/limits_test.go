package cli

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
