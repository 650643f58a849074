package sourcearchive

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// Tree reads a commit one directory and one blob at a time: a provider without an archive
// API (CodeCommit's GetFolder and GetBlob). A refusal by the provider is an *scm.APIError.
type Tree interface {
	// Folder lists the directory dir of repo at commit: "" is the root, others are paths
	// relative to it without a leading slash.
	Folder(ctx context.Context, repo, commit, dir string) (Folder, error)
	// Blob returns the content of the blob id: a file's bytes, or a symbolic link's target.
	Blob(ctx context.Context, repo, id string) ([]byte, error)
}

// Folder is one directory of a Tree. Paths are relative to the commit's root.
type Folder struct {
	// Files are the directory's files and symbolic links.
	Files []TreeFile
	// Folders are its subdirectories.
	Folders []string
	// Modules are its submodules, which are other repositories: like git archive, the zip
	// holds an empty directory in their place.
	Modules []string
}

// TreeFile is a file or symbolic link of a Folder.
type TreeFile struct {
	Path   string
	BlobID string
	// Mode is a file's permissions (CodeCommit: 0o664, or 0o775 for an executable), or
	// fs.ModeSymlink|0o777 for a link.
	Mode fs.FileMode
}

// DefaultTreeConcurrency is how many blobs a tree walk reads at once.
const DefaultTreeConcurrency = 8

// treeItem is one entry of the zip in the order it is written; a blob's content arrives
// later, through done.
type treeItem struct {
	path string
	mode fs.FileMode
	blob string
	done chan struct{}
	data []byte
	err  error
}

// ZipTree writes commit of repo, read through src, to w as a zip laid out as Convert lays out
// a provider's archive: one entry per directory, Unix modes (executables stay executable),
// links stored as links whose content is the target, incompressible files stored. It returns
// the number of entries written.
//
// Directories are listed one after another while up to DefaultTreeConcurrency blobs are read
// at once; entries are written in the walk's order, so the zip is the same whatever order the
// blobs arrive in. At most DefaultTreeConcurrency blobs are held at any time (read, or waiting
// for their turn), so memory is bounded by that many of the largest blob the provider serves
// (CodeCommit: 6 MB), plus the zip's central directory.
//
// A path that is not safe (fs.ValidPath) or a link without a target is ErrInvalidArchive; the
// provider's refusals and failures are returned as they are.
func ZipTree(ctx context.Context, w io.Writer, src Tree, repo, commit string) (int, error) {
	return zipTree(ctx, w, src, repo, commit, DefaultTreeConcurrency)
}

func zipTree(ctx context.Context, w io.Writer, src Tree, repo, commit string, concurrency int) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	items := make(chan *treeItem, concurrency)
	// A slot is taken before a blob is read and given back once it is written.
	slots := make(chan struct{}, concurrency)
	walked := make(chan error, 1)
	go func() {
		defer close(items)
		walked <- walk(ctx, src, repo, commit, "", items, slots)
	}()

	c := &converter{sniff: make([]byte, sniffSize), buf: make([]byte, copySize)}
	c.zw = zip.NewWriter(w)
	c.zw.RegisterCompressor(zip.Deflate, fastDeflate)
	var err error
	for it := range items {
		if it.done != nil {
			<-it.done
			if err == nil && it.err != nil {
				err = fmt.Errorf("read %s: %w", it.path, it.err)
			}
		}
		if err == nil {
			err = c.addTree(it)
		}
		it.data = nil
		if it.done != nil {
			<-slots
		}
		if err != nil {
			// Stops the walk and the reads under way; the loop drains what was queued.
			cancel()
		}
	}
	if werr := <-walked; err == nil {
		err = werr
	}
	if err != nil {
		return c.entries, err
	}
	if err := c.zw.Close(); err != nil {
		return c.entries, fmt.Errorf("finish the zip: %w", err)
	}
	return c.entries, nil
}

// walk queues dir's entries depth first, each directory before its contents, names in
// order, and starts reading each blob as it is queued.
func walk(ctx context.Context, src Tree, repo, commit, dir string, items chan<- *treeItem, slots chan struct{}) error {
	f, err := src.Folder(ctx, repo, commit, dir)
	if err != nil {
		if dir == "" {
			return err
		}
		return fmt.Errorf("list %s: %w", dir, err)
	}
	type entry struct {
		path   string
		file   *TreeFile
		folder bool
	}
	var all []entry
	for i := range f.Files {
		all = append(all, entry{path: f.Files[i].Path, file: &f.Files[i]})
	}
	for _, p := range f.Folders {
		all = append(all, entry{path: p, folder: true})
	}
	for _, p := range f.Modules {
		all = append(all, entry{path: p})
	}
	slices.SortFunc(all, func(a, b entry) int { return strings.Compare(a.path, b.path) })
	send := func(it *treeItem) error {
		select {
		case items <- it:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for _, e := range all {
		if !fs.ValidPath(e.path) || e.path == "." || (dir != "" && !strings.HasPrefix(e.path, dir+"/")) || (dir == "" && strings.Contains(e.path, "/")) {
			return fmt.Errorf("%w: entry %q has an unsafe path or lies outside %q", ErrInvalidArchive, clip(e.path), "/"+dir)
		}
		if e.file == nil {
			// A directory, or a submodule's empty place.
			// git archive's directory mode (umask 002).
			if err := send(&treeItem{path: e.path, mode: fs.ModeDir | 0o775}); err != nil {
				return err
			}
			if e.folder {
				if err := walk(ctx, src, repo, commit, e.path, items, slots); err != nil {
					return err
				}
			}
			continue
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		it := &treeItem{path: e.path, mode: e.file.Mode, blob: e.file.BlobID, done: make(chan struct{})}
		go func() {
			defer close(it.done)
			it.data, it.err = src.Blob(ctx, repo, it.blob)
		}()
		if err := send(it); err != nil {
			// Never queued: nobody else waits for this read or gives its slot back.
			<-it.done
			<-slots
			return err
		}
	}
	return nil
}

// addTree writes one entry of a tree walk.
func (c *converter) addTree(it *treeItem) error {
	fh := &zip.FileHeader{Name: it.path, Method: zip.Store}
	var err error
	switch {
	case it.mode.IsDir():
		fh.Name += "/"
		fh.SetMode(it.mode)
		_, err = c.zw.CreateHeader(fh)
	case it.mode&fs.ModeSymlink != 0:
		if len(it.data) == 0 {
			return fmt.Errorf("%w: symbolic link %q has no target", ErrInvalidArchive, it.path)
		}
		fh.SetMode(fs.ModeSymlink | 0o777)
		var ew io.Writer
		if ew, err = c.zw.CreateHeader(fh); err == nil {
			_, err = ew.Write(it.data)
		}
	default:
		fh.SetMode(it.mode.Perm())
		err = c.file(fh, int64(len(it.data)), bytes.NewReader(it.data))
	}
	if err != nil {
		return err
	}
	c.entries++
	return nil
}

// cleanDir is dir as Tree.Folder takes it: relative, without slashes around it.
func cleanDir(dir string) string {
	dir = strings.Trim(dir, "/")
	if dir == "" {
		return ""
	}
	return path.Clean(dir)
}
