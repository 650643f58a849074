package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/artifact"
	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/store"
)

// fakeExec runs a function per attempt; it records what ran.
type fakeExec struct {
	mu  sync.Mutex
	ran []string
	fn  func(ctx context.Context, t engine.Task) Outcome
}

func (f *fakeExec) Execute(ctx context.Context, t engine.Task, env Env) Outcome {
	f.mu.Lock()
	f.ran = append(f.ran, t.ID())
	f.mu.Unlock()
	if f.fn == nil {
		out := map[string]string{}
		for _, o := range t.Outputs {
			out[o] = "loc:" + o
		}
		return Outcome{Outputs: out}
	}
	return f.fn(ctx, t)
}

// recorder is a Sink keeping every event.
type recorder struct {
	mu     sync.Mutex
	events []engine.Event
}

func (r *recorder) Event(e engine.Event, _ engine.State) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func def(mode engine.Mode) engine.Definition {
	return engine.Definition{Pipeline: "p", Mode: mode, Stages: []engine.Stage{
		{Name: "Source", Actions: []engine.Action{{Name: "Source", Provider: "source", Outputs: []string{"source"}}}},
		{Name: "Build", Actions: []engine.Action{{Name: "Build", Provider: "fake", Inputs: []string{"source"}}}},
	}}
}

func newTestRunner(t *testing.T, d engine.Definition, st Store, fake Executor, opts ...Option) *Runner {
	t.Helper()
	dir := t.TempDir()
	execs := map[string]Executor{"source": &fakeExec{}, "fake": fake}
	return NewRunner(d, st, artifact.NewLocal(filepath.Join(dir, "artifacts")), execs, dir,
		append([]Option{WithLockPoll(5 * time.Millisecond)}, opts...)...)
}

func TestRunnerRunsToTheEndAndRecordsTheRun(t *testing.T) {
	t.Parallel()
	st := store.NewMemory()
	rec := &recorder{}
	r := newTestRunner(t, def(engine.ModeQueued), st, &fakeExec{}, WithSinks(rec))
	final, err := r.Run(context.Background(), "", Meta{Branch: "main"})
	require.NoError(t, err)
	assert.Equal(t, engine.Succeeded, final.Status)
	assert.Equal(t, store.RunID(store.Scope{Pipeline: "p"}, 1), final.Run, "runs are numbered per repository and pipeline")
	got, err := st.GetRun(context.Background(), final.Run)
	require.NoError(t, err)
	assert.Equal(t, engine.Succeeded, got.State.Status)
	assert.Equal(t, "main", got.Branch)
	assert.NotEmpty(t, got.Logs["Build/Build"], "each attempt's log is recorded")
	assert.FileExists(t, got.Logs["Build/Build"])
	assert.NoDirExists(t, filepath.Join(r.dir, "runs", final.Run, "work", "Build.Build.1"), "a successful attempt's scratch directory is removed")
	assert.Equal(t, "pipeline", string(rec.events[len(rec.events)-1].Type))
}

func TestRunnerRetriesAfterTheBackoff(t *testing.T) {
	t.Parallel()
	d := def(engine.ModeParallel)
	d.Stages[1].Actions[0].Retry = engine.RetryPolicy{MaxAttempts: 3, Backoff: 20 * time.Millisecond}
	calls := 0
	fake := &fakeExec{fn: func(context.Context, engine.Task) Outcome {
		calls++
		if calls < 3 {
			return Outcome{Err: errors.New("flaky")}
		}
		return Outcome{}
	}}
	r := newTestRunner(t, d, store.NewMemory(), fake)
	final, err := r.Run(context.Background(), "", Meta{})
	require.NoError(t, err)
	assert.Equal(t, engine.Succeeded, final.Status)
	id := final.Run
	assert.Equal(t, []string{id + "/Build/Build/1", id + "/Build/Build/2", id + "/Build/Build/3"}, fake.ran)
	assert.DirExists(t, filepath.Join(r.dir, "runs", id, "work", "Build.Build.1"), "a failed attempt's scratch directory is kept")
}

