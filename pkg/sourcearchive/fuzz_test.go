package sourcearchive

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"io/fs"
	"strings"
	"testing"
)

// FuzzConvert feeds archives a provider could send: whatever Convert accepts must be a zip
// that reads back with one entry per counted entry, every path safe.
func FuzzConvert(f *testing.F) {
	small := map[string]node{
		"a":       {fs.ModeDir | 0o755, ""},
		"a/b.sh":  {0o755, "#!/bin/sh\n"},
		"a/l":     {fs.ModeSymlink | 0o777, "b.sh"},
		"x.txt":   {0o644, "text\n"},
		"x.empty": {0o644, ""},
	}
	f.Add(gitArchive(f, "octo-app-7fd1a60/", small), true)
	f.Add(gitArchive(f, "", small), false)
	f.Add(gitArchive(f, "p/", small, &tar.Header{Name: "p/../x", Typeflag: tar.TypeReg}), true)
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}, true)
	f.Fuzz(func(t *testing.T, archive []byte, topDir bool) {
		var out bytes.Buffer
		n, err := Convert(context.Background(), &out, bytes.NewReader(archive), topDir)
		if err != nil {
			return
		}
		zr, err := zip.NewReader(bytes.NewReader(out.Bytes()), int64(out.Len()))
		if err != nil {
			t.Fatalf("an accepted archive made an unreadable zip: %v", err)
		}
		if len(zr.File) != n {
			t.Fatalf("%d entries counted, %d in the zip", n, len(zr.File))
		}
		for _, f := range zr.File {
			if name := strings.TrimSuffix(f.Name, "/"); !fs.ValidPath(name) || name == "." {
				t.Fatalf("unsafe entry %q", f.Name)
			}
		}
	})
}
