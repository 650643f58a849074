package deploy

import (
	"archive/zip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
)

// MaxFile is the largest file of an artifact a provider reads into memory (a task
// definition, an AppSpec, a template): a larger one is refused rather than held.
const MaxFile = 16 << 20

// ZipFile is an input artifact kept as a zip file on disk (`stepline run`): one file is read
// through the zip's central directory, never by extracting the artifact, and the s3 provider
// reads the zip itself at random (Zip). Close it when the deploy is done.
type ZipFile struct {
	f    *os.File
	size int64
	zip  *zip.Reader
	loc  Location
}

var _ Artifact = (*ZipFile)(nil)

// OpenZip opens the zip at path; loc is where the same artifact is in S3, when it is (the
// zero Location for an artifact that exists only on this machine).
func OpenZip(path string, loc Location) (*ZipFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open artifact: %w", err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open artifact: %w", err)
	}
	zr, err := zip.NewReader(f, info.Size())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("artifact %s: not a zip: %w", path, err)
	}
	return &ZipFile{f: f, size: info.Size(), zip: zr, loc: loc}, nil
}

// ReadFile returns one file of the zip, by its slash-separated path.
func (z *ZipFile) ReadFile(_ context.Context, name string) ([]byte, error) {
	b, err := ReadZipEntry(z.zip, name, MaxFile)
	if err != nil {
		return nil, fmt.Errorf("artifact %s: %w", z.f.Name(), err)
	}
	return b, nil
}

// Location is where the artifact is in S3 (zero when it is only on disk).
func (z *ZipFile) Location() Location { return z.loc }

// Zip returns the zip's bytes for reading at random, and its size.
func (z *ZipFile) Zip(context.Context) (io.ReaderAt, int64, error) { return z.f, z.size, nil }

// Close closes the file.
func (z *ZipFile) Close() error { return z.f.Close() }

// ReadZipEntry reads the entry name ("./" prefix ignored) of zr, refusing one larger than max
// bytes whatever its directory entry claims. A missing entry is an error wrapping
// fs.ErrNotExist that names the first entries the zip has.
func ReadZipEntry(zr *zip.Reader, name string, max int64) ([]byte, error) {
	name = strings.TrimPrefix(name, "./")
	for _, f := range zr.File {
		if f.Name != name {
			continue
		}
		if f.UncompressedSize64 > uint64(max) {
			return nil, fmt.Errorf("%s is %d bytes, more than the %d a deploy reads", name, f.UncompressedSize64, max)
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		defer rc.Close()
		// The size in the directory can lie; the limit holds whatever the data says.
		b, err := io.ReadAll(io.LimitReader(rc, max+1))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if int64(len(b)) > max {
			return nil, fmt.Errorf("%s is more than the %d bytes a deploy reads", name, max)
		}
		return b, nil
	}
	names := make([]string, 0, min(len(zr.File), 20))
	for _, f := range zr.File[:min(len(zr.File), 20)] {
		names = append(names, f.Name)
	}
	slices.Sort(names)
	return nil, fmt.Errorf("no file %s (it has %s): %w", name, strings.Join(names, ", "), fs.ErrNotExist)
}
