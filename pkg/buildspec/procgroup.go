//go:build unix

package buildspec

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"syscall"
	"time"
)

// procAttr puts the shell in its own process group, so cancellation can stop the shell and
// everything it started.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// signalGroup sends sig to every process in the group.
func signalGroup(pgid int, sig syscall.Signal) error {
	return syscall.Kill(-pgid, sig)
}

// StopGroups stops every process left in the process groups pgids: SIGTERM first so tools can
// clean up, SIGKILL to what is still there after grace. It returns once each group has been
// sent SIGKILL or is gone.
func StopGroups(pgids []int, grace time.Duration) {
	var left []int
	for _, pgid := range pgids {
		if groupAlive(pgid) {
			signalGroup(pgid, syscall.SIGTERM)
			left = append(left, pgid)
		}
	}
	deadline := time.Now().Add(grace)
	for _, pgid := range left {
		for groupAlive(pgid) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		signalGroup(pgid, syscall.SIGKILL)
	}
}

// groupAlive reports whether a process group still has a process that can act. kill(-pgid, 0)
// alone also counts zombies, and an init that reaps slowly (as in some containers) would then
// hold every build's cleanup for the whole grace period. Where /proc exists, zombies are
// ignored; elsewhere kill is the best signal available.
func groupAlive(pgid int) bool {
	if err := syscall.Kill(-pgid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return true
	}
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// "pid (comm) state ppid pgrp …"; comm may contain spaces and parentheses.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		fields := bytes.Fields(stat[i+1:])
		if len(fields) < 3 {
			continue
		}
		if g, _ := strconv.Atoi(string(fields[2])); g == pgid && string(fields[0]) != "Z" {
			return true
		}
	}
	return false
}