func TestQueuedRunsSharingAStoreTakeTurnsInAStage(t *testing.T) {
	t.Parallel()
	st := store.NewMemory()
	var mu sync.Mutex
	inside, most := 0, 0
	fake := &fakeExec{fn: func(ctx context.Context, t engine.Task) Outcome {
		mu.Lock()
		inside++
		most = max(most, inside)
		mu.Unlock()
		time.Sleep(30 * time.Millisecond)
		mu.Lock()
		inside--
		mu.Unlock()
		return Outcome{}
	}}
	var wg sync.WaitGroup
	finals := make([]engine.State, 3)
	for i := range finals {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			finals[i], err = newTestRunner(t, def(engine.ModeQueued), st, fake).Run(context.Background(), fmt.Sprintf("r%d", i), Meta{})
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	for _, f := range finals {
		assert.Equal(t, engine.Succeeded, f.Status)
	}
	assert.Equal(t, 1, most, "a locked stage holds one run at a time")
	assert.Len(t, fake.ran, 3)
}

func TestCancelingStopsRunningAttemptsAndRecordsTheRun(t *testing.T) {
	t.Parallel()
	st := store.NewMemory()
	started := make(chan struct{})
	stopped := make(chan struct{})
	fake := &fakeExec{fn: func(ctx context.Context, t engine.Task) Outcome {
		close(started)
		<-ctx.Done()
		close(stopped)
		return Outcome{Err: ctx.Err()}
	}}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; cancel() }()
	final, err := newTestRunner(t, def(engine.ModeParallel), st, fake).Run(ctx, "", Meta{})
	require.NoError(t, err)
	assert.Equal(t, engine.Canceled, final.Status)
	select {
	case <-stopped:
	default:
		t.Fatal("Run returned before the attempt stopped")
	}
	got, _ := st.GetRun(context.Background(), final.Run)
	assert.Equal(t, engine.Canceled, got.State.Status)
}

func TestAPanickingExecutorFailsItsActionNotTheProcess(t *testing.T) {
	t.Parallel()
	fake := &fakeExec{fn: func(context.Context, engine.Task) Outcome { panic("boom") }}
	final, err := newTestRunner(t, def(engine.ModeParallel), store.NewMemory(), fake).Run(context.Background(), "", Meta{})
	require.NoError(t, err)
	assert.Equal(t, engine.Failed, final.Status)
	assert.Contains(t, final.Message, "executor panic: boom")
}

func TestMissingListsProvidersWithoutExecutors(t *testing.T) {
	t.Parallel()
	d := def("")
	d.Stages[1].Actions = append(d.Stages[1].Actions, engine.Action{Name: "E", Provider: "ecs"}, engine.Action{Name: "L", Provider: "lambda"})
	assert.Equal(t, []string{"ecs", "fake", "lambda"}, Missing(d, map[string]Executor{"source": &fakeExec{}}))
}

func TestFollowLogsPrefixesWholeLines(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	w, err := FollowLogs(&out)(engine.Task{Stage: "Build", Action: "Test"}, filepath.Join(t.TempDir(), "log"))
	require.NoError(t, err)
	_, _ = io.WriteString(w, "one\ntw")
	_, _ = io.WriteString(w, "o\nthree")
	require.NoError(t, w.Close())
	assert.Equal(t, "Build/Test | one\nBuild/Test | two\nBuild/Test | three\n", out.String())
}

type syncBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b = append(s.b, p...)
	return len(p), nil
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.b)
}

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	}
	return dir
}

