package local

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/stepline/stepline/pkg/engine"
)

func TestPlainViewPrintsOneLinePerChange(t *testing.T) {
	t.Parallel()
	d := def(engine.ModeParallel)
	st := engine.New(d, engine.RunInfo{ID: "p-1"})
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	st, dec, _ := engine.Advance(d, st, nil, now)
	var out bytes.Buffer
	v := NewView(&out, d, false, func() time.Time { return now })
	for _, e := range dec.Events {
		v.Event(e, st)
	}
	later := now.Add(1500 * time.Millisecond)
	st, dec, _ = engine.Advance(d, st, []engine.Input{dec.Start[0].Failed("no git", true)}, later)
	for _, e := range dec.Events {
		v.Event(e, st)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	assert.Len(t, lines, 6)
	assert.Contains(t, lines[0], "STARTED   pipeline p")
	assert.Contains(t, lines[2], "STARTED   Source/Source")
	assert.Contains(t, lines[3], "FAILED    Source/Source in 1.5s: no git")
	assert.Contains(t, lines[4], "FAILED    stage Source in 1.5s: action Source failed")
	assert.Contains(t, lines[5], "FAILED    pipeline p in 1.5s: action Source failed: no git")
}

func TestTerminalViewRedrawsInPlaceAndClears(t *testing.T) {
	t.Parallel()
	d := def(engine.ModeParallel)
	st := engine.New(d, engine.RunInfo{ID: "p-1"})
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	st, dec, _ := engine.Advance(d, st, nil, now)
	var out bytes.Buffer
	v := NewView(&out, d, true, func() time.Time { return now.Add(2 * time.Second) })
	v.Event(dec.Events[0], st)
	first := out.String()
	assert.Contains(t, first, "▶ Source")
	assert.NotContains(t, first, "\x1b[4A", "the first frame moves nothing up")
	v.Event(dec.Events[1], st)
	assert.Contains(t, out.String()[len(first):], "\x1b[4A", "the next frame starts where the first did")
	out.Reset()
	v.Clear()
	assert.Equal(t, 4, strings.Count(out.String(), "\x1b[2K"), "clear erases every drawn line")
	out.Reset()
	v.Event(dec.Events[2], st)
	assert.Empty(t, out.String(), "nothing is drawn after Clear")
}
