package sourcearchive

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func convert(t testing.TB, archive []byte, topDir bool) ([]byte, int, error) {
	t.Helper()
	var out bytes.Buffer
	n, err := Convert(context.Background(), &out, bytes.NewReader(archive), topDir)
	return out.Bytes(), n, err
}

func TestConvertKeepsTheSourceTreeFileByFile(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		prefix string
		topDir bool
	}{
		{"a GitHub archive loses its owner-repo-sha directory", "octo-app-7fd1a60/", true},
		{"a Bitbucket Cloud archive loses its workspace-repo-sha directory", "team-app-7fd1a60b01f9/", true},
		{"a Data Center archive, which has no top directory, stays as it is", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			tree := sourceTree()
			zipped, n, err := convert(t, gitArchive(t, c.prefix, tree), c.topDir)
			require.NoError(t, err)
			assert.Equal(t, len(tree), n)
			assert.Equal(t, tree, extracted(t, zipped))
		})
	}
}

func TestTheZipIsLaidOutAsInfoZIPLaysItOut(t *testing.T) {
	t.Parallel()
	zipped, _, err := convert(t, gitArchive(t, "octo-app-7fd1a60/", sourceTree()), true)
	require.NoError(t, err)
	files := entries(t, zipped)

	for name, f := range files {
		assert.NotContains(t, name, "octo-app", "paths start at the zip's root")
		assert.Equal(t, uint16(3), f.CreatorVersion>>8, "%s: made on Unix, so modes are read", name)
		assert.True(t, f.Modified.Equal(commitTime), "%s: the commit's time", name)
	}
	require.Contains(t, files, "bin/build.sh")
	assert.Equal(t, uint32(0o100755), files["bin/build.sh"].ExternalAttrs>>16, "the executable keeps its bits")
	assert.Equal(t, uint32(0o100644), files["README.md"].ExternalAttrs>>16)

	require.Contains(t, files, "src/current")
	link := files["src/current"]
	assert.Equal(t, uint32(0o120777), link.ExternalAttrs>>16, "a link is stored as a link")
	assert.Equal(t, zip.Store, link.Method)
	assert.Equal(t, "app", read(t, link))

	require.Contains(t, files, "empty/", "an empty directory has its own entry")
	assert.True(t, files["empty/"].Mode().IsDir())

	assert.Equal(t, zip.Store, files["assets/logo.png"].Method, "incompressible content is stored")
	assert.Equal(t, zip.Deflate, files["src/app/internal/deep/main.go"].Method, "text is deflated")
	assert.Less(t, files["src/app/internal/deep/main.go"].CompressedSize64, files["src/app/internal/deep/main.go"].UncompressedSize64/10)
}

func read(t testing.TB, f *zip.File) string {
	t.Helper()
	rc, err := f.Open()
	require.NoError(t, err)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	return string(b)
}

func TestArchivesThatCannotBeSourceAreRefused(t *testing.T) {
	t.Parallel()
	const top = "octo-app-7fd1a60/"
	small := map[string]node{"README.md": {0o644, "hi\n"}}
	hdr := func(name string, typ byte) *tar.Header {
		return &tar.Header{Name: name, Typeflag: typ, Mode: 0o644, ModTime: commitTime}
	}
	corrupt := gitArchive(t, top, sourceTree())
	corrupt = bytes.Clone(corrupt)
	corrupt[len(corrupt)/2] ^= 0xff
	cases := []struct {
		name    string
		archive []byte
		topDir  bool
		says    string
	}{
		{"a path climbing out with .. is refused", gitArchive(t, top, small, hdr(top+"../evil", tar.TypeReg)), true, "unsafe path"},
		{"an absolute path is refused", gitArchive(t, "", small, hdr("/etc/cron.d/x", tar.TypeReg)), false, "unsafe path"},
		{"an entry beside the top-level directory is refused", gitArchive(t, top, small, hdr("other/file", tar.TypeReg)), true, "outside the top-level directory"},
		{"an archive whose first entry sits at the root has no top-level directory", gitArchive(t, "", small), true, "has no top-level directory"},
		{"a hard link is refused", gitArchive(t, top, small, &tar.Header{Name: top + "h", Typeflag: tar.TypeLink, Linkname: top + "README.md"}), true, "hard link"},
		{"a device is refused", gitArchive(t, top, small, hdr(top+"tty", tar.TypeChar)), true, "character device"},
		{"a link without a target is refused", gitArchive(t, top, small, hdr(top+"l", tar.TypeSymlink)), true, "no target"},
		{"a web page instead of an archive is refused", []byte("<!DOCTYPE html><html>Sign in</html>"), true, "gzip"},
		{"an empty download is refused", nil, true, "empty"},
		{"gzip that holds no tar is refused", gzipped(t, bytes.Repeat([]byte("not a tar "), 200)), true, "tar"},
		{"a corrupt stream is refused", corrupt, true, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := convert(t, c.archive, c.topDir)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalidArchive)
			assert.Contains(t, err.Error(), c.says)
		})
	}
}

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, err := w.Write(b)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

func TestADownloadCutShortIsNotABrokenArchive(t *testing.T) {
	t.Parallel()
	archive := gitArchive(t, "octo-app-7fd1a60/", sourceTree())

	_, _, err := convert(t, archive[:len(archive)*2/3], true)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF, "a cut stream is a failed download, worth retrying")
	assert.NotErrorIs(t, err, ErrInvalidArchive)

	reset := errors.New("read tcp 10.0.0.1:443: connection reset by peer")
	_, err = Convert(context.Background(), io.Discard, &failingAfter{r: bytes.NewReader(archive), n: int64(len(archive) / 2), err: reset}, true)
	assert.ErrorIs(t, err, reset, "the download's own error is kept")
	assert.NotErrorIs(t, err, ErrInvalidArchive)
}

func TestAConversionStopsWhenItsContextIsCanceled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Convert(ctx, io.Discard, bytes.NewReader(gitArchive(t, "p/", sourceTree())), true)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestEntropyTellsTextFromNoise(t *testing.T) {
	t.Parallel()
	assert.Less(t, entropy([]byte("package main\n\nfunc main() { println(\"hello, world\") }\n")), storeEntropy)
	assert.Greater(t, entropy(noise(sniffSize, 7)), storeEntropy)
	assert.Equal(t, 0.0, entropy(bytes.Repeat([]byte{'a'}, 100)))
}
