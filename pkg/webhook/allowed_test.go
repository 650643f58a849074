package webhook

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseAllowed(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, in string
		want     Allowed
		err      string
	}{
		{name: "an empty setting allows every repository", in: "", want: nil},
		{name: "patterns are split on commas and trimmed", in: " github:acme/* , bitbucket-server:OPS/deploy,",
			want: Allowed{"github:acme/*", "bitbucket-server:OPS/deploy"}},
		{name: "a pattern without a provider is refused", in: "acme/*", err: `"acme/*": expected provider:owner/repo`},
		{name: "an unknown provider is refused", in: "gitlab:acme/api", err: "with provider github, bitbucket or bitbucket-server"},
		{name: "a pattern without an owner is refused", in: "github:api", err: "is not an owner/repo pattern"},
		{name: "a malformed glob is refused", in: "github:acme/[api", err: "is not an owner/repo pattern"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseAllowed(c.in)
			if c.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), c.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.want, got)
		})
	}
}

func TestAllows(t *testing.T) {
	t.Parallel()
	list := Allowed{"github:acme/*", "bitbucket:Team/API"}
	cases := []struct {
		name, provider, repo string
		want                 bool
	}{
		{"a repository under an allowed owner passes", "github", "acme/web", true},
		{"names compare without case, as the providers do", "bitbucket", "team/api", true},
		{"the same name on another provider does not pass", "bitbucket-server", "acme/web", false},
		{"a star does not cross a slash", "github", "acme/web/extra", false},
		{"another owner does not pass", "github", "evil/acme", false},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, list.Allows(c.provider, c.repo), c.name)
	}
	assert.True(t, Allowed(nil).Allows("github", "anyone/anything"), "an empty list allows all")
}

func FuzzParseAllowed(f *testing.F) {
	for _, s := range []string{"", "github:acme/*", "bitbucket:a/b,github:[", ":,:", "github:a/b\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAllowed(s)
		if err != nil {
			return
		}
		for _, p := range a {
			again, err := ParseAllowed(p)
			require.NoError(t, err, "an accepted pattern parses again on its own")
			require.Equal(t, Allowed{p}, again)
		}
	})
}
