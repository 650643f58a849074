package artifact

import (
	"archive/zip"
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// node is what a test compares of one path in a tree: its type and permissions, and its
// content (a file's bytes or a link's target).
type node struct {
	Mode fs.FileMode
	Body string
}

// snapshot reads the tree under dir without following links.
func snapshot(t testing.TB, dir string) map[string]node {
	t.Helper()
	tree := map[string]node{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		n := node{Mode: info.Mode()}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			n.Body, err = os.Readlink(p)
		case info.Mode().IsRegular():
			var b []byte
			b, err = os.ReadFile(p)
			n.Body = string(b)
		}
		tree[filepath.ToSlash(rel)] = n
		return err
	})
	require.NoError(t, err)
	return tree
}

// writeTree builds the tree a round trip must preserve: nested directories, an executable, a
// read-only file, links to a file and to a directory, and an empty directory.
func writeTree(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	files := []struct {
		name string
		perm fs.FileMode
		body string
	}{
		{"README.md", 0o644, "# demo\n"},
		{"bin/run.sh", 0o755, "#!/bin/sh\necho hi\n"},
		{"src/a/b/main.go", 0o644, "package main\n"},
		{"src/a/locked.txt", 0o444, "do not touch\n"},
	}
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(f.body), f.perm))
		require.NoError(t, os.Chmod(p, f.perm)) // umask may have cut the bits
	}
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "empty", "deeper"), 0o755))
	require.NoError(t, os.Symlink("src/a/b/main.go", filepath.Join(dir, "main.go")))
	require.NoError(t, os.Symlink("../src", filepath.Join(dir, "bin", "src")))
	return dir
}

// entry is one member of a zip crafted by a test.
type entry struct {
	name string
	mode fs.FileMode
	body string
}

func file(name, body string) entry { return entry{name: name, mode: 0o644, body: body} }
func dir(name string) entry        { return entry{name: name, mode: fs.ModeDir | 0o755} }
func symlink(name, target string) entry {
	return entry{name: name, mode: fs.ModeSymlink | 0o777, body: target}
}

// makeZip writes entries as given, names unchecked, the way a hostile archive would.
func makeZip(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		hdr := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		hdr.SetMode(e.mode)
		w, err := zw.CreateHeader(hdr)
		require.NoError(t, err)
		if e.mode&fs.ModeDir == 0 {
			_, err = w.Write([]byte(e.body))
			require.NoError(t, err)
		}
	}
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func writeZip(t testing.TB, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "in.zip")
	require.NoError(t, os.WriteFile(p, data, 0o644))
	return p
}

// names lists a directory's entries, to show nothing was left beside a destination.
func names(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}
