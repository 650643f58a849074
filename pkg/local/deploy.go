package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/stepline/stepline/pkg/buildspec"
	"github.com/stepline/stepline/pkg/engine"
)

// Deploy is the "local" deploy provider: an atomic release directory, the way Capistrano-style
// deploys work. Each deploy unpacks its input artifact into <path>/releases/<id>, points the
// <path>/current symlink at it with an atomic rename, and runs the optional health check in
// it. When the check fails, current points back at the previous release before the action
// fails, so a bad release is never left live.
type Deploy struct {
	// Root resolves relative `path` settings (the state directory's deploy folder).
	Root string
}

const (
	defaultHealthTimeout = time.Minute
	defaultKeep          = 5
)

// Execute deploys t's first input artifact.
func (d Deploy) Execute(ctx context.Context, t engine.Task, env Env) Outcome {
	path := configString(t, "path")
	if path == "" {
		return failf(errors.New(`the local provider needs "path", the release root directory`))
	}
	base, err := confine(d.Root, path)
	if err != nil {
		return failf(err)
	}
	if len(t.Inputs) == 0 {
		return failf(errors.New("the local provider deploys its first input artifact, and it has none"))
	}
	healthTimeout, err := durationSetting(t, "health_timeout", defaultHealthTimeout)
	if err != nil {
		return failf(err)
	}
	keep := defaultKeep
	if n, ok := t.Config["keep"].(int); ok && n > 0 {
		keep = n
	}

	id := fmt.Sprintf("%s.%s.%d", safe(t.Run), safe(t.Action), t.Attempt)
	if t.Rollback {
		id += ".rollback"
	}
	releases := filepath.Join(base, "releases")
	dir := filepath.Join(releases, id)
	if err := os.MkdirAll(releases, 0o755); err != nil {
		return Outcome{Err: err}
	}
	// A link that appeared since confine looked, or one planted as the release directory (a
	// build's doing), is caught before anything is unpacked through it.
	if _, err := confine(d.Root, dir); err != nil {
		return failf(err)
	}
	fmt.Fprintf(env.Log, "[stepline] unpacking %s into %s\n", t.Inputs[0].Name, dir)
	if err := env.Artifacts.Extract(ctx, t.Inputs[0].Location, dir); err != nil {
		return Outcome{Err: fmt.Errorf("unpack %s: %w", t.Inputs[0].Name, err)}
	}
	current := filepath.Join(base, "current")
	previous, _ := os.Readlink(current)
	if err := swap(current, dir); err != nil {
		return Outcome{Err: fmt.Errorf("switch %s to the new release: %w", current, err)}
	}
	fmt.Fprintf(env.Log, "[stepline] %s -> %s\n", current, dir)

	if check := configString(t, "health_check"); check != "" {
		fmt.Fprintf(env.Log, "[stepline] health check: %s\n", check)
		if err := healthCheck(ctx, check, dir, previous, configEnv(t), healthTimeout, env); err != nil {
			return restore(current, previous, dir, err, env)
		}
		fmt.Fprintln(env.Log, "[stepline] health check passed")
	}
	live, _ := os.Readlink(current)
	prune(releases, keep, dir, previous, live)
	return Outcome{
		Variables: map[string]string{"release_id": id, "release_dir": dir, "previous_release_dir": previous},
		Message:   "released " + id,
	}
}

// confine resolves a release root's path setting, its variables already substituted (a
// branch can hold "../" and a variable an absolute path), to a directory strictly inside
// root, the deploy directory, or says why it is not one: a relative path is taken from root;
// an absolute one must lie inside it; ".." may not climb out; and every directory of it that
// exists already, symbolic links followed, must resolve inside root too, so a link planted
// inside (by a build) cannot lead a deploy out.
func confine(root, path string) (string, error) {
	rootAbs, err := filepath.Abs(root)
	if err != nil {
		return "", fmt.Errorf("deploy directory %s: %w", root, err)
	}
	base := path
	if !filepath.IsAbs(base) {
		base = filepath.Join(rootAbs, base)
	}
	base = filepath.Clean(base)
	outside := func(resolved string) error {
		return fmt.Errorf("path %q resolves to %s, which is not inside the deploy directory %s", path, resolved, rootAbs)
	}
	if !within(rootAbs, base) {
		return "", outside(base)
	}
	if err := os.MkdirAll(rootAbs, 0o755); err != nil {
		return "", err
	}
	realRoot, err := filepath.EvalSymlinks(rootAbs)
	if err != nil {
		return "", fmt.Errorf("deploy directory %s: %w", rootAbs, err)
	}
	// The longest part of base that exists, links resolved, plus the rest, which holds none.
	existing, rest := base, ""
	for {
		resolved, err := filepath.EvalSymlinks(existing)
		if err == nil {
			if real := filepath.Join(resolved, rest); !within(realRoot, real) {
				return "", outside(real)
			}
			return base, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("path %q: %w", path, err)
		}
		rest = filepath.Join(filepath.Base(existing), rest)
		existing = filepath.Dir(existing)
	}
}

