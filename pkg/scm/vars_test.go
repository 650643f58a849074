package scm

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSlug(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"main":             "main",
		"feature/Login_UI": "feature-login-ui",
		"--x--":            "x",
		"release/2026.11":  "release-2026-11",
		"a/very/long/branch/name/that/goes/on/and/on": "a-very-long-branch-name-that-goes-on-and",
	} {
		assert.Equal(t, want, Slug(in), in)
	}
}
