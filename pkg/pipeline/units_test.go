package pipeline

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestParseDuration(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"30m", 30 * time.Minute, true},
		{"1h30m", 90 * time.Minute, true},
		{"7d", 7 * 24 * time.Hour, true},
		{"1d12h", 36 * time.Hour, true},
		{"0", 0, true},
		{"1d-1h", 0, false},
		{"1.5d", 0, false},
		{"d", 0, false},
		{"10 minutes", 0, false},
		{"99999999d", 0, false},
		{"", 0, false},
	}
	for _, c := range cases {
		got, err := ParseDuration(c.in)
		if !c.ok {
			assert.Error(t, err, c.in)
			continue
		}
		assert.NoError(t, err, c.in)
		assert.Equal(t, c.want, got, c.in)
	}
}

func TestScanRefs(t *testing.T) {
	t.Parallel()
	refs := scanRefs("a #{source.branch} b #{x} #{build.out.file} #{")
	if assert.Len(t, refs, 4) {
		assert.Equal(t, varRef{text: "#{source.branch}", ns: "source", name: "branch", offset: 2}, refs[0])
		assert.Contains(t, refs[1].problem, "has no namespace")
		assert.Equal(t, "build", refs[2].ns, "the name may itself hold dots")
		assert.Equal(t, "out.file", refs[2].name)
		assert.Contains(t, refs[3].problem, "unterminated")
	}
	assert.Empty(t, scanRefs("no variables # { here }"))
}