// within reports whether path lies strictly inside dir (both clean and absolute).
func within(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// restore puts the previous release back after a failed health check, but only while current
// still points at the failed release: if another deploy switched it meanwhile, that one owns
// the link now.
func restore(current, previous, failed string, cause error, env Env) Outcome {
	if now, _ := os.Readlink(current); now != failed {
		fmt.Fprintf(env.Log, "[stepline] %s now points at %s; left as it is\n", current, now)
		return Outcome{Err: fmt.Errorf("health check failed: %w; current was switched by another deploy meanwhile and was left alone", cause)}
	}
	if previous == "" {
		_ = os.Remove(current)
		fmt.Fprintln(env.Log, "[stepline] no previous release to restore; current removed")
		return Outcome{Err: fmt.Errorf("health check failed: %w; there was no previous release to restore", cause)}
	}
	if err := swap(current, previous); err != nil {
		return Outcome{Err: fmt.Errorf("health check failed: %w; restoring %s failed too: %v", cause, previous, err)}
	}
	fmt.Fprintf(env.Log, "[stepline] restored the previous release: %s -> %s\n", current, previous)
	return Outcome{Err: fmt.Errorf("health check failed: %w; restored the previous release %s", cause, filepath.Base(previous))}
}

// swaps numbers temporary links, so two swaps in one process never share a name.
var swaps atomic.Int64

// swap points link at target atomically: a new symlink renamed over the old one, so readers
// always see either the old or the new release.
func swap(link, target string) error {
	tmp := fmt.Sprintf("%s.tmp-%d-%d", link, os.Getpid(), swaps.Add(1))
	_ = os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, link); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return nil
}

// errHealthTimeout tells the health check's own deadline from the action's timeout.
var errHealthTimeout = errors.New("health check timed out")

// healthCheck runs the command in the new release with a deadline; its output goes to the log.
func healthCheck(ctx context.Context, command, dir, previous string, extra []string, timeout time.Duration, env Env) error {
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, errHealthTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	cmd.Dir = dir
	cmd.Env = append(append(buildspec.HostEnv(os.Environ()), "RELEASE_DIR="+dir, "PREVIOUS_RELEASE_DIR="+previous), extra...)
	cmd.Stdout, cmd.Stderr = env.Log, env.Log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	switch {
	case errors.Is(context.Cause(ctx), errHealthTimeout):
		return fmt.Errorf("no answer within %s (health_timeout)", timeout)
	case ctx.Err() != nil:
		return fmt.Errorf("stopped: %w", context.Cause(ctx))
	}
	return err
}

// prune removes the oldest releases beyond keep, never one of protect (the new release,
// the previous one, and whatever current points at by now).
func prune(releases string, keep int, protect ...string) {
	entries, err := os.ReadDir(releases)
	if err != nil {
		return
	}
	type rel struct {
		path string
		mod  time.Time
	}
	var all []rel
	for _, e := range entries {
		if info, err := e.Info(); err == nil && e.IsDir() {
			all = append(all, rel{filepath.Join(releases, e.Name()), info.ModTime()})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].mod.After(all[j].mod) })
	for i, r := range all {
		if i >= keep && !slices.Contains(protect, r.path) {
			_ = os.RemoveAll(r.path)
		}
	}
}

func durationSetting(t engine.Task, key string, def time.Duration) (time.Duration, error) {
	s := configString(t, key)
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s: %q is not a positive duration", key, s)
	}
	return d, nil
}
