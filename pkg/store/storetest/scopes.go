package storetest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/store"
)

// The scopes of the tests below: one pipeline "api" in two repositories of one provider and
// a same-named one of another provider, built from branches with and without environments.
var (
	shopMain     = scope("api")
	shopFeature  = store.Scope{Provider: "github", Repository: "acme/shop", Pipeline: "api", Branch: "feature/login"}
	shopForkMain = store.Scope{Provider: "github", Repository: "acme/shop", Pipeline: "api", Branch: "main", Fork: true}
	shopProd     = store.Scope{Provider: "github", Repository: "acme/shop", Pipeline: "api", Environment: "prod"}
	shopStaging  = store.Scope{Provider: "github", Repository: "acme/shop", Pipeline: "api", Environment: "staging"}
	blogMain     = store.Scope{Provider: "github", Repository: "acme/blog", Pipeline: "api", Branch: "main"}
	bbShopMain   = store.Scope{Provider: "bitbucket", Repository: "acme/shop", Pipeline: "api", Branch: "main"}
)

// in builds a run of sc's pipeline that Record.Scope places in sc: the branch and repository
// on the record, the environment (and a fork's flag) in the run's variables as the trigger
// and the local runner seed them.
func in(sc store.Scope, id string, seq int64, status engine.Status) store.Record {
	r := run(sc.Pipeline, id, seq, 100*seq, status)
	r.Provider, r.Repo, r.Branch = sc.Provider, sc.Repository, sc.Branch
	if sc.Environment != "" {
		r.Branch = "release/" + id // any branch: the environment decides
		r.State.Vars["env"] = map[string]string{"name": sc.Environment}
	}
	if sc.Fork {
		r.State.Vars["source"] = map[string]string{"fork": "true", "branch": sc.Branch}
	}
	return r
}

func nextSeq(t *testing.T, s store.Store, sc store.Scope) int64 {
	t.Helper()
	n, err := s.NextSeq(t.Context(), sc)
	require.NoError(t, err)
	return n
}

func nextSeqPerRepository(t *testing.T, s store.Store) {
	// Branches and environments of one repository's pipeline share its numbers, so a run
	// number is the order of the pipeline's runs; RunID stays unique in one table.
	got := []int64{nextSeq(t, s, shopMain), nextSeq(t, s, shopFeature), nextSeq(t, s, shopProd), nextSeq(t, s, shopForkMain)}
	assert.Equal(t, []int64{1, 2, 3, 4}, got)

	assert.Equal(t, int64(1), nextSeq(t, s, blogMain), "another repository counts on its own")
	assert.Equal(t, int64(1), nextSeq(t, s, bbShopMain), "the same name at another provider is another repository")
	other := shopMain
	other.Pipeline = "web"
	assert.Equal(t, int64(1), nextSeq(t, s, other))
	assert.Equal(t, int64(5), nextSeq(t, s, shopStaging))
}

func lastSucceededOf(t *testing.T, s store.Store, sc store.Scope) string {
	t.Helper()
	r, err := s.LastSucceeded(t.Context(), sc)
	if err != nil {
		require.ErrorIs(t, err, store.ErrNotFound)
		return ""
	}
	assert.Equal(t, sc, r.Scope(), "the run returned is of the scope asked")
	return r.ID()
}

func lastSucceededPerScope(t *testing.T, s store.Store) {
	put(t, s,
		in(shopMain, "main-ok", 1, engine.Succeeded),
		in(shopMain, "main-failed", 2, engine.Failed),
		// Newer successes elsewhere, every one a wrong rollback target for main.
		in(shopFeature, "feature-ok", 3, engine.Succeeded),
		in(shopForkMain, "fork-ok", 4, engine.Succeeded),
		in(shopProd, "prod-ok", 5, engine.Succeeded),
		in(blogMain, "blog-ok", 6, engine.Succeeded),
		in(bbShopMain, "bitbucket-ok", 7, engine.Succeeded),
	)

	assert.Equal(t, "main-ok", lastSucceededOf(t, s, shopMain))
	assert.Equal(t, "feature-ok", lastSucceededOf(t, s, shopFeature))
	assert.Equal(t, "fork-ok", lastSucceededOf(t, s, shopForkMain))
	assert.Equal(t, "prod-ok", lastSucceededOf(t, s, shopProd))
	assert.Equal(t, "blog-ok", lastSucceededOf(t, s, blogMain))
	assert.Equal(t, "bitbucket-ok", lastSucceededOf(t, s, bbShopMain))
	assert.Empty(t, lastSucceededOf(t, s, shopStaging), "an environment that never succeeded has no target")
}

