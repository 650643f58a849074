package artifact

import (
	"archive/zip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// Zip writes the tree under dir to w as a zip archive laid out as Info-ZIP's `zip -ry` lays it
// out, which is what CodePipeline and CodeBuild read: names relative to dir with forward
// slashes, one entry per directory (so empty ones survive), Unix modes in the high half of the
// external attributes, and symbolic links stored as links whose content is the target.
// Entries come in lexical order so one tree always gives the same list.
//
// A link that leads outside dir, or a file that is neither regular, directory nor link, is an
// error: the first could not be extracted again and the second has no meaning in an artifact.
func Zip(ctx context.Context, w io.Writer, dir string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("zip %s: %w", dir, err)
	}
	defer root.Close()
	zw := zip.NewWriter(w)
	err = fs.WalkDir(root.FS(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if name == "." {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return addEntry(ctx, zw, root, name, info)
	})
	if err != nil {
		return fmt.Errorf("zip %s: %w", dir, err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("zip %s: %w", dir, err)
	}
	return nil
}

func addEntry(ctx context.Context, zw *zip.Writer, root *os.Root, name string, info fs.FileInfo) error {
	hdr, err := zip.FileInfoHeader(info)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	hdr.Name = name
	switch mode := info.Mode(); {
	case mode.IsDir():
		hdr.Name += "/"
		_, err := zw.CreateHeader(hdr)
		return err
	case mode&fs.ModeSymlink != 0:
		if err := checkLink(root, name); err != nil {
			return err
		}
		target, err := root.Readlink(name)
		if err != nil {
			return err
		}
		// Info-ZIP stores a link's target uncompressed; some readers expect it that way.
		hdr.Method = zip.Store
		ew, err := zw.CreateHeader(hdr)
		if err != nil {
			return err
		}
		_, err = io.WriteString(ew, target)
		return err
	case mode.IsRegular():
		f, err := root.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		// FileInfoHeader leaves the method at Store; artifacts are mostly text and compress.
		hdr.Method = zip.Deflate
		ew, err := zw.CreateHeader(hdr)
		if err != nil {
			return err
		}
		_, err = io.Copy(ew, ctxReader{ctx: ctx, r: f})
		return err
	default:
		return fmt.Errorf("%s: cannot store a %s in an artifact", name, mode.Type())
	}
}
