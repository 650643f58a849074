package local

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// GitFiles lists changed files from the local repository, the FileLister `stepline serve`
// uses: the repository has the commits, so no provider API (or token) is needed.
type GitFiles struct {
	Repo string
}

// ChangedFiles lists the paths changed from the merge base of base and head to head, as the
// providers' compare APIs do; renames count as the old and the new path. repo is ignored: the
// local repository is the one the events are served for.
func (g GitFiles) ChangedFiles(ctx context.Context, _ string, base, head string) ([]string, bool, error) {
	for _, c := range []string{base, head} {
		if strings.HasPrefix(c, "-") {
			return nil, false, fmt.Errorf("refusing revision %q", c)
		}
	}
	out, err := git(ctx, g.Repo, "diff", "--name-only", "--no-renames", "-z", base+"..."+head, "--")
	if err != nil {
		return nil, false, err
	}
	var files []string
	for _, f := range strings.Split(out, "\x00") {
		if f != "" {
			files = append(files, f)
		}
	}
	return files, true, nil
}

// HasCommit reports whether the repository has commit sha.
func HasCommit(ctx context.Context, repo, sha string) bool {
	if sha == "" || strings.HasPrefix(sha, "-") {
		return false
	}
	_, err := git(ctx, repo, "cat-file", "-e", sha+"^{commit}")
	return err == nil
}

// FileAt returns the content of path at commit sha.
func FileAt(ctx context.Context, repo, sha, path string) ([]byte, error) {
	if strings.HasPrefix(sha, "-") {
		return nil, fmt.Errorf("refusing revision %q", sha)
	}
	out, err := git(ctx, repo, "show", sha+":"+path)
	if err != nil {
		return nil, fmt.Errorf("read %s at %.12s: %w", path, sha, err)
	}
	return []byte(out), nil
}

// IsAncestor reports whether ancestor is an ancestor of descendant (git merge-base
// --is-ancestor), so a forced push that dropped commits is told from a fast-forward.
func (g GitFiles) IsAncestor(ctx context.Context, _ string, ancestor, descendant string) (bool, error) {
	for _, c := range []string{ancestor, descendant} {
		if strings.HasPrefix(c, "-") {
			return false, fmt.Errorf("refusing revision %q", c)
		}
	}
	cmd := exec.CommandContext(ctx, "git", "-C", g.Repo, "merge-base", "--is-ancestor", ancestor, descendant)
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &exit) && exit.ExitCode() == 1:
		return false, nil
	}
	return false, fmt.Errorf("git merge-base --is-ancestor %.12s %.12s: %w", ancestor, descendant, err)
}
