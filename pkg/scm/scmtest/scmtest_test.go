package scmtest

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// probe is a testing.TB that records failures instead of failing the test, so the helpers'
// own failures can be checked.
type probe struct {
	testing.TB
	failures []string
}

func (p *probe) Helper() {}

func (p *probe) Errorf(format string, args ...any) {
	p.failures = append(p.failures, fmt.Sprintf(format, args...))
}

func (p *probe) Error(args ...any) { p.failures = append(p.failures, fmt.Sprint(args...)) }

func (p *probe) Fail() {}

func (p *probe) FailNow() { runtime.Goexit() }

func (p *probe) Fatalf(format string, args ...any) {
	p.Errorf(format, args...)
	runtime.Goexit()
}

func (p *probe) Fatal(args ...any) {
	p.Error(args...)
	runtime.Goexit()
}

// failures runs fn with a probe and returns what it reported, one string a failure.
func failures(t *testing.T, fn func(tb testing.TB)) []string {
	t.Helper()
	p := &probe{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(p)
	}()
	<-done
	return p.failures
}

func TestGoldenWritesOnUpdateAndThenMatches(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "x.json")
	got := map[string]string{"author": "Ana <ana@example.com>"}
	assert.Empty(t, failures(t, func(tb testing.TB) { Golden(tb, path, got, true) }))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "{\n  \"author\": \"Ana <ana@example.com>\"\n}\n", string(b), "indented, unescaped, newline-terminated")
	assert.Empty(t, failures(t, func(tb testing.TB) { Golden(tb, path, got, false) }))
}

func TestGoldenFailsOnADifferenceAndOnAMissingFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "x.json")
	require.NoError(t, os.WriteFile(path, []byte("{}\n"), 0o644))
	f := failures(t, func(tb testing.TB) { Golden(tb, path, map[string]int{"a": 1}, false) })
	require.NotEmpty(t, f)
	assert.Contains(t, strings.Join(f, "\n"), "differs; run the test with -update")

	f = failures(t, func(tb testing.TB) { Golden(tb, filepath.Join(dir, "missing.json"), 1, false) })
	require.NotEmpty(t, f)
	assert.Contains(t, strings.Join(f, "\n"), "missing golden file")
}

func TestNoLeftoversNamesOrDeletesTheFilesNoFixtureMade(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, name := range []string{"kept.json", "stale.json"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("{}\n"), 0o644))
	}
	keep := map[string]bool{"kept.json": true}

	f := failures(t, func(tb testing.TB) { NoLeftovers(tb, dir, keep, false) })
	require.Len(t, f, 1)
	assert.Contains(t, f[0], "stale.json belongs to no fixture")
	assert.FileExists(t, filepath.Join(dir, "stale.json"), "nothing is deleted without -update")

	assert.Empty(t, failures(t, func(tb testing.TB) { NoLeftovers(tb, dir, keep, true) }))
	assert.NoFileExists(t, filepath.Join(dir, "stale.json"))
	assert.FileExists(t, filepath.Join(dir, "kept.json"))
}

func TestReadFixturesFailsUnlessTheTableNamesEveryFileAndNothingMore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, name := range []string{"push.json", "unlisted.json", FixtureNotes} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(`{"n":"`+name+`"}`), 0o644))
	}
	var got []Fixture
	f := failures(t, func(tb testing.TB) {
		got = ReadFixtures(tb, dir, map[string]string{"push.json": "repo:push", "gone.json": "repo:fork"})
	})
	assert.Equal(t, []Fixture{{Name: "push.json", Event: "repo:push", Body: []byte(`{"n":"push.json"}`)}}, got)
	require.Len(t, f, 2, "the notes on where the fixtures come from are no fixture")
	assert.Contains(t, f[0], "unlisted.json has no event in the table")
	assert.Contains(t, f[1], "the table names gone.json")
}

func TestServerRecordsEveryRequest(t *testing.T) {
	t.Parallel()
	srv := NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	for _, path := range []string{"/a", "/b?x=1"} {
		resp, err := srv.Client().Get(srv.URL + path)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		assert.Equal(t, http.StatusTeapot, resp.StatusCode)
	}
	reqs := srv.Requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, "/a", reqs[0].URL.Path)
	assert.Equal(t, "1", reqs[1].URL.Query().Get("x"))
}

func TestOctokitExamplesFailsOnAnEventWithoutExamples(t *testing.T) {
	t.Parallel()
	assert.NotEmpty(t, OctokitExamples(t, "push"))
	f := failures(t, func(tb testing.TB) { OctokitExamples(tb, "no_such_event") })
	require.Len(t, f, 1)
	assert.Contains(t, f[0], "has no no_such_event example")
}

func TestPlaygroundDirHoldsTheBitbucketPayloads(t *testing.T) {
	t.Parallel()
	assert.DirExists(t, filepath.Join(PlaygroundDir(t), "testdata", "bitbucket"))
	assert.DirExists(t, filepath.Join(PlaygroundDir(t), "testdata", "bitbucket-server"))
}
