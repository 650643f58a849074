package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"syscall"
	"time"

	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/store"
)

// Reclaim ends the runs f selects whose driving process on this host is gone (killed,
// crashed) as canceled, gives their stage locks back, and returns them: otherwise one kill -9
// would leave every later run of a queued pipeline waiting forever behind a lock nobody will
// release. The runner reclaims its pipeline's runs before each run, and `stepline serve` every
// run when it starts, so the deliveries of the runs it lost can run again.
//
// Before a run's stage locks are given back, what its builds left running (their process
// groups, recorded in dir's runs/<run>/groups) is stopped, so the run the lock goes to never
// builds beside an orphan of the run before it.
//
// Only unfinished runs are read (store.Filter.Unfinished, an index of its own in the stores),
// so what a start costs does not grow with the history.
func Reclaim(ctx context.Context, st Store, dir string, f store.Filter, now time.Time, log *slog.Logger) ([]store.Record, error) {
	f.Unfinished = true
	runs, err := st.ListRuns(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("read the runs: %w", err)
	}
	me := self()
	var out []store.Record
	for _, rec := range runs {
		if rec.State.Done() || rec.Driver == nil || rec.Driver.Host != me.Host || Alive(rec.Driver.PID) {
			continue
		}
		stopped, err := endGroups(dir, rec.ID(), reclaimGrace)
		if err != nil {
			return out, fmt.Errorf("end the builds of abandoned run %s: %w", rec.ID(), err)
		}
		if len(stopped) > 0 {
			log.WarnContext(ctx, "stopped the builds an abandoned run left running", "run", rec.ID(), "groups", stopped)
		}
		msg := fmt.Sprintf("abandoned: the stepline process driving it (pid %d) stopped without ending it (killed or crashed)", rec.Driver.PID)
		next, d, err := engine.Advance(rec.Definition, rec.State, []engine.Input{{Kind: engine.KindCancel, Message: msg}}, now)
		if err != nil {
			return out, fmt.Errorf("end abandoned run %s: %w", rec.ID(), err)
		}
		rec.State = next
		rec.Updated = now
		rec.Abandoned = true
		if err := st.PutRun(ctx, rec); err != nil {
			return out, fmt.Errorf("record abandoned run %s: %w", rec.ID(), err)
		}
		for _, stage := range d.Release {
			if _, err := st.Release(ctx, rec.Scope(), stage, rec.ID()); err != nil {
				return out, fmt.Errorf("release stage %s of abandoned run %s: %w", stage, rec.ID(), err)
			}
		}
		log.WarnContext(ctx, "reclaimed an abandoned run", "run", rec.ID(), "pid", rec.Driver.PID)
		out = append(out, rec)
	}
	return out, nil
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
	if st, ok := procStat(pid); ok {
		return st.state != 'Z'
	}
	if _, err := os.Stat("/proc/self/stat"); err == nil {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); errors.Is(err, os.ErrNotExist) {
			return false
		}
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
