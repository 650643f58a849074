package artifact

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// maxLinkTarget bounds a link entry's content, read into memory; PATH_MAX on Linux.
const maxLinkTarget = 4096

// maxLinkHops bounds how many links one resolution follows, as the kernel does (ELOOP).
const maxLinkHops = 40

// Unzip extracts the zip file at zipPath into dest, which must not exist or be an empty
// directory. The tree is built in a temporary directory beside dest and renamed into place,
// so on any failure, cancellation included, dest is left as it was.
//
// Entries whose names are absolute, climb out with "..", hold a backslash, or are links whose
// target leads outside dest (directly or through other links) are refused with ErrUnsafe.
// Permission bits recorded by a Unix zip are restored (set-id and sticky bits are dropped),
// other entries get the umask's defaults; directories always keep owner rwx so the tree can be
// written into and removed by whoever extracted it.
//
// An archive over the limits (DefaultLimits unless WithLimits says otherwise: total size, entry
// count, expansion ratio) is refused with ErrLimit before anything is written.
func Unzip(ctx context.Context, zipPath, dest string, opts ...Option) error {
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return fmt.Errorf("unzip %s: %w", zipPath, err)
	}
	defer zr.Close()
	if err := unzip(ctx, &zr.Reader, dest, limitsOf(opts)); err != nil {
		return fmt.Errorf("unzip %s into %s: %w", zipPath, dest, err)
	}
	return nil
}

func unzip(ctx context.Context, zr *zip.Reader, dest string, limits Limits) (err error) {
	dest = filepath.Clean(dest)
	if err := checkDest(dest); err != nil {
		return err
	}
	if err := checkLimits(zr.File, limits); err != nil {
		return err
	}
	parent := filepath.Dir(dest)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dest)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(tmp)
		}
	}()
	root, err := os.OpenRoot(tmp)
	if err != nil {
		return err
	}
	err = extractAll(ctx, root, zr.File)
	if cerr := root.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	// MkdirTemp made the directory private; the tree's top should look like any other.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// os.Rename never replaces a directory, even an empty one; Remove only removes an empty
	// one, so nothing can be lost in between.
	if err := os.Remove(dest); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.Rename(tmp, dest)
}

// checkDest accepts a dest that is absent or an empty directory (callers often make the
// directory first), and refuses anything else so Unzip never mixes two trees.
func checkDest(dest string) error {
	entries, err := os.ReadDir(dest)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case len(entries) > 0:
		return fmt.Errorf("%s is not empty", dest)
	}
	return nil
}

type link struct {
	name, target string
}

// extractAll writes directories and files first and creates links only afterwards, so no
// entry is ever written through a link the archive itself planted.
func extractAll(ctx context.Context, root *os.Root, files []*zip.File) error {
	dirs := map[string]fs.FileMode{}
	var links []link
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		name, err := entryName(f.Name)
		if err != nil {
			return err
		}
		if name == "." {
			continue
		}
		mode := f.Mode()
		switch {
		case mode.IsDir():
			if err := root.MkdirAll(name, 0o777); err != nil {
				return err
			}
			if perm, ok := unixPerm(f); ok {
				dirs[name] = perm | 0o700
			}
		case mode&fs.ModeSymlink != 0:
			target, err := readTarget(f)
			if err != nil {
				return err
			}
			if err := root.MkdirAll(path.Dir(name), 0o777); err != nil {
				return err
			}
			links = append(links, link{name: name, target: target})
		case mode.IsRegular():
			if err := writeFile(ctx, root, name, f); err != nil {
				return err
			}
		default:
			return fmt.Errorf("entry %q: cannot extract a %s", f.Name, mode.Type())
		}
	}
	for _, l := range links {
		if err := root.Symlink(l.target, l.name); err != nil {
			return fmt.Errorf("link %s: %w", l.name, err)
		}
	}
	// Only now are all links in place, and a link may lead through any other.
	for _, l := range links {
		if err := checkLink(root, l.name); err != nil {
			return err
		}
	}
	// Children first: a directory left without search permission would hide its children.
	names := make([]string, 0, len(dirs))
	for name := range dirs {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range slices.Backward(names) {
		if err := root.Chmod(name, dirs[name]); err != nil {
			return err
		}
	}
	return nil
}

