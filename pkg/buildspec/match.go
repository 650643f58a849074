package buildspec

import (
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// matchSpec is what artifact sets and report groups have in common.
type matchSpec struct {
	files, exclude    []string
	base              string
	discard, symlinks bool
}

// matchedFile is one file to copy.
type matchedFile struct {
	src  string // path on disk
	rel  string // slash-separated path inside the artifact
	link bool   // copy the symbolic link itself
}

func relPaths(files []matchedFile) []string {
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f.rel
	}
	return out
}

// match resolves a file list the way CodeBuild documents it: base-directory (which may be a
// glob of top-level directories) relative to the source directory, `files` globs relative to
// the base, exclude-paths relative to the base, discard-paths flattening. The log lines mirror
// the agent's. It returns a CodeBuild-style message instead of files when nothing matched.
func (b *build) match(ms matchSpec) ([]matchedFile, string) {
	baseLabel := ms.base
	if baseLabel == "" {
		baseLabel = "."
	}
	b.log.Printf("Expanding base directory path: %s", baseLabel)
	bases, msg := b.bases(ms.base)
	if msg != "" {
		return nil, msg
	}
	if len(bases) == 0 {
		return nil, "no matching base directory path found for " + baseLabel
	}
	b.log.Printf("Assembling file list")
	seen := map[string]string{}
	var out []matchedFile
	for _, base := range bases {
		for _, pat := range ms.files {
			b.log.Printf("Expanding %s", pat)
			found := b.expand(base, pat, ms.symlinks)
			if len(found) == 0 {
				b.log.Printf("Skipping invalid file path %s", pat)
				continue
			}
			for _, f := range found {
				if excluded(f.rel, ms.exclude) {
					continue
				}
				dest := f.rel
				if ms.discard {
					dest = path.Base(f.rel)
				}
				if prev, dup := seen[dest]; dup {
					if prev != f.src {
						b.warnf("%s and %s both map to %s in the artifact; keeping the first", prev, f.src, dest)
					}
					continue
				}
				seen[dest] = f.src
				out = append(out, matchedFile{src: f.src, rel: dest, link: f.link})
			}
		}
	}
	if len(out) == 0 {
		return nil, "no matching artifact paths found"
	}
	b.log.Printf("Found %d file(s)", len(out))
	sort.Slice(out, func(i, j int) bool { return out[i].rel < out[j].rel })
	return out, ""
}

