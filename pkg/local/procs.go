package local

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/stepline/stepline/pkg/buildspec"
)

// Builds run in process groups of their own (so a terminal's Ctrl-C reaches only stepline),
// which also means a kill -9 of stepline leaves them running. Each group is recorded in the
// run's directory as it starts, before it runs any command: runs/<run>/groups/<attempt>/<pgid>
// holds the group leader's start time, so the reclaim of a later start can end what the killed
// process left, and never a group whose id the system has since given to an unrelated process.
// An attempt that returns has stopped its groups itself, and its record goes.

// reclaimGrace is how long an orphaned build gets between SIGTERM and SIGKILL.
const reclaimGrace = 2 * time.Second

func groupsDir(dir, run string) string { return filepath.Join(dir, "runs", run, "groups") }

// recordGroup notes that attempt (its work directory's name) of run started process group pgid.
func recordGroup(dir, run, attempt string, pgid int) error {
	st, ok := procStat(pgid)
	if !ok {
		// Where /proc is missing there is no start time to tell a recycled id by, and
		// without one a reclaim must not signal the group.
		return nil
	}
	d := filepath.Join(groupsDir(dir, run), attempt)
	if err := os.MkdirAll(d, 0o755); err != nil {
		return fmt.Errorf("record build process group %d: %w", pgid, err)
	}
	return os.WriteFile(filepath.Join(d, strconv.Itoa(pgid)), []byte(strconv.FormatUint(st.start, 10)+"\n"), 0o644)
}

// forgetGroups drops the record of attempt's groups once it has returned (and stopped them).
func forgetGroups(dir, run, attempt string) error {
	return os.RemoveAll(filepath.Join(groupsDir(dir, run), attempt))
}

// endGroups stops what is left of the process groups run's attempts recorded (SIGTERM, then
// SIGKILL after grace), and forgets them. It reports the groups it stopped.
func endGroups(dir, run string, grace time.Duration) ([]int, error) {
	d := groupsDir(dir, run)
	files, err := filepath.Glob(filepath.Join(d, "*", "*"))
	if err != nil {
		return nil, err
	}
	var ours []int
	for _, file := range files {
		pgid, err := strconv.Atoi(filepath.Base(file))
		if err != nil || pgid <= 1 {
			continue
		}
		raw, err := os.ReadFile(file)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read build process group %d of %s: %w", pgid, run, err)
		}
		start, err := strconv.ParseUint(strings.TrimSpace(string(raw)), 10, 64)
		if err == nil && sameGroup(pgid, start) {
			ours = append(ours, pgid)
		}
	}
	buildspec.StopGroups(ours, grace)
	if err := os.RemoveAll(d); err != nil {
		return ours, fmt.Errorf("forget the build process groups of %s: %w", run, err)
	}
	return ours, nil
}

// sameGroup reports whether process group pgid is still the one whose leader started at start
// (clock ticks after boot). While the leader lives, its start time must match; once it is gone
// the group id cannot be given to a new process as long as a member remains, so any member left
// belongs to the recorded group.
func sameGroup(pgid int, start uint64) bool {
	if st, ok := procStat(pgid); ok && st.state != 'Z' {
		return st.pgrp == pgid && st.start == start
	}
	return len(GroupMembers(pgid)) > 0
}

// GroupMembers lists the live (not zombie) processes of process group pgid; none where /proc
// is missing.
func GroupMembers(pgid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := procStat(pid); ok && st.pgrp == pgid && st.state != 'Z' {
			out = append(out, pid)
		}
	}
	return out
}

// stat is what /proc/<pid>/stat says of a process that matters here.
type stat struct {
	state byte
	pgrp  int
	start uint64 // clock ticks after boot
}

// procStat reads /proc/<pid>/stat; false when the process or /proc does not exist.
func procStat(pid int) (stat, bool) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return stat{}, false
	}
	// "pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt
	// utime stime cutime cstime priority nice num_threads itrealvalue starttime …" (proc(5));
	// comm may hold spaces and parentheses, so fields count from the last ')'.
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return stat{}, false
	}
	f := strings.Fields(string(raw[i+1:]))
	if len(f) < 20 || len(f[0]) != 1 {
		return stat{}, false
	}
	pgrp, err1 := strconv.Atoi(f[2])
	start, err2 := strconv.ParseUint(f[19], 10, 64)
	if err1 != nil || err2 != nil {
		return stat{}, false
	}
	return stat{state: f[0][0], pgrp: pgrp, start: start}, true
}
