package engine

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestLanes(t *testing.T) {
	t.Parallel()
	t.Run("parallel mode grants everyone and keeps nothing", func(t *testing.T) {
		l, g := Lane{}.Acquire(ModeParallel, "a", 1)
		assert.True(t, g.Granted)
		_, g = l.Acquire(ModeParallel, "b", 2)
		assert.True(t, g.Granted)
		assert.Equal(t, Lane{}, l)
	})
	t.Run("queued mode hands the lane over in arrival order", func(t *testing.T) {
		l, g := Lane{}.Acquire(ModeQueued, "a", 1)
		assert.True(t, g.Granted)
		l, g = l.Acquire(ModeQueued, "c", 3)
		assert.False(t, g.Granted)
		l, g = l.Acquire(ModeQueued, "b", 2)
		assert.False(t, g.Granted)
		assert.Empty(t, g.Superseded)
		l, next := l.Release("a")
		assert.Equal(t, "c", next, "arrival order, not run number")
		l, next = l.Release("c")
		assert.Equal(t, "b", next)
		l, next = l.Release("b")
		assert.Empty(t, next)
		assert.Equal(t, Lane{}, l)
	})
	t.Run("superseded mode keeps only the newest waiter", func(t *testing.T) {
		l, _ := Lane{}.Acquire(ModeSuperseded, "a", 1)
		l, g := l.Acquire(ModeSuperseded, "b", 2)
		assert.False(t, g.Granted)
		assert.Empty(t, g.Superseded)
		l, g = l.Acquire(ModeSuperseded, "c", 3)
		assert.Equal(t, []string{"b"}, g.Superseded, "the newer run overtakes the waiting one")
		l, g = l.Acquire(ModeSuperseded, "old", 0)
		assert.Equal(t, []string{"old"}, g.Superseded, "an older run arriving late is superseded at once")
		assert.Equal(t, []Waiter{{Run: "c", Seq: 3}}, l.Waiting)
		again, g := l.Acquire(ModeSuperseded, "b", 2)
		assert.Equal(t, []string{"b"}, g.Superseded, "a superseded run asking again is told so")
		assert.Equal(t, l, again)
		_, next := l.Release("a")
		assert.Equal(t, "c", next)
	})
	t.Run("asking twice changes nothing", func(t *testing.T) {
		l, _ := Lane{}.Acquire(ModeQueued, "a", 1)
		l, _ = l.Acquire(ModeQueued, "b", 2)
		again, g := l.Acquire(ModeQueued, "b", 2)
		assert.Equal(t, l, again)
		assert.False(t, g.Granted)
		_, g = l.Acquire(ModeQueued, "a", 1)
		assert.True(t, g.Granted)
	})
	t.Run("a waiter that gives up leaves the queue without taking the lane", func(t *testing.T) {
		l, _ := Lane{}.Acquire(ModeQueued, "a", 1)
		l, _ = l.Acquire(ModeQueued, "b", 2)
		l, next := l.Release("b")
		assert.Empty(t, next)
		assert.Equal(t, Lane{Holder: "a"}, l)
	})
}
