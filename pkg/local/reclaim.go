package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"

	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/store"
)

// reclaim ends the pipeline's runs whose driving process on this host is gone (killed, crashed)
// as canceled, and gives their stage locks back: otherwise one kill -9 would leave every later
// run of a queued pipeline waiting forever behind a lock nobody will release.
func (r *Runner) reclaim(ctx context.Context) error {
	runs, err := r.store.ListRuns(ctx, store.Filter{Pipeline: r.def.Pipeline})
	if err != nil {
		return fmt.Errorf("read the pipeline's runs: %w", err)
	}
	me := self()
	for _, rec := range runs {
		if rec.State.Done() || rec.Driver == nil || rec.Driver.Host != me.Host || Alive(rec.Driver.PID) {
			continue
		}
		msg := fmt.Sprintf("abandoned: its stepline process (pid %d) is gone", rec.Driver.PID)
		st, d, err := engine.Advance(rec.Definition, rec.State, []engine.Input{{Kind: engine.KindCancel, Message: msg}}, r.now())
		if err != nil {
			return fmt.Errorf("end abandoned run %s: %w", rec.ID(), err)
		}
		rec.State = st
		rec.Updated = r.now()
		if err := r.store.PutRun(ctx, rec); err != nil {
			return fmt.Errorf("record abandoned run %s: %w", rec.ID(), err)
		}
		for _, stage := range d.Release {
			if _, err := r.store.Release(ctx, rec.Scope(), stage, rec.ID()); err != nil {
				return fmt.Errorf("release stage %s of abandoned run %s: %w", stage, rec.ID(), err)
			}
		}
		r.log.WarnContext(ctx, "reclaimed an abandoned run", "run", rec.ID(), "pid", rec.Driver.PID)
	}
	return nil
}

func self() *store.Driver {
	host, _ := os.Hostname()
	return &store.Driver{Host: host, PID: os.Getpid()}
}

// Alive reports whether a process with pid exists and has not exited. A zombie (exited, not
// yet reaped, as happens under a container init that never reaps) counts as gone; where /proc
// is missing, signal 0 decides (EPERM: it exists, owned by someone else).
func Alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		// "pid (comm) S …": the state follows the last parenthesis.
		s := string(stat)
		i := strings.LastIndexByte(s, ')')
		return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
	} else if errors.Is(err, os.ErrNotExist) {
		if _, err := os.Stat("/proc/self/stat"); err == nil {
			return false
		}
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
