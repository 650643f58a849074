package artifact

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestZipThenUnzipGivesBackTheSameTree(t *testing.T) {
	t.Parallel()
	src := writeTree(t)
	var buf bytes.Buffer
	require.NoError(t, Zip(t.Context(), &buf, src))
	dest := filepath.Join(t.TempDir(), "out")

	require.NoError(t, Unzip(t.Context(), writeZip(t, buf.Bytes()), dest))

	want := snapshot(t, src)
	got := snapshot(t, dest)
	require.Equal(t, want, got)
	// The snapshot holds each kind the round trip must keep; a silent loss would pass above.
	assert.Equal(t, fs.FileMode(0o755), got["bin/run.sh"].Mode)
	assert.Equal(t, fs.FileMode(0o444), got["src/a/locked.txt"].Mode)
	assert.Equal(t, node{Mode: fs.ModeSymlink | 0o777, Body: "../src"}, got["bin/src"])
	assert.True(t, got["empty/deeper"].Mode.IsDir())
}

func TestZipWritesEntriesAsInfoZipDoes(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	require.NoError(t, Zip(t.Context(), &buf, writeTree(t)))
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	require.NoError(t, err)

	var got []string
	byName := map[string]*zip.File{}
	for _, f := range zr.File {
		got = append(got, f.Name)
		byName[f.Name] = f
	}
	assert.Equal(t, []string{
		"README.md", "bin/", "bin/run.sh", "bin/src", "empty/", "empty/deeper/", "main.go",
		"src/", "src/a/", "src/a/b/", "src/a/b/main.go", "src/a/locked.txt",
	}, got)
	const unix = 3
	const sIFLNK, sIFDIR = 0o120000, 0o040000
	link := byName["main.go"]
	assert.Equal(t, unix, int(link.CreatorVersion>>8))
	assert.Equal(t, uint32(sIFLNK|0o777), link.ExternalAttrs>>16)
	assert.Equal(t, zip.Store, link.Method)
	assert.Equal(t, uint32(sIFDIR|0o755), byName["empty/"].ExternalAttrs>>16)
	assert.Equal(t, uint32(0o100755), byName["bin/run.sh"].ExternalAttrs>>16)
	assert.Equal(t, zip.Deflate, byName["bin/run.sh"].Method)
}

func TestZipRefusesALinkLeadingOutOfTheTree(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, target string }{
		{"absolute", "/etc/passwd"},
		{"climbing", "../outside"},
		{"through another link", "here/.."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := t.TempDir()
			require.NoError(t, os.Symlink(".", filepath.Join(src, "here")))
			require.NoError(t, os.Symlink(tc.target, filepath.Join(src, "zz")))
			err := Zip(t.Context(), &bytes.Buffer{}, src)
			require.ErrorIs(t, err, ErrUnsafe)
		})
	}
}

func TestZipStopsWhenTheContextIsCanceled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := Zip(ctx, &bytes.Buffer{}, writeTree(t))
	require.ErrorIs(t, err, context.Canceled)
}

func TestUnzipRefusesEntriesThatEscapeTheDestination(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		unsafe  bool // refused as unsafe, not merely failing
		entries []entry
	}{
		{"a parent path", true, []entry{file("../evil", "x")}},
		{"a parent path hidden in the middle", true, []entry{file("a/../../evil", "x")}},
		{"an absolute path", true, []entry{file("/tmp/evil", "x")}},
		{"a bare root", true, []entry{dir("/")}},
		{"a backslash path", true, []entry{file(`..\evil`, "x")}},
		{"an empty name", true, []entry{file("", "x")}},
		{"a link to an absolute path", true, []entry{symlink("passwd", "/etc/passwd")}},
		{"a link climbing out", true, []entry{symlink("up", "../..")}},
		{"a link climbing out from a subdirectory", true, []entry{dir("a/"), symlink("a/up", "../../evil")}},
		{"a link that climbs out through another link", true, []entry{symlink("l1", "."), symlink("l2", "l1/..")}},
		{"a link chain ending outside", true, []entry{symlink("l1", "l2"), symlink("l2", "../evil")}},
		{"a file written through a link", false, []entry{symlink("d", ".."), file("d/evil", "x")}},
		{"a link loop", false, []entry{symlink("a", "b"), symlink("b", "a")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			zipPath := writeZip(t, makeZip(t, append([]entry{file("ok.txt", "fine")}, tc.entries...)...))
			parent := filepath.Join(t.TempDir(), "p")
			require.NoError(t, os.MkdirAll(parent, 0o755))

			err := Unzip(t.Context(), zipPath, filepath.Join(parent, "out"))

			require.Error(t, err)
			if tc.unsafe {
				require.ErrorIs(t, err, ErrUnsafe)
			}
			assert.Empty(t, names(t, parent), "nothing may be left beside the destination")
			assert.Equal(t, []string{"p"}, names(t, filepath.Dir(parent)))
		})
	}
}

