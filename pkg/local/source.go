package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/stepline/stepline/pkg/engine"
)

// Source archives the repository at the run's commit as the "source" artifact: `git archive`
// of the commit, or with Dirty a snapshot of the working tree (tracked and untracked files git
// does not ignore), so uncommitted changes can be tried before they are pushed.
type Source struct {
	// Repo is the repository's top-level directory.
	Repo string
	// Commit is the commit to archive (a full hash).
	Commit string
	// Dirty archives the working tree instead of Commit.
	Dirty bool
	// Exclude lists repository-relative directories left out of dirty snapshots (the state
	// directory, when it sits inside the repository).
	Exclude []string
}

// Execute stores the archive under the task's first output name.
func (s Source) Execute(ctx context.Context, t engine.Task, env Env) Outcome {
	if len(t.Outputs) != 1 {
		return failf(fmt.Errorf("a source action has exactly one output, got %d", len(t.Outputs)))
	}
	name := t.Outputs[0]
	var loc string
	var err error
	if s.Dirty {
		fmt.Fprintf(env.Log, "[stepline] snapshot of the working tree of %s\n", s.Repo)
		loc, err = s.snapshot(ctx, t, env, name)
	} else {
		fmt.Fprintf(env.Log, "[stepline] git archive %s of %s\n", s.Commit, s.Repo)
		loc, err = s.archive(ctx, t, env, name)
	}
	if err != nil {
		return Outcome{Err: err}
	}
	return Outcome{Outputs: map[string]string{name: loc}}
}

func (s Source) archive(ctx context.Context, t engine.Task, env Env, name string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", "-C", s.Repo, "archive", "--format=zip", s.Commit)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("git archive: %w", err)
	}
	loc, putErr := env.Artifacts.PutReader(ctx, t.Run, name, out)
	if putErr != nil {
		_, _ = io.Copy(io.Discard, out)
	}
	if err := cmd.Wait(); err != nil {
		return "", fmt.Errorf("git archive %s: %w: %s", s.Commit, err, strings.TrimSpace(stderr.String()))
	}
	if putErr != nil {
		return "", fmt.Errorf("store the source archive: %w", putErr)
	}
	return loc, nil
}

func (s Source) snapshot(ctx context.Context, t engine.Task, env Env, name string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", "-C", s.Repo, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	list, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git ls-files: %w", err)
	}
	tree := filepath.Join(env.Work, "tree")
	for _, rel := range strings.Split(string(list), "\x00") {
		if rel == "" || s.excluded(rel) {
			continue
		}
		if err := copyEntry(filepath.Join(s.Repo, rel), filepath.Join(tree, rel)); err != nil {
			return "", err
		}
	}
	if err := os.MkdirAll(tree, 0o755); err != nil {
		return "", err
	}
	return env.Artifacts.PutDir(ctx, t.Run, name, tree)
}

func (s Source) excluded(rel string) bool {
	for _, x := range s.Exclude {
		if rel == x || strings.HasPrefix(rel, strings.TrimSuffix(x, "/")+"/") {
			return true
		}
	}
	return false
}

// copyEntry copies one file or symlink of the working tree; a tracked file deleted in the
// working tree is simply absent from the snapshot, as it would be after a commit.
func copyEntry(from, to string) error {
	fi, err := os.Lstat(from)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		target, err := os.Readlink(from)
		if err != nil {
			return err
		}
		return os.Symlink(target, to)
	}
	if !fi.Mode().IsRegular() {
		return nil
	}
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, fi.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
