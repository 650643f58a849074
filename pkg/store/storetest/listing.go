package storetest

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/store"
)

// onBranch is run on branch instead of main.
func onBranch(branch string, r store.Record) store.Record {
	r.Branch = branch
	return r
}

// filtered is a history of pipeline api on two branches, ended and running, and one run of
// web: what the filtered listings below are checked against.
func filtered(t *testing.T, s store.Store) {
	t.Helper()
	put(t, s,
		run("api", "api-1", 1, 100, engine.Succeeded),
		onBranch("dev", run("api", "api-2", 2, 200, engine.Failed)),
		run("api", "api-3", 3, 300, engine.Failed),
		onBranch("dev", run("api", "api-4", 4, 400, engine.InProgress)),
		onBranch("dev", run("api", "api-5", 5, 500, engine.Succeeded)),
		run("api", "api-6", 6, 600, engine.InProgress),
		onBranch("dev", run("web", "web-1", 1, 700, engine.Succeeded)),
		onBranch("main", run("api", "api-7", 7, 800, engine.Succeeded)),
	)
}

func listBranchAndStatus(t *testing.T, s store.Store) {
	filtered(t, s)

	for _, tc := range []struct {
		f    store.Filter
		want []string
	}{
		{store.Filter{Pipeline: "api", Branch: "dev"}, []string{"api-5", "api-4", "api-2"}},
		{store.Filter{Pipeline: "api", Branch: "main"}, []string{"api-7", "api-6", "api-3", "api-1"}},
		{store.Filter{Pipeline: "api", Status: engine.Succeeded}, []string{"api-7", "api-5", "api-1"}},
		{store.Filter{Pipeline: "api", Status: engine.InProgress}, []string{"api-6", "api-4"}},
		{store.Filter{Pipeline: "api", Branch: "dev", Status: engine.Failed}, []string{"api-2"}},
		{store.Filter{Pipeline: "api", Branch: "main", Status: engine.InProgress}, []string{"api-6"}},
		{store.Filter{Pipeline: "api", Branch: "dev", Limit: 2}, []string{"api-5", "api-4"}},
		{store.Filter{Pipeline: "api", Branch: "nowhere"}, []string{}},
		{store.Filter{Pipeline: "api", Status: engine.Canceled}, []string{}},
		{store.Filter{Branch: "dev"}, []string{"web-1", "api-5", "api-4", "api-2"}},
		{store.Filter{Status: engine.Succeeded, Limit: 3}, []string{"api-7", "web-1", "api-5"}},
		{store.Filter{Pipeline: "api", Branch: "dev", Unfinished: true}, []string{"api-4"}},
	} {
		assert.Equal(t, tc.want, list(t, s, tc.f), "%+v", tc.f)
	}
}

func listPages(t *testing.T, s store.Store) {
	filtered(t, s)

	for _, f := range []store.Filter{
		{},
		{Pipeline: "api"},
		{Pipeline: "api", Branch: "dev"},
		{Pipeline: "api", Status: engine.Succeeded},
		{Pipeline: "api", Branch: "main", Status: engine.Failed},
		{Status: engine.Failed},
		{Unfinished: true},
	} {
		whole := list(t, s, f)
		var paged []string
		page := f
		page.Limit = 2
		for range 10 {
			got := list(t, s, page)
			paged = append(paged, got...)
			if len(got) < page.Limit {
				break
			}
			page.After = got[len(got)-1]
		}
		assert.Equal(t, whole, paged, "%+v two at a time", f)
	}
	// A page may start after a run the filter does not keep: the runs after its place.
	assert.Equal(t, []string{"api-3", "api-1"}, list(t, s, store.Filter{Pipeline: "api", Branch: "main", After: "api-4"}))
	assert.Equal(t, []string{"api-2", "api-1"}, list(t, s, store.Filter{Pipeline: "api", After: "api-3"}))
}

func listAfterMissing(t *testing.T, s store.Store) {
	filtered(t, s)

	_, err := s.ListRuns(t.Context(), store.Filter{Pipeline: "api", After: "api-99"})

	require.ErrorIs(t, err, store.ErrNotFound)
}

