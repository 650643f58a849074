//go:build !unix

package buildspec

import (
	"errors"
	"syscall"
	"time"
)

// Local builds target Unix shells (CodeBuild's Linux images). Elsewhere the package still
// compiles, and a shell that does start is stopped on its own, without its children.

func procAttr() *syscall.SysProcAttr { return nil }

func signalGroup(int, syscall.Signal) error {
	return errors.New("process groups are not supported on this platform")
}

func groupAlive(int) bool { return false }

// StopGroups does nothing where there are no process groups.
func StopGroups([]int, time.Duration) {}
