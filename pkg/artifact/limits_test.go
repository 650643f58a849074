package artifact

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"crypto/rand"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// zeroStream returns a raw deflate stream of mib MiB of zeros and their CRC-32. It is built
// the way a zip bomb is: one compressed MiB, flushed to a byte boundary so it needs nothing
// before it, repeated, then a final empty block. A 1 GiB entry costs about 1 MB and no
// compression time.
func zeroStream(t testing.TB, mib int) ([]byte, uint32) {
	t.Helper()
	zeros := make([]byte, 1<<20)
	var seg bytes.Buffer
	w, err := flate.NewWriter(&seg, flate.BestCompression)
	require.NoError(t, err)
	_, err = w.Write(zeros)
	require.NoError(t, err)
	require.NoError(t, w.Flush())
	var end bytes.Buffer
	w, err = flate.NewWriter(&end, flate.BestCompression)
	require.NoError(t, err)
	require.NoError(t, w.Close())

	stream := append(bytes.Repeat(seg.Bytes(), mib), end.Bytes()...)
	crc := uint32(0)
	for range mib {
		crc = crc32.Update(crc, crc32.IEEETable, zeros)
	}
	return stream, crc
}

// rawEntry is an entry whose deflate stream is given as is, with the sizes a bomb declares.
type rawEntry struct {
	name   string
	stream []byte
	crc    uint32
	size   uint64
}

func makeRawZip(t testing.TB, entries ...rawEntry) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		w, err := zw.CreateRaw(&zip.FileHeader{Name: e.name, Method: zip.Deflate, CRC32: e.crc,
			CompressedSize64: uint64(len(e.stream)), UncompressedSize64: e.size})
		require.NoError(t, err)
		_, err = w.Write(e.stream)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return writeZip(t, buf.Bytes())
}

// assertRefused checks that an extraction was refused by a limit and wrote nothing at all.
func assertRefused(t *testing.T, zipPath string, wantMsg string, opts ...Option) {
	t.Helper()
	parent := t.TempDir()
	err := Unzip(t.Context(), zipPath, filepath.Join(parent, "out"), opts...)
	require.ErrorIs(t, err, ErrLimit)
	assert.Contains(t, err.Error(), wantMsg)
	assert.Empty(t, names(t, parent), "nothing may be written for a refused archive")
}

func TestUnzipRefusesAZipBomb(t *testing.T) {
	t.Parallel()
	stream, crc := zeroStream(t, 1024)
	zipPath := makeRawZip(t, rawEntry{name: "zeros.bin", stream: stream, crc: crc, size: 1 << 30})
	fi, err := os.Stat(zipPath)
	require.NoError(t, err)
	require.Less(t, fi.Size(), int64(2<<20), "the bomb is a small file")

	assertRefused(t, zipPath, `entry "zeros.bin" expands`)
}

// Many entries that each stay under the ratio floor still add up to a bomb: the archive as a
// whole is checked too.
func TestUnzipRefusesABombSpreadOverManySmallEntries(t *testing.T) {
	t.Parallel()
	stream, crc := zeroStream(t, 1)
	entries := make([]rawEntry, 600)
	for i := range entries {
		entries[i] = rawEntry{name: fmt.Sprintf("z/%04d", i), stream: stream, crc: crc, size: 1 << 20}
	}
	assertRefused(t, makeRawZip(t, entries...), "the archive expands")
}

func TestUnzipRefusesTooManyEntries(t *testing.T) {
	t.Parallel()
	var entries []entry
	for i := range 11 {
		entries = append(entries, file(fmt.Sprintf("f%02d", i), "x"))
	}
	zipPath := writeZip(t, makeZip(t, entries...))

	assertRefused(t, zipPath, "11 entries, more than the limit of 10", WithLimits(Limits{Entries: 10}))
	require.NoError(t, Unzip(t.Context(), zipPath, filepath.Join(t.TempDir(), "out"), WithLimits(Limits{Entries: 11})))
}

func TestUnzipRefusesAnArchiveLargerThanTheSizeLimit(t *testing.T) {
	t.Parallel()
	random := make([]byte, 3000)
	_, _ = rand.Read(random)
	zipPath := writeZip(t, makeZip(t, file("a", string(random[:1000])), file("b", string(random[1000:]))))

	assertRefused(t, zipPath, `more than the limit of 2999 bytes (Limits.Size) by entry "b"`, WithLimits(Limits{Size: 2999}))
	require.NoError(t, Unzip(t.Context(), zipPath, filepath.Join(t.TempDir(), "out"), WithLimits(Limits{Size: 3000})))
}

// A high but legitimate ratio passes once the caller raises the limit, and a zero turns a
// check off.
func TestUnzipLimitsCanBeRaisedOrTurnedOff(t *testing.T) {
	t.Parallel()
	stream, crc := zeroStream(t, 8)
	zipPath := makeRawZip(t, rawEntry{name: "disk.img", stream: stream, crc: crc, size: 8 << 20})
	assertRefused(t, zipPath, "more than 100 times (Limits.Ratio)")

	out := filepath.Join(t.TempDir(), "out")
	require.NoError(t, Unzip(t.Context(), zipPath, out, WithLimits(Limits{Size: 8 << 20, Entries: 1, Ratio: 0})))
	fi, err := os.Stat(filepath.Join(out, "disk.img"))
	require.NoError(t, err)
	assert.Equal(t, int64(8<<20), fi.Size())
}

// The store applies its options to every extraction.
func TestLocalExtractAppliesItsLimits(t *testing.T) {
	t.Parallel()
	zipPath := writeZip(t, makeZip(t, file("a", "1"), file("b", "2")))
	err := NewLocal(t.TempDir(), WithLimits(Limits{Entries: 1})).Extract(t.Context(), zipPath, filepath.Join(t.TempDir(), "out"))
	require.ErrorIs(t, err, ErrLimit)
}
