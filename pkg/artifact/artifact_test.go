package artifact

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPutDirStoresAZipUnderTheRunAndExtractGivesTheTreeBack(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	src := writeTree(t)
	l := NewLocal(root)

	loc, err := l.PutDir(t.Context(), "run-1", "bin", src)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(root, "run-1", "bin.zip"), loc)
	assert.Equal(t, []string{"bin.zip"}, names(t, filepath.Join(root, "run-1")), "no temporary file left")

	dest := filepath.Join(t.TempDir(), "work")
	require.NoError(t, l.Extract(t.Context(), loc, dest))
	assert.Equal(t, snapshot(t, src), snapshot(t, dest))
}

func TestPutDirReturnsAnAbsoluteLocationForARelativeRoot(t *testing.T) {
	// Not parallel: the relative root is resolved against the working directory.
	t.Chdir(t.TempDir())
	loc, err := NewLocal("artifacts").PutDir(t.Context(), "r", "a", writeTree(t))
	require.NoError(t, err)
	assert.True(t, filepath.IsAbs(loc), loc)
	assert.FileExists(t, loc)
}

func TestPutDirLeavesNothingUnderTheFinalNameWhenZippingFails(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	src := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(src, "a.txt"), []byte("a"), 0o644))
	require.NoError(t, os.Symlink("/etc/passwd", filepath.Join(src, "z")))

	_, err := NewLocal(root).PutDir(t.Context(), "run-1", "bin", src)

	require.ErrorIs(t, err, ErrUnsafe)
	assert.Empty(t, names(t, filepath.Join(root, "run-1")))
}

func TestPutDirReplacesAnArtifactOfTheSameName(t *testing.T) {
	t.Parallel()
	l := NewLocal(t.TempDir())
	first := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(first, "v1"), nil, 0o644))
	second := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(second, "v2"), nil, 0o644))
	_, err := l.PutDir(t.Context(), "r", "a", first)
	require.NoError(t, err)

	loc, err := l.PutDir(t.Context(), "r", "a", second)
	require.NoError(t, err)

	dest := filepath.Join(t.TempDir(), "out")
	require.NoError(t, l.Extract(t.Context(), loc, dest))
	assert.Equal(t, []string{"v2"}, names(t, dest))
}

func TestPutReaderStoresAZipStream(t *testing.T) {
	t.Parallel()
	l := NewLocal(t.TempDir())
	// The shape of `git archive --format=zip`: a directory entry, then its files.
	stream := makeZip(t, dir("cmd/"), file("cmd/main.go", "package main\n"), file("go.mod", "module x\n"))

	loc, err := l.PutReader(t.Context(), "run-1", "source", bytes.NewReader(stream))
	require.NoError(t, err)

	stored, err := os.ReadFile(loc)
	require.NoError(t, err)
	assert.Equal(t, stream, stored, "the stream is stored as it came")
	dest := filepath.Join(t.TempDir(), "src")
	require.NoError(t, l.Extract(t.Context(), loc, dest))
	assert.Equal(t, []string{"cmd", "go.mod"}, names(t, dest))
}

func TestPutReaderRefusesWhatIsNotAWholeSafeZip(t *testing.T) {
	t.Parallel()
	good := makeZip(t, file("a.txt", strings.Repeat("a", 1000)), file("b.txt", "b"))
	for _, tc := range []struct {
		name   string
		stream []byte
	}{
		{"a truncated zip", good[:len(good)-10]},
		{"a zip cut in half", good[:len(good)/2]},
		{"an empty stream", nil},
		{"plain text", []byte("hello, world")},
		{"a zip with an escaping entry", makeZip(t, file("../../evil", "x"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()

			_, err := NewLocal(root).PutReader(t.Context(), "run-1", "source", bytes.NewReader(tc.stream))

			require.Error(t, err)
			assert.Empty(t, names(t, filepath.Join(root, "run-1")))
		})
	}
}

func TestPutReaderStopsWhenTheContextIsCanceled(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	_, err := NewLocal(root).PutReader(ctx, "run-1", "source", bytes.NewReader(makeZip(t, file("a", "a"))))

	require.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, names(t, filepath.Join(root, "run-1")))
}

func TestPutRefusesRunAndArtifactNamesThatAreNotPlainFileNames(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ run, name string }{
		{"", "a"}, {"r", ""}, {".", "a"}, {"..", "a"}, {"r", ".."},
		{"a/b", "a"}, {"r", "../../etc/x"}, {`r\x`, "a"}, {"r", "a\x00b"},
	} {
		_, err := NewLocal(t.TempDir()).PutDir(t.Context(), tc.run, tc.name, t.TempDir())
		assert.ErrorContains(t, err, "not a plain file name", "run %q name %q", tc.run, tc.name)
	}
}

func TestExtractRefusesALocationThatIsNotLocal(t *testing.T) {
	t.Parallel()
	err := NewLocal(t.TempDir()).Extract(t.Context(), "s3://bucket/run/a.zip", t.TempDir())
	require.ErrorContains(t, err, "not a local artifact")
}