// unixPerm returns the permission bits an entry recorded, if it recorded any. Archives made
// on Windows carry only MS-DOS attributes, which archive/zip maps to world-writable modes;
// like Info-ZIP, such entries (and Unix ones with empty attributes) get the umask's defaults.
func unixPerm(f *zip.File) (fs.FileMode, bool) {
	const creatorUnix, creatorMacOSX = 3, 19
	creator := f.CreatorVersion >> 8
	perm := f.Mode().Perm()
	return perm, (creator == creatorUnix || creator == creatorMacOSX) && perm != 0
}

// entryName validates an entry's name and returns it cleaned; "." names dest itself.
func entryName(raw string) (string, error) {
	name := strings.TrimSuffix(raw, "/")
	// A backslash is a separator to Windows tools: "..\x" would climb out there.
	if strings.Contains(name, `\`) || !filepath.IsLocal(name) {
		return "", fmt.Errorf("entry %q: %w", raw, ErrUnsafe)
	}
	return path.Clean(name), nil
}

func readTarget(f *zip.File) (string, error) {
	rc, err := f.Open()
	if err != nil {
		return "", fmt.Errorf("entry %q: %w", f.Name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxLinkTarget+1))
	if err != nil {
		return "", fmt.Errorf("entry %q: %w", f.Name, err)
	}
	if len(b) == 0 || len(b) > maxLinkTarget {
		return "", fmt.Errorf("entry %q: link target of %d bytes", f.Name, len(b))
	}
	return string(b), nil
}

func writeFile(ctx context.Context, root *os.Root, name string, f *zip.File) error {
	if err := root.MkdirAll(path.Dir(name), 0o777); err != nil {
		return err
	}
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("entry %q: %w", f.Name, err)
	}
	defer rc.Close()
	out, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
	if err != nil {
		return err
	}
	// The zip reader checks the size and CRC at the end of the entry, so a corrupt or lying
	// entry fails here rather than leaving wrong bytes behind.
	if _, err := io.Copy(out, ctxReader{ctx: ctx, r: rc}); err != nil {
		_ = out.Close()
		return fmt.Errorf("entry %q: %w", f.Name, err)
	}
	if err := out.Close(); err != nil {
		return err
	}
	if perm, ok := unixPerm(f); ok {
		if err := root.Chmod(name, perm); err != nil {
			return err
		}
	}
	if !f.Modified.IsZero() {
		// Builds that compare times (make) must see the archived times, not extraction's.
		return root.Chtimes(name, f.Modified, f.Modified)
	}
	return nil
}

// checkLink resolves the link at name the way the kernel would, following every link it meets
// on the way, and fails with ErrUnsafe if any step leaves root. A purely lexical check is not
// enough: with l1 -> "." the target "l1/.." looks harmless yet names root's parent.
// Components that do not exist are taken lexically, so a dangling link is accepted only if it
// would stay inside once its target is created.
func checkLink(root *os.Root, name string) error {
	target, err := root.Readlink(name)
	if err != nil {
		return err
	}
	unsafe := fmt.Errorf("link %s -> %s: %w", name, target, ErrUnsafe)
	if path.IsAbs(target) {
		return unsafe
	}
	var cur []string // where resolution stands: real directories or missing names, never links
	if dir := path.Dir(name); dir != "." {
		cur = strings.Split(dir, "/")
	}
	queue := strings.Split(target, "/") // components still to resolve
	hops := 0
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(cur) == 0 {
				return unsafe
			}
			cur = cur[:len(cur)-1]
			continue
		}
		p := path.Join(path.Join(cur...), c)
		fi, err := root.Lstat(p)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			cur = append(cur, c)
			continue
		}
		if hops++; hops > maxLinkHops {
			return fmt.Errorf("link %s -> %s: too many levels of links", name, target)
		}
		next, err := root.Readlink(p)
		if err != nil {
			return err
		}
		if path.IsAbs(next) {
			return unsafe
		}
		queue = append(strings.Split(next, "/"), queue...)
	}
	return nil
}