func TestAttemptsOfOneActionNeverOverlap(t *testing.T) {
	t.Parallel()
	d := def(engine.ModeParallel)
	d.Stages[1].Actions[0].Timeout = 300 * time.Millisecond
	d.Stages[1].Actions[0].Retry = engine.RetryPolicy{MaxAttempts: 2}
	var mu sync.Mutex
	inside, most, calls := 0, 0, 0
	fake := &fakeExec{fn: func(ctx context.Context, t engine.Task) Outcome {
		mu.Lock()
		calls++
		first := calls == 1
		inside++
		most = max(most, inside)
		mu.Unlock()
		defer func() { mu.Lock(); inside--; mu.Unlock() }()
		if first {
			<-ctx.Done()
			// A slow executor keeps working a while after it was told to stop.
			time.Sleep(100 * time.Millisecond)
			return Outcome{Err: ctx.Err()}
		}
		return Outcome{}
	}}
	final, err := newTestRunner(t, d, store.NewMemory(), fake).Run(context.Background(), "", Meta{})
	require.NoError(t, err)
	assert.Equal(t, engine.Succeeded, final.Status)
	assert.Equal(t, 2, calls)
	assert.Equal(t, 1, most, "the retry waited for the timed-out attempt to return")
}

func TestARollbackGoesBackToARunThatSucceededAfterThisOneStarted(t *testing.T) {
	t.Parallel()
	st := store.NewMemory()
	ctx := context.Background()
	d := def(engine.ModeParallel)
	d.Stages[1].OnFailure = engine.FailurePolicy{Result: engine.Rollback}
	succeeded := func(id string, seq int64, src string) store.Record {
		s := engine.New(d, engine.RunInfo{ID: id, Seq: seq})
		s.Status, s.Started, s.Artifacts = engine.Succeeded, seq, map[string]string{"source": src}
		return store.Record{Definition: d, State: s}
	}
	require.NoError(t, st.PutRun(ctx, succeeded("old", 1, "old-source")))
	var rolledBackTo string
	fake := &fakeExec{fn: func(_ context.Context, task engine.Task) Outcome {
		if task.Rollback {
			rolledBackTo = task.Input("source")
			return Outcome{}
		}
		// Another run finishes successfully while this one builds, then this one fails.
		if err := st.PutRun(ctx, succeeded("newer", 2, "newer-source")); err != nil {
			return Outcome{Err: err, Final: true}
		}
		return Outcome{Err: errors.New("broken")}
	}}
	final, err := newTestRunner(t, d, st, fake).Run(ctx, "", Meta{})
	require.NoError(t, err)
	assert.Equal(t, engine.Failed, final.Status)
	assert.Equal(t, "newer-source", rolledBackTo)
}

func TestARunWhoseProcessDiedIsReclaimedAndItsLockReleased(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := store.NewMemory()
	d := def(engine.ModeQueued)
	// A run that held the Build lock when its process was killed: a child that has exited
	// stands in for the dead stepline process.
	dead := exec.Command("true")
	require.NoError(t, dead.Run())
	s := engine.New(d, engine.RunInfo{ID: "p-0", Seq: 0})
	s, dec, err := engine.Advance(d, s, nil, time.Now())
	require.NoError(t, err)
	require.Equal(t, "Source", dec.Acquire)
	g, err := st.Acquire(ctx, store.Scope{Pipeline: "p"}, "Source", engine.ModeQueued, "p-0", 0)
	require.NoError(t, err)
	require.True(t, g.Granted)
	s, _, err = engine.Advance(d, s, []engine.Input{{Kind: engine.KindGranted, Stage: "Source"}}, time.Now())
	require.NoError(t, err)
	host, _ := os.Hostname()
	require.NoError(t, st.PutRun(ctx, store.Record{Definition: d, State: s, Driver: &store.Driver{Host: host, PID: dead.Process.Pid}}))

	done := make(chan engine.State, 1)
	go func() {
		final, err := newTestRunner(t, d, st, &fakeExec{}).Run(ctx, "", Meta{})
		assert.NoError(t, err)
		done <- final
	}()
	select {
	case final := <-done:
		assert.Equal(t, engine.Succeeded, final.Status, "the new run was not blocked by the dead one")
	case <-time.After(10 * time.Second):
		t.Fatal("the new run waited behind the dead run's lock")
	}
	old, err := st.GetRun(ctx, "p-0")
	require.NoError(t, err)
	assert.Equal(t, engine.Canceled, old.State.Status)
	assert.Contains(t, old.State.Message, "abandoned")
}