func lastSucceededPerEnvironment(t *testing.T, s store.Store) {
	// Two branches deploying to prod (main and a release branch) share prod's target; a
	// branch that has no environment is not prod even when it is named so.
	fromMain := in(shopProd, "prod-from-main", 1, engine.Succeeded)
	fromMain.Branch = "main"
	fromRelease := in(shopProd, "prod-from-release", 2, engine.Succeeded)
	fromRelease.Branch = "release/2"
	namedProd := in(store.Scope{Provider: "github", Repository: "acme/shop", Pipeline: "api", Branch: "prod"}, "branch-prod", 3, engine.Succeeded)
	put(t, s, fromMain, fromRelease, namedProd)

	assert.Equal(t, "prod-from-release", lastSucceededOf(t, s, shopProd))
	assert.Empty(t, lastSucceededOf(t, s, shopMain), "main's runs went to prod, so main itself has none")
}

func acquireIn(t *testing.T, s store.Store, sc store.Scope, mode engine.Mode, run string, seq int64) engine.Grant {
	t.Helper()
	g, err := s.Acquire(t.Context(), sc, "Deploy", mode, run, seq)
	require.NoError(t, err)
	return g
}

func releaseIn(t *testing.T, s store.Store, sc store.Scope, run string) string {
	t.Helper()
	next, err := s.Release(t.Context(), sc, "Deploy", run)
	require.NoError(t, err)
	return next
}

func lanesPerBranch(t *testing.T, s store.Store) {
	for _, mode := range []engine.Mode{engine.ModeSuperseded, engine.ModeQueued} {
		t.Run(string(mode), func(t *testing.T) {
			require.True(t, acquireIn(t, s, shopMain, mode, "main-1", 1).Granted)
			require.Equal(t, engine.Grant{}, acquireIn(t, s, shopMain, mode, "main-2", 2))

			// A newer feature-branch run: in one lane it would wait (queued) or supersede
			// main-2 (superseded); in its own it goes straight in.
			assert.Equal(t, engine.Grant{Granted: true}, acquireIn(t, s, shopFeature, mode, "feature-3", 3))
			assert.Equal(t, engine.Grant{Granted: true}, acquireIn(t, s, shopForkMain, mode, "fork-4", 4))

			assert.Equal(t, "main-2", releaseIn(t, s, shopMain, "main-1"), "main-2 still waits and gets the lane")
			assert.Empty(t, releaseIn(t, s, shopFeature, "feature-3"))
			assert.Empty(t, releaseIn(t, s, shopForkMain, "fork-4"))
			assert.Empty(t, releaseIn(t, s, shopMain, "main-2"))
		})
	}
}

func lanesPerEnvironmentAndRepository(t *testing.T, s store.Store) {
	require.True(t, acquireIn(t, s, shopProd, engine.ModeQueued, "prod-1", 1).Granted)
	assert.False(t, acquireIn(t, s, shopProd, engine.ModeQueued, "prod-2", 2).Granted, "one environment, one lane")

	for i, sc := range []store.Scope{shopStaging, blogMain, bbShopMain, {Provider: "github", Repository: "acme/shop", Pipeline: "api", Branch: "prod"}} {
		assert.True(t, acquireIn(t, s, sc, engine.ModeQueued, "other", int64(10+i)).Granted, "%s", sc)
	}
	assert.Equal(t, "prod-2", releaseIn(t, s, shopProd, "prod-1"))
}

func scopesWithSeparatorsInNames(t *testing.T, s store.Store) {
	// Joined with # or / these pairs would give the same key.
	pairs := [][2]store.Scope{
		{{Repository: "a/b#c", Pipeline: "api", Branch: "d"}, {Repository: "a/b", Pipeline: "api", Branch: "c#d"}},
		{{Repository: "a", Pipeline: "api", Branch: "b/c"}, {Repository: "a/b", Pipeline: "api", Branch: "c"}},
		{{Repository: "x:1", Pipeline: "api", Environment: "e"}, {Repository: "x", Pipeline: "api", Environment: "1:e"}},
		{{Repository: "r", Pipeline: "api", Environment: "main"}, {Repository: "r", Pipeline: "api", Branch: "main"}},
	}
	for i, p := range pairs {
		require.NotEqual(t, p[0].Key(), p[1].Key())
		a, b := p[0], p[1]
		assert.True(t, acquireIn(t, s, a, engine.ModeQueued, "a", 1).Granted, "%s", a)
		assert.True(t, acquireIn(t, s, b, engine.ModeQueued, "b", 2).Granted, "%s and %s share a lane", a, b)

		ra, rb := in(a, "a-"+string(rune('0'+i)), 1, engine.Succeeded), in(b, "b-"+string(rune('0'+i)), 2, engine.Succeeded)
		put(t, s, ra, rb)
		assert.Equal(t, ra.ID(), lastSucceededOf(t, s, a))
		assert.Equal(t, rb.ID(), lastSucceededOf(t, s, b))
	}
	// Distinct repositories count apart even when their names run together.
	assert.Equal(t, int64(1), nextSeq(t, s, store.Scope{Repository: "a/b#c", Pipeline: "api"}))
	assert.Equal(t, int64(1), nextSeq(t, s, store.Scope{Repository: "a/b", Pipeline: "c#api"}))
}
