package local

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/stepline/stepline/pkg/scm"
)

// Checkout describes the local repository a run starts from.
type Checkout struct {
	// Root is the repository's top-level directory.
	Root string
	// Commit is HEAD's full hash; Branch is its branch ("" when detached).
	Commit, Branch string
	// Tag is a tag pointing exactly at HEAD, if any.
	Tag string
	// Message and Author describe HEAD.
	Message, Author string
	// Dirty reports uncommitted changes (tracked or untracked, not ignored).
	Dirty bool
	// Origin is the URL of the "origin" remote, "" without one: where commit statuses go.
	Origin string
}

// Inspect reads the repository containing dir.
func Inspect(ctx context.Context, dir string) (Checkout, error) {
	root, err := git(ctx, dir, "rev-parse", "--show-toplevel")
	if err != nil {
		return Checkout{}, fmt.Errorf("%s is not inside a git repository: %w", dir, err)
	}
	c := Checkout{Root: root}
	if c.Commit, err = git(ctx, root, "rev-parse", "--verify", "HEAD"); err != nil {
		return Checkout{}, fmt.Errorf("the repository %s has no commit yet: %w", root, err)
	}
	c.Branch, _ = git(ctx, root, "symbolic-ref", "--short", "-q", "HEAD")
	c.Tag, _ = git(ctx, root, "describe", "--tags", "--exact-match", "HEAD")
	info, _ := git(ctx, root, "log", "-1", "--format=%an%x00%B", "HEAD")
	c.Author, c.Message, _ = strings.Cut(info, "\x00")
	c.Message = strings.TrimSpace(c.Message)
	c.Origin, _ = git(ctx, root, "remote", "get-url", "origin")
	status, _ := git(ctx, root, "status", "--porcelain", "--untracked-files=normal")
	c.Dirty = status != ""
	return c, nil
}

// InspectRev reads the commit rev names in the repository containing dir, as a run started
// on it sees it (`stepline start`): rev is a branch (its head), or a commit on branch. The
// working tree is not looked at.
func InspectRev(ctx context.Context, dir, branch, rev string) (Checkout, error) {
	root, err := git(ctx, dir, "rev-parse", "--show-toplevel")
	if err != nil {
		return Checkout{}, fmt.Errorf("%s is not inside a git repository: %w", dir, err)
	}
	if rev == "" {
		rev = branch
	}
	if branch != "" {
		if _, err := git(ctx, root, "rev-parse", "--verify", "--quiet", "refs/heads/"+branch); err != nil {
			return Checkout{}, fmt.Errorf("the repository %s has no branch %q", root, branch)
		}
	}
	c := Checkout{Root: root, Branch: branch}
	if c.Commit, err = git(ctx, root, "rev-parse", "--verify", "--quiet", "--end-of-options", rev+"^{commit}"); err != nil {
		return Checkout{}, fmt.Errorf("the repository %s has no commit %q", root, rev)
	}
	info, _ := git(ctx, root, "log", "-1", "--format=%an%x00%B", c.Commit)
	c.Author, c.Message, _ = strings.Cut(info, "\x00")
	c.Message = strings.TrimSpace(c.Message)
	c.Origin, _ = git(ctx, root, "remote", "get-url", "origin")
	return c, nil
}

// File returns the contents of path at the checkout's commit.
func (c Checkout) File(ctx context.Context, path string) ([]byte, error) {
	out, err := exec.CommandContext(ctx, "git", "-C", c.Root, "show", c.Commit+":"+path).Output()
	if err != nil {
		return nil, fmt.Errorf("read %s at %.7s: %w", path, c.Commit, err)
	}
	return out, nil
}

// Variables is the source namespace of a local run, with the names a webhook event fills in
// on AWS, so a pipeline file behaves the same in both places.
func (c Checkout) Variables() map[string]string {
	short := c.Commit
	if len(short) > 7 {
		short = short[:7]
	}
	ref := "refs/heads/" + c.Branch
	if c.Branch == "" {
		ref = c.Commit
	}
	if c.Tag != "" && c.Branch == "" {
		ref = "refs/tags/" + c.Tag
	}
	return map[string]string{
		"provider":        "local",
		"event":           "manual",
		"repository":      filepath.Base(c.Root),
		"branch":          c.Branch,
		"branch_slug":     scm.Slug(c.Branch),
		"tag":             c.Tag,
		"ref":             ref,
		"commit_id":       c.Commit,
		"short_commit_id": short,
		"commit_message":  firstLine(c.Message),
		"author":          c.Author,
		"pr_number":       "",
		"fork":            "false",
	}
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimRight(string(out), "\n"), nil
}
