// Package artifact keeps pipeline artifacts as zip files, the format CodePipeline itself stores
// on S3, so an artifact made by a local run looks exactly like one made on AWS and the same
// Zip and Unzip code serves both sides.
//
// Zip files are untrusted input: a source archive comes from a repository, a build output from
// whatever the build ran. Unzip therefore refuses every entry that would land outside its
// destination, directly or through a symbolic link, and never leaves half a tree behind.
package artifact

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Local stores artifacts on disk under root, one directory per run: root/<run>/<name>.zip.
type Local struct {
	root string
	opts []Option
}

// NewLocal returns a store of artifacts under root. Nothing is created until the first Put.
// opts apply to every Extract.
func NewLocal(root string, opts ...Option) *Local {
	return &Local{root: root, opts: opts}
}

// PutDir zips the tree under dir into the artifact name of run and returns the absolute path
// of the zip, which is the artifact's location in a run's state.
func (l *Local) PutDir(ctx context.Context, run, name, dir string) (string, error) {
	return l.put(run, name, func(f *os.File) error {
		return Zip(ctx, f, dir)
	})
}

// PutReader stores r, which must already be a zip stream (`git archive --format=zip` output,
// a download), as the artifact name of run. The stream is checked to be a readable zip with
// safe entry names before it takes its final name, so a cut-off download is refused here rather
// than discovered by the action that needs it.
func (l *Local) PutReader(ctx context.Context, run, name string, r io.Reader) (string, error) {
	return l.put(run, name, func(f *os.File) error {
		n, err := io.Copy(f, ctxReader{ctx: ctx, r: r})
		if err != nil {
			return err
		}
		return checkZip(f, n)
	})
}

// Extract unzips the artifact at location into dest, which must not exist or be an empty
// directory. See Unzip for what is refused.
func (l *Local) Extract(ctx context.Context, location, dest string) error {
	if strings.Contains(location, "://") {
		return fmt.Errorf("extract %s: not a local artifact", location)
	}
	return Unzip(ctx, location, dest, l.opts...)
}

// put writes an artifact through a temporary file in its final directory and renames it into
// place, so a crash at any point leaves either the whole artifact or none under its name.
func (l *Local) put(run, name string, write func(*os.File) error) (location string, err error) {
	for _, part := range []string{run, name} {
		if !isElement(part) {
			return "", fmt.Errorf("put artifact %q of run %q: %q is not a plain file name", name, run, part)
		}
	}
	dir, err := filepath.Abs(filepath.Join(l.root, run))
	if err != nil {
		return "", fmt.Errorf("put artifact %s of run %s: %w", name, run, err)
	}
	final := filepath.Join(dir, name+".zip")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("put artifact %s: %w", final, err)
	}
	tmp, err := os.CreateTemp(dir, "."+name+".zip.tmp-*")
	if err != nil {
		return "", fmt.Errorf("put artifact %s: %w", final, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err := write(tmp); err != nil {
		return "", fmt.Errorf("put artifact %s: %w", final, err)
	}
	// Sync before the rename: otherwise a power cut could leave the new name on an empty file.
	if err := tmp.Sync(); err != nil {
		return "", fmt.Errorf("put artifact %s: %w", final, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return "", fmt.Errorf("put artifact %s: %w", final, err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("put artifact %s: %w", final, err)
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return "", fmt.Errorf("put artifact %s: %w", final, err)
	}
	return final, nil
}

// checkZip reads the central directory and every local header of the n-byte zip in f: cheap
// compared with decompressing, and enough to catch a truncated or non-zip stream.
func checkZip(f *os.File, n int64) error {
	zr, err := zip.NewReader(f, n)
	if err != nil {
		return fmt.Errorf("not a zip: %w", err)
	}
	for _, zf := range zr.File {
		if _, err := entryName(zf.Name); err != nil {
			return err
		}
		if _, err := zf.DataOffset(); err != nil {
			return fmt.Errorf("entry %q: %w", zf.Name, err)
		}
	}
	return nil
}

// isElement reports whether s is usable as one file name: run ids and artifact names become
// path elements, and one holding a separator or ".." would write elsewhere in the tree.
func isElement(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, `/\`+"\x00")
}

// ctxReader stops a long copy as soon as ctx is done, instead of after the whole stream.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// ErrUnsafe marks an archive entry or a symbolic link that would reach outside the tree it
// belongs to. Retrying cannot fix it, so callers can report the action's failure as final.
var ErrUnsafe = errors.New("reaches outside the tree")
