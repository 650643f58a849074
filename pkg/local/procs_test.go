package local

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/store"
)

// orphan starts a process group standing in for a build whose stepline was killed: a shell
// with a child of its own, in a group of its own. The group is killed when the test ends.
func orphan(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("sh", "-c", "sleep 300 & sleep 300")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, cmd.Start())
	pgid := cmd.Process.Pid
	go func() { _ = cmd.Wait() }()
	t.Cleanup(func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) })
	require.Eventually(t, func() bool { return len(GroupMembers(pgid)) >= 2 }, 10*time.Second, 10*time.Millisecond)
	return pgid
}

// abandoned records a run of def driven by a process that has exited.
func abandoned(t *testing.T, st store.Store, id string) {
	t.Helper()
	dead := exec.Command("true")
	require.NoError(t, dead.Run())
	d := def(engine.ModeParallel)
	host, _ := os.Hostname()
	require.NoError(t, st.PutRun(context.Background(), store.Record{Definition: d, State: engine.New(d, engine.RunInfo{ID: id, Seq: 1}),
		Driver: &store.Driver{Host: host, PID: dead.Process.Pid}}))
}

func TestReclaimStopsEveryProcessABuildOfTheAbandonedRunLeft(t *testing.T) {
	t.Parallel()
	dir, st := t.TempDir(), store.NewMemory()
	abandoned(t, st, "p-1")
	pgid := orphan(t)
	require.NoError(t, recordGroup(dir, "p-1", "Build.Build.1", pgid))

	lost, err := Reclaim(context.Background(), st, dir, store.Filter{}, time.Now(), slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.Len(t, lost, 1)
	assert.Equal(t, engine.Canceled, lost[0].State.Status)
	assert.Empty(t, GroupMembers(pgid), "no process of the build's group is left")
	assert.NoDirExists(t, groupsDir(dir, "p-1"), "the record of the groups goes with them")
}

func TestReclaimLeavesAloneAGroupWhoseIdNowBelongsToAnotherProcess(t *testing.T) {
	t.Parallel()
	dir, st := t.TempDir(), store.NewMemory()
	abandoned(t, st, "p-1")
	pgid := orphan(t)
	// The recorded leader started at another time: the id was given to a new process since.
	st0, ok := procStat(pgid)
	require.True(t, ok)
	attempt := filepath.Join(groupsDir(dir, "p-1"), "Build.Build.1")
	require.NoError(t, os.MkdirAll(attempt, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(attempt, strconv.Itoa(pgid)), []byte(strconv.FormatUint(st0.start-1, 10)), 0o644))

	_, err := Reclaim(context.Background(), st, dir, store.Filter{}, time.Now(), slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	assert.GreaterOrEqual(t, len(GroupMembers(pgid)), 2, "a process that merely reuses the id is not signalled")
}

func TestReclaimStopsWhatIsLeftOfAGroupWhoseLeaderExited(t *testing.T) {
	t.Parallel()
	dir, st := t.TempDir(), store.NewMemory()
	abandoned(t, st, "p-1")
	pgid := orphan(t)
	require.NoError(t, recordGroup(dir, "p-1", "Build.Build.1", pgid))
	// The shell leading the group is gone; its background child is still in the group.
	require.NoError(t, syscall.Kill(pgid, syscall.SIGKILL))
	require.Eventually(t, func() bool { st, ok := procStat(pgid); return !ok || st.state == 'Z' }, 10*time.Second, 10*time.Millisecond)
	require.NotEmpty(t, GroupMembers(pgid))

	_, err := Reclaim(context.Background(), st, dir, store.Filter{}, time.Now(), slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	assert.Empty(t, GroupMembers(pgid))
}
