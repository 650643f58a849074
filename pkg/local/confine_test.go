package local

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A local deploy's path comes from the pipeline file with its variables substituted: a
// branch can hold "../" and any variable an absolute path. Whatever it holds, a release lands
// inside the deploy directory or the action fails, final, before anything is written.

func TestADeployPathThatLeavesTheDeployDirectoryFailsWithoutWritingAnything(t *testing.T) {
	t.Parallel()
	for name, path := range map[string]func(f *deployFixture, outside string) string{
		"a branch climbing out with ../":        func(*deployFixture, string) string { return "envs/../../escaped" },
		"a branch that is only ..":              func(*deployFixture, string) string { return "envs/../.." },
		"an absolute path elsewhere":            func(_ *deployFixture, outside string) string { return outside },
		"an absolute path into the state dir":   func(f *deployFixture, _ string) string { return filepath.Dir(f.root) },
		"the deploy directory itself":           func(*deployFixture, string) string { return "." },
		"an absolute path climbing out of root": func(f *deployFixture, outside string) string { return f.root + "/site/../../" + filepath.Base(outside) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newDeployFixture(t)
			outside := t.TempDir()
			p := path(f, outside)

			out := f.deploy(map[string]string{"index.html": "pwned"}, map[string]any{"path": p})

			require.Error(t, out.Err)
			assert.True(t, out.Final, "a path is configuration: retrying cannot help")
			assert.Contains(t, out.Err.Error(), "is not inside the deploy directory "+f.root)
			assert.Contains(t, out.Err.Error(), p)
			entries, err := os.ReadDir(outside)
			require.NoError(t, err)
			assert.Empty(t, entries, "nothing was written outside")
			_, err = os.Stat(filepath.Join(filepath.Dir(f.root), "escaped"))
			assert.True(t, os.IsNotExist(err))
		})
	}
}

func TestADeployPathThroughASymlinkOutOfTheDeployDirectoryFails(t *testing.T) {
	t.Parallel()
	f := newDeployFixture(t)
	outside := t.TempDir()
	// A build (or anyone) plants links inside the deploy directory pointing out of it.
	require.NoError(t, os.Symlink(outside, filepath.Join(f.root, "envs")))
	require.NoError(t, os.MkdirAll(filepath.Join(f.root, "site"), 0o755))
	require.NoError(t, os.Symlink(outside, filepath.Join(f.root, "site", "releases")))

	for _, path := range []string{"envs/main", "envs", "site"} {
		out := f.deploy(map[string]string{"index.html": "pwned"}, map[string]any{"path": path})
		require.Error(t, out.Err, path)
		assert.True(t, out.Final)
		assert.Contains(t, out.Err.Error(), "which is not inside the deploy directory", path)
	}
	entries, err := os.ReadDir(outside)
	require.NoError(t, err)
	assert.Empty(t, entries, "nothing was written through the links")
}

func TestAPlantedReleaseDirectoryLinkIsNotFollowed(t *testing.T) {
	t.Parallel()
	f := newDeployFixture(t)
	outside := t.TempDir()
	// The next release's directory name is predictable: r.Release.<attempt>.
	require.NoError(t, os.MkdirAll(filepath.Join(f.root, "site", "releases"), 0o755))
	require.NoError(t, os.Symlink(outside, filepath.Join(f.root, "site", "releases", "r.Release.1")))

	out := f.deploy(map[string]string{"index.html": "pwned"}, map[string]any{"path": "site"})

	require.Error(t, out.Err)
	assert.Contains(t, out.Err.Error(), "is not inside the deploy directory")
	entries, err := os.ReadDir(outside)
	require.NoError(t, err)
	assert.Empty(t, entries)
}

func TestDeployPathsInsideTheDeployDirectoryStillWork(t *testing.T) {
	t.Parallel()
	f := newDeployFixture(t)
	inside := filepath.Join(f.root, "abs", "site")
	// A link that stays inside is followed like any directory.
	require.NoError(t, os.MkdirAll(filepath.Join(f.root, "real"), 0o755))
	require.NoError(t, os.Symlink(filepath.Join(f.root, "real"), filepath.Join(f.root, "alias")))
	for _, path := range []string{"envs/feature-x", "envs/a/../b", inside, "alias/site", "./x", "envs/..x"} {
		out := f.deploy(map[string]string{"v": path}, map[string]any{"path": path})
		require.NoError(t, out.Err, path)
		assert.DirExists(t, out.Variables["release_dir"], path)
	}
	assert.DirExists(t, filepath.Join(f.root, "real", "site", "releases"))
}
