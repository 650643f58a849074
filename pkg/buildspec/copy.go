package buildspec

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// copyFiles replaces dest with the matched files, keeping each file's mode and modification
// time so executables stay executable and tools that compare timestamps behave.
func copyFiles(files []matchedFile, dest string) error {
	if err := os.RemoveAll(dest); err != nil {
		return fmt.Errorf("clear %s: %w", dest, err)
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dest, err)
	}
	for _, f := range files {
		target := filepath.Join(dest, filepath.FromSlash(f.rel))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return fmt.Errorf("copy %s: %w", f.rel, err)
		}
		if f.link {
			link, err := os.Readlink(f.src)
			if err == nil {
				err = os.Symlink(link, target)
			}
			if err != nil {
				return fmt.Errorf("copy %s: %w", f.rel, err)
			}
			continue
		}
		if err := copyFile(f.src, target); err != nil {
			return fmt.Errorf("copy %s: %w", f.rel, err)
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	mode := fi.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	// Chmod after writing: the create mode is filtered by the umask, and a read-only source
	// file would otherwise be created unwritable before its content is copied.
	if err := os.Chmod(dst, mode); err != nil {
		return err
	}
	return os.Chtimes(dst, fi.ModTime(), fi.ModTime())
}