func TestUnzipAcceptsLinksThatStayInside(t *testing.T) {
	t.Parallel()
	zipPath := writeZip(t, makeZip(t,
		dir("lib/"), file("lib/libx.so.1", "elf"),
		symlink("lib/libx.so", "libx.so.1"),
		symlink("bin/x", "../lib/./libx.so"),
		symlink("here", "."),
		symlink("dangling", "not/yet/there"),
	))
	dest := filepath.Join(t.TempDir(), "out")

	require.NoError(t, Unzip(t.Context(), zipPath, dest))

	b, err := os.ReadFile(filepath.Join(dest, "bin", "x"))
	require.NoError(t, err)
	assert.Equal(t, "elf", string(b))
}

func TestUnzipLeavesNoPartialTreeWhenAnEntryIsCorrupt(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create("good.txt")
	require.NoError(t, err)
	_, err = w.Write([]byte("good"))
	require.NoError(t, err)
	raw, err := zw.CreateRaw(&zip.FileHeader{Name: "bad.txt", Method: zip.Store,
		CRC32: 1, CompressedSize64: 3, UncompressedSize64: 3})
	require.NoError(t, err)
	_, err = raw.Write([]byte("bad"))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	parent := t.TempDir()

	err = Unzip(t.Context(), writeZip(t, buf.Bytes()), filepath.Join(parent, "out"))

	require.ErrorIs(t, err, zip.ErrChecksum)
	assert.Empty(t, names(t, parent))
}

// countdown is a context that reports cancellation after its Err has been asked n times, so
// a test can cancel in the middle of an extraction without racing a timer.
type countdown struct {
	context.Context
	n atomic.Int32
}

func (c *countdown) Err() error {
	if c.n.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

func TestUnzipStopsBetweenEntriesWhenCanceledAndLeavesNothing(t *testing.T) {
	t.Parallel()
	var entries []entry
	for _, n := range "abcdefghijklmnopqrst" {
		entries = append(entries, file(string(n)+".txt", "content"))
	}
	zipPath := writeZip(t, makeZip(t, entries...))
	parent := t.TempDir()
	ctx := &countdown{Context: t.Context()}
	ctx.n.Store(10)

	err := Unzip(ctx, zipPath, filepath.Join(parent, "out"))

	require.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, names(t, parent))
}

func TestUnzipReplacesAnEmptyDestinationButNotAFullOne(t *testing.T) {
	t.Parallel()
	zipPath := writeZip(t, makeZip(t, file("a.txt", "a")))
	empty := t.TempDir()
	require.NoError(t, Unzip(t.Context(), zipPath, empty))
	assert.Equal(t, []string{"a.txt"}, names(t, empty))

	err := Unzip(t.Context(), zipPath, empty)
	require.ErrorContains(t, err, "not empty")
	assert.Equal(t, []string{"a.txt"}, names(t, empty))
}

func TestUnzipGivesWindowsEntriesDefaultModes(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	// A bare FileHeader records MS-DOS attributes only, as zips made on Windows do.
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "a.txt"})
	require.NoError(t, err)
	_, err = w.Write([]byte("a"))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	dest := filepath.Join(t.TempDir(), "out")

	require.NoError(t, Unzip(t.Context(), writeZip(t, buf.Bytes()), dest))

	info, err := os.Stat(filepath.Join(dest, "a.txt"))
	require.NoError(t, err)
	assert.Zero(t, info.Mode().Perm()&0o022, "a Windows entry must not become world-writable")
}

func TestUnzipReportsAFileThatIsNotAZip(t *testing.T) {
	t.Parallel()
	err := Unzip(t.Context(), writeZip(t, []byte("not a zip")), filepath.Join(t.TempDir(), "out"))
	require.True(t, errors.Is(err, zip.ErrFormat), "got %v", err)
}