func hasMeta(s string) bool { return strings.ContainsAny(s, `*?[{\`) }

// cleanPattern strips the "./" prefixes users write even though CodeBuild does not need them.
func cleanPattern(p string) string {
	p = filepath.ToSlash(p)
	for strings.HasPrefix(p, "./") {
		p = strings.TrimLeft(p[2:], "/")
	}
	return p
}

func hasDotDot(p string) bool {
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." {
			return true
		}
	}
	return false
}

func validPattern(p string) bool { return doublestar.ValidatePattern(cleanPattern(p)) }

// bases resolves base-directory to the directories it names, sorted. Like `files`, it is
// confined to the source directory: an absolute path, a ".." or a directory reached through a
// symbolic link that leads out is refused with a message, so a buildspec cannot collect the
// host's files (on CodeBuild it would only reach the build container's).
func (b *build) bases(base string) ([]string, string) {
	base = cleanPattern(base)
	if path.IsAbs(base) || hasDotDot(base) {
		return nil, "base-directory " + base + " leaves the source directory"
	}
	var candidates []string
	switch {
	case base == "" || base == ".":
		return []string{b.srcDir}, ""
	case !hasMeta(base):
		candidates = []string{filepath.Join(b.srcDir, filepath.FromSlash(base))}
	default:
		matches, err := doublestar.Glob(os.DirFS(b.srcDir), strings.TrimSuffix(base, "/"))
		if err != nil {
			return nil, ""
		}
		for _, m := range matches {
			candidates = append(candidates, filepath.Join(b.srcDir, filepath.FromSlash(m)))
		}
	}
	var out []string
	for _, p := range candidates {
		fi, err := os.Stat(p)
		if err != nil || !fi.IsDir() {
			continue
		}
		if !b.inside(p) {
			rel, _ := filepath.Rel(b.srcDir, p)
			return nil, "base-directory " + filepath.ToSlash(rel) + " is a symbolic link leading outside the source directory"
		}
		out = append(out, p)
	}
	sort.Strings(out)
	return out, ""
}

// inside reports whether p, with every symbolic link on its way resolved, is in the source
// directory. Walks never follow links below their root, so checking a walk's root and each
// link met is enough to keep every copied byte inside.
func (b *build) inside(p string) bool {
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return false
	}
	rel, err := filepath.Rel(b.realSrc, real)
	return err == nil && filepath.IsLocal(rel)
}

// expand lists the files a pattern names under base. Globs match files only, as CodeBuild
// documents (`dir/*` is the files directly in dir); a literal path naming a directory takes the
// whole directory. The output directory is never matched, so artifacts of an earlier run in a
// directory inside the source are not packed into the next one.
func (b *build) expand(base, pat string, symlinks bool) []matchedFile {
	pat = cleanPattern(pat)
	if pat == "" || pat == "." {
		pat = "**/*"
	}
	if path.IsAbs(pat) || hasDotDot(pat) {
		return nil
	}
	var out []matchedFile
	add := func(p, rel string, d fs.DirEntry) {
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			if symlinks {
				out = append(out, matchedFile{src: p, rel: rel, link: true})
				return
			}
			if !b.inside(p) {
				b.log.Printf("Skipping symbolic link %s: it leads outside the source directory", rel)
				return
			}
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
				out = append(out, matchedFile{src: p, rel: rel})
			} else if err == nil && fi.IsDir() {
				b.log.Printf("Skipping symbolic link to directory %s (enable-symlinks is off)", rel)
			}
		case d.Type().IsRegular():
			out = append(out, matchedFile{src: p, rel: rel})
		}
	}
	walk := func(root string, visit func(p, rel string, d fs.DirEntry) error) {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if b.outDir != "" && p == b.outDir {
				return filepath.SkipDir
			}
			rel, relErr := filepath.Rel(base, p)
			if relErr != nil {
				return nil
			}
			return visit(p, filepath.ToSlash(rel), d)
		})
	}

	if !hasMeta(pat) {
		p := filepath.Join(base, filepath.FromSlash(pat))
		fi, err := os.Lstat(p)
		if err != nil {
			return nil
		}
		// A link named literally is copied as a link with enable-symlinks; otherwise it, or a
		// linked directory on the way to it, must stay inside.
		if !(symlinks && fi.Mode()&fs.ModeSymlink != 0) && !b.inside(p) {
			b.log.Printf("Skipping %s: it leads outside the source directory through a symbolic link", pat)
			return nil
		}
		isDir := fi.IsDir()
		if fi.Mode()&fs.ModeSymlink != 0 && !symlinks {
			if target, err := os.Stat(p); err == nil && target.IsDir() {
				isDir = true
			}
		}
		if !isDir {
			add(p, pat, fs.FileInfoToDirEntry(fi))
			return out
		}
		// filepath.WalkDir walks a root that is a symbolic link, so a linked directory
		// named literally is taken whole; rel paths keep the name the user wrote.
		filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
			if err != nil || q == p {
				return nil
			}
			if b.outDir != "" && q == b.outDir {
				return filepath.SkipDir
			}
			rel, _ := filepath.Rel(p, q)
			if !d.IsDir() {
				add(q, path.Join(pat, filepath.ToSlash(rel)), d)
			}
			return nil
		})
		return out
	}

	prefix, _ := doublestar.SplitPattern(pat)
	root := base
	if prefix != "." {
		root = filepath.Join(base, filepath.FromSlash(prefix))
		if !b.inside(root) {
			b.log.Printf("Skipping %s: it leads outside the source directory through a symbolic link", pat)
			return nil
		}
	}
	deep := strings.Contains(pat, "**")
	segments := strings.Count(pat, "/") + 1
	walk(root, func(p, rel string, d fs.DirEntry) error {
		if p == root {
			return nil
		}
		if d.IsDir() {
			if !deep && strings.Count(rel, "/")+1 >= segments {
				return filepath.SkipDir
			}
			return nil
		}
		if doublestar.MatchUnvalidated(pat, rel) {
			add(p, rel, d)
		}
		return nil
	})
	return out
}

// excluded reports whether exclude-paths removes rel: a pattern matching the file or any of the
// directories above it excludes it, so `node_modules` excludes everything inside too.
func excluded(rel string, patterns []string) bool {
	for _, pat := range patterns {
		pat = cleanPattern(pat)
		for p := rel; p != "." && p != "/" && p != ""; p = path.Dir(p) {
			if doublestar.MatchUnvalidated(pat, p) {
				return true
			}
		}
	}
	return false
}
