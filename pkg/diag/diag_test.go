package diag

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSuggest(t *testing.T) {
	t.Parallel()
	keys := []string{"buildspec", "project", "image", "compute_type", "privileged", "s3", "A"}
	cases := []struct {
		name, in, want string
	}{
		{"a swapped pair of letters is one edit away", "biuldspec", "buildspec"},
		{"a different case matches before distance", "IMAGE", "image"},
		{"a missing letter is found", "projct", "project"},
		{"nothing is suggested for an unrelated word", "cluster", ""},
		{"a short word does not match by replacing all of it", "x", ""},
		{"a one-letter word is too short to guess from", "D", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, ok := Suggest(c.in, keys)
			assert.Equal(t, c.want != "", ok)
			assert.Equal(t, c.want, got)
		})
	}
	t.Run("buildspec phase names with a dash or a missing underscore are found", func(t *testing.T) {
		t.Parallel()
		phases := []string{"install", "pre_build", "build", "post_build"}
		for in, want := range map[string]string{"pre-build": "pre_build", "postbuild": "post_build", "deploy": ""} {
			got, _ := Suggest(in, phases)
			assert.Equal(t, want, got, in)
		}
	})
}

func TestDidYouMeanPhrasesTheSuggestion(t *testing.T) {
	t.Parallel()
	assert.Equal(t, `; did you mean "events"?`, DidYouMean("evnts", []string{"events", "branches"}))
	assert.Empty(t, DidYouMean("zzz", []string{"events"}))
}

func TestProblemsPrintOnePerLineSortedWithoutRepeats(t *testing.T) {
	t.Parallel()
	ps := Problems{
		{File: "f", Line: 3, Col: 1, Msg: "c", Rule: "r"},
		{File: "f", Line: 1, Col: 9, Msg: "b", Rule: "r"},
		{File: "f", Line: 1, Col: 2, Msg: "a", Rule: "r"},
		{File: "f", Line: 3, Col: 1, Msg: "c", Rule: "r"},
	}
	assert.Equal(t, "f:1:2: a [r]\nf:1:9: b [r]\nf:3:1: c [r]", ps.Sorted().Error())
}
