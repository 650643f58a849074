package store_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/store"
)

func TestRecordScopeIsTheEnvironmentWhenTheRunHasOneAndTheBranchOtherwise(t *testing.T) {
	t.Parallel()
	withVars := func(branch string, vars map[string]map[string]string) store.Record {
		r := record("api", "api-1", 1, engine.InProgress)
		r.Provider, r.Repo, r.Branch = "github", "acme/shop", branch
		for ns, v := range vars {
			r.State.Vars[ns] = v
		}
		return r
	}
	for _, tc := range []struct {
		name string
		rec  store.Record
		want store.Scope
	}{
		{"a run with an environment belongs to it, whatever its branch",
			withVars("release/2", map[string]map[string]string{"env": {"name": "prod", "region": "eu-west-1"}}),
			store.Scope{Provider: "github", Repository: "acme/shop", Pipeline: "api", Environment: "prod"}},
		{"a run without one belongs to its branch",
			withVars("feature/login", map[string]map[string]string{"source": {"fork": "false"}}),
			store.Scope{Provider: "github", Repository: "acme/shop", Pipeline: "api", Branch: "feature/login"}},
		{"a fork's pull request is apart from this repository's branch of the same name",
			withVars("main", map[string]map[string]string{"source": {"fork": "true"}}),
			store.Scope{Provider: "github", Repository: "acme/shop", Pipeline: "api", Branch: "main", Fork: true}},
		{"a run its trigger did not trust is apart from the trusted runs of its environment and branch",
			func() store.Record {
				r := withVars("main", map[string]map[string]string{"env": {"name": "prod"}})
				r.Untrusted = true
				return r
			}(),
			store.Scope{Provider: "github", Repository: "acme/shop", Pipeline: "api", Branch: "main", Fork: true}},
		{"a tag's run without an environment has no branch",
			withVars("", nil),
			store.Scope{Provider: "github", Repository: "acme/shop", Pipeline: "api"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, tc.rec.Scope())
		})
	}
}

func TestScopeKeysDifferWhereJoinedNamesWouldNot(t *testing.T) {
	t.Parallel()
	pairs := [][2]store.Scope{
		{{Repository: "a/b#c", Pipeline: "p"}, {Repository: "a/b", Pipeline: "c#p"}},
		{{Provider: "github:x", Repository: "r", Pipeline: "p"}, {Provider: "github", Repository: "x:r", Pipeline: "p"}},
		{{Repository: "r", Pipeline: "p", Branch: "1:x"}, {Repository: "r", Pipeline: "p1:", Branch: "x"}},
		{{Repository: "r", Pipeline: "p", Environment: "main"}, {Repository: "r", Pipeline: "p", Branch: "main"}},
		{{Repository: "r", Pipeline: "p", Branch: "main"}, {Repository: "r", Pipeline: "p", Branch: "main", Fork: true}},
	}
	for _, p := range pairs {
		assert.NotEqual(t, p[0].Key(), p[1].Key(), "%#v and %#v", p[0], p[1])
		assert.False(t, strings.HasPrefix(p[1].Key(), p[0].Key()) || strings.HasPrefix(p[0].Key(), p[1].Key()), "no key prefixes another")
	}
	counter := store.Scope{Provider: "github", Repository: "r", Pipeline: "p", Environment: "prod"}.Counter()
	assert.Equal(t, store.Scope{Provider: "github", Repository: "r", Pipeline: "p"}, counter, "counters drop the environment and branch")
}

// parseKey decodes Scope.Key: if every key decodes back to its scope, no two scopes share one.
func parseKey(t *testing.T, key string) store.Scope {
	t.Helper()
	var fields []string
	for range 6 {
		n, rest, ok := strings.Cut(key, ":")
		require.True(t, ok, "a length before every field: %q", key)
		size, err := strconv.Atoi(n)
		require.NoError(t, err)
		require.LessOrEqual(t, size, len(rest))
		fields, key = append(fields, rest[:size]), rest[size:]
	}
	require.Empty(t, key, "nothing after the last field")
	return store.Scope{Provider: fields[0], Repository: fields[1], Pipeline: fields[2], Environment: fields[3], Branch: fields[4], Fork: fields[5] == "fork"}
}

func FuzzScopeKeyDecodesToItsScope(f *testing.F) {
	f.Add("github", "acme/shop", "api", "", "feature/x#1", false)
	f.Add("", "/home/ann/src/shop", "api", "br-main", "", false)
	f.Add("bitbucket-server", "PROJ/repo:1", "0:1", "", "3:abc", true)
	f.Fuzz(func(t *testing.T, provider, repo, pipeline, env, branch string, fork bool) {
		s := store.Scope{Provider: provider, Repository: repo, Pipeline: pipeline, Environment: env, Branch: branch, Fork: fork}
		assert.Equal(t, s, parseKey(t, s.Key()))
	})
}

func TestRunIDsAreReadableAndDifferBetweenRepositories(t *testing.T) {
	t.Parallel()
	shop := store.Scope{Provider: "github", Repository: "acme/shop", Pipeline: "api", Branch: "main"}
	id := store.RunID(shop, 12)
	assert.Regexp(t, `^api-12-[0-9a-f]{8}$`, id)

	prod := shop
	prod.Branch, prod.Environment = "", "prod"
	assert.Equal(t, id, store.RunID(prod, 12), "a number is the repository's and pipeline's, so is the id")
	blog := shop
	blog.Repository = "acme/blog"
	assert.NotEqual(t, id, store.RunID(blog, 12))
	bitbucket := shop
	bitbucket.Provider = "bitbucket"
	assert.NotEqual(t, id, store.RunID(bitbucket, 12))
}
