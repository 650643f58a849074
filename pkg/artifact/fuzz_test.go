package artifact

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzUnzip feeds arbitrary bytes to Unzip, the parser of untrusted archives: it must never
// panic and never write anywhere but its destination, and every link it leaves must resolve
// inside the destination.
func FuzzUnzip(f *testing.F) {
	var tree bytes.Buffer
	if err := Zip(context.Background(), &tree, writeTree(f)); err != nil {
		f.Fatal(err)
	}
	f.Add(tree.Bytes())
	f.Add(tree.Bytes()[:tree.Len()/2])
	f.Add([]byte{})
	f.Add([]byte("PK\x05\x06" + strings.Repeat("\x00", 18)))
	f.Add(makeZip(f, file("../evil", "x")))
	f.Add(makeZip(f, file("a/../../evil", "x")))
	f.Add(makeZip(f, symlink("l1", "."), symlink("l2", "l1/.."), file("l2/evil", "x")))
	f.Add(makeZip(f, symlink("d", ".."), file("d/evil", "x")))
	f.Add(makeZip(f, dir("a/"), symlink("a/b", "../c"), file("c", "c")))
	f.Add(makeZip(f, symlink("a", "b"), symlink("b", "a")))

	f.Fuzz(func(t *testing.T, data []byte) {
		zipPath := filepath.Join(t.TempDir(), "in.zip")
		if err := os.WriteFile(zipPath, data, 0o644); err != nil {
			t.Fatal(err)
		}
		// dest sits two levels down so that an entry climbing one or two levels out would
		// show up in top.
		top := t.TempDir()
		dest := filepath.Join(top, "a", "b", "out")

		err := Unzip(context.Background(), zipPath, dest)

		var outside []string
		_ = filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
			if p == dest {
				return fs.SkipDir
			}
			if p != top && p != filepath.Join(top, "a") && p != filepath.Join(top, "a", "b") {
				outside = append(outside, p)
			}
			return nil
		})
		if len(outside) > 0 {
			t.Fatalf("Unzip (err %v) wrote outside its destination: %q", err, outside)
		}
		if err != nil {
			if _, statErr := os.Lstat(dest); statErr == nil {
				t.Fatalf("Unzip failed (%v) but left %s", err, dest)
			}
			return
		}
		realDest, err := filepath.EvalSymlinks(dest)
		if err != nil {
			t.Fatal(err)
		}
		_ = filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.Type()&fs.ModeSymlink == 0 {
				return nil
			}
			base := realDest
			resolved, err := filepath.EvalSymlinks(p)
			if err != nil {
				// Dangling: its lexical target must still stay inside.
				target, _ := os.Readlink(p)
				base, resolved = dest, filepath.Join(filepath.Dir(p), target)
			}
			if rel, err := filepath.Rel(base, resolved); err != nil || !(rel == "." || filepath.IsLocal(rel)) {
				t.Fatalf("link %s resolves to %s, outside %s", p, resolved, dest)
			}
			return nil
		})
	})
}