func listFilterAfterReplace(t *testing.T, s store.Store) {
	r := onBranch("dev", run("api", "r1", 1, 100, engine.Failed))
	put(t, s, r, run("api", "r0", 0, 50, engine.Failed))
	require.Equal(t, []string{"r1"}, list(t, s, store.Filter{Pipeline: "api", Branch: "dev", Status: engine.Failed}))

	r.State.Status = engine.InProgress // retried
	put(t, s, r)
	assert.Empty(t, list(t, s, store.Filter{Pipeline: "api", Branch: "dev", Status: engine.Failed}))
	assert.Equal(t, []string{"r1"}, list(t, s, store.Filter{Pipeline: "api", Branch: "dev"}), "listed once")

	r.State.Status = engine.Succeeded
	put(t, s, r)
	assert.Equal(t, []string{"r0"}, list(t, s, store.Filter{Pipeline: "api", Status: engine.Failed}))
	assert.Equal(t, []string{"r1"}, list(t, s, store.Filter{Pipeline: "api", Branch: "dev", Status: engine.Succeeded}))
	assert.Equal(t, []string{"r1"}, list(t, s, store.Filter{Pipeline: "api", Branch: "dev"}), "listed once")

	r.Branch = "main" // a record rewritten by hand, say
	put(t, s, r)
	assert.Empty(t, list(t, s, store.Filter{Pipeline: "api", Branch: "dev"}))
	assert.Equal(t, []string{"r1"}, list(t, s, store.Filter{Pipeline: "api", Branch: "main", Status: engine.Succeeded}))
}

func latest(t *testing.T, s store.Store) {
	got, err := s.Latest(t.Context())
	require.NoError(t, err)
	assert.Empty(t, got, "of an empty store")

	put(t, s,
		in(shopMain, "main-1", 1, engine.Succeeded),
		in(shopMain, "main-3", 3, engine.Failed),
		in(shopMain, "main-2", 2, engine.Succeeded),
		in(shopFeature, "feature-4", 4, engine.Succeeded),
		in(shopForkMain, "fork-5", 5, engine.Failed),
		in(shopProd, "prod-6", 6, engine.InProgress),
		in(shopProd, "prod-2", 2, engine.Succeeded),
		in(blogMain, "blog-1", 1, engine.Canceled),
		in(bbShopMain, "bb-7", 7, engine.Pending),
		run("web", "web-1", 1, 50, engine.Succeeded),
	)

	got, err = s.Latest(t.Context())

	require.NoError(t, err)
	assert.Equal(t, []string{"bb-7", "prod-6", "fork-5", "feature-4", "main-3", "blog-1", "web-1"}, ids(got))
}

func latestAfterReplace(t *testing.T, s store.Store) {
	old := in(shopMain, "main-1", 1, engine.Succeeded)
	r := in(shopMain, "main-2", 2, engine.Pending)
	put(t, s, old, r)

	r.State.Status = engine.InProgress
	put(t, s, r)
	got, err := s.Latest(t.Context())
	require.NoError(t, err)
	require.Equal(t, []string{"main-2"}, ids(got))
	assert.Equal(t, engine.InProgress, got[0].State.Status, "as last written")

	r.State.Status = engine.Failed
	put(t, s, r)
	put(t, s, old) // an older run written again stays behind
	got, err = s.Latest(t.Context())
	require.NoError(t, err)
	require.Equal(t, []string{"main-2"}, ids(got))
	assert.Equal(t, engine.Failed, got[0].State.Status)
}

func latestManyScopes(t *testing.T, s store.Store) {
	var want []string
	for i := range 30 {
		sc := shopMain
		sc.Branch = fmt.Sprintf("feature/%02d", i)
		for seq := int64(1); seq <= 3; seq++ {
			put(t, s, in(sc, fmt.Sprintf("b%02d-%d", i, seq), seq+int64(i)*3, engine.Succeeded))
		}
		want = append([]string{fmt.Sprintf("b%02d-3", i)}, want...)
	}

	got, err := s.Latest(t.Context())

	require.NoError(t, err)
	assert.Equal(t, want, ids(got))
}
