package local

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/stepline/stepline/pkg/engine"
)

// View shows a run's progress: on a terminal a table of stages and actions redrawn in place
// with live elapsed times; elsewhere (CI logs, pipes) one plain line per state change.
type View struct {
	mu     sync.Mutex
	out    io.Writer
	tty    bool
	def    engine.Definition
	st     engine.State
	drawn  int
	paused bool
	now    func() time.Time
}

// NewView builds a view of def's runs writing to out; tty selects the redrawn table.
func NewView(out io.Writer, def engine.Definition, tty bool, now func() time.Time) *View {
	if now == nil {
		now = time.Now
	}
	return &View{out: out, tty: tty, def: def, now: now}
}

// Event records a state change: a plain line, or a redraw of the table.
func (v *View) Event(e engine.Event, st engine.State) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.st = st
	if v.tty {
		v.draw()
		return
	}
	fmt.Fprintln(v.out, plainLine(v.def, e, st))
}

// Refresh redraws the table every interval until ctx ends, so elapsed times keep moving.
func (v *View) Refresh(ctx context.Context, every time.Duration) {
	if !v.tty {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			v.mu.Lock()
			v.draw()
			v.mu.Unlock()
		}
	}
}

// Pause stops redrawing while a question is asked below the table; resuming starts a new
// table under the answer instead of overwriting it.
func (v *View) Pause(on bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.paused = on
	if on {
		v.drawn = 0
	}
}

// Clear erases the redrawn table (on a terminal) so a summary can take its place.
func (v *View) Clear() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.tty || v.drawn == 0 {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\x1b[%dA", v.drawn)
	for i := 0; i < v.drawn; i++ {
		b.WriteString("\x1b[2K\n")
	}
	fmt.Fprintf(&b, "\x1b[%dA", v.drawn)
	io.WriteString(v.out, b.String())
	v.drawn = 0
	v.paused = true
}

func (v *View) draw() {
	if v.paused || v.st.Run == "" {
		return
	}
	lines := Table(v.def, v.st, v.now(), false)
	var b strings.Builder
	if v.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", v.drawn)
	}
	for _, l := range lines {
		b.WriteString("\x1b[2K")
		b.WriteString(l)
		b.WriteByte('\n')
	}
	for i := len(lines); i < v.drawn; i++ {
		b.WriteString("\x1b[2K\n")
	}
	if v.drawn > len(lines) {
		fmt.Fprintf(&b, "\x1b[%dA", v.drawn-len(lines))
	}
	v.drawn = len(lines)
	io.WriteString(v.out, b.String())
}

func plainLine(def engine.Definition, e engine.Event, st engine.State) string {
	what := "pipeline " + e.Pipeline
	started := st.Started
	for i, sg := range def.Stages {
		if sg.Name != e.Stage || i >= len(st.Stages) {
			continue
		}
		if e.Type == engine.StageEvent {
			what, started = "stage "+e.Stage, st.Stages[i].Started
			break
		}
		for j, a := range sg.Actions {
			if a.Name == e.Action && j < len(st.Stages[i].Actions) {
				what, started = e.Stage+"/"+e.Action, st.Stages[i].Actions[j].Started
			}
		}
	}
	if e.Type == engine.ActionEvent {
		if e.Attempt > 1 {
			what += fmt.Sprintf(" (attempt %d)", e.Attempt)
		}
		if e.Rollback {
			what += " (rollback)"
		}
	}
	line := fmt.Sprintf("%s %-9s %s", e.Time.Local().Format("15:04:05"), e.State, what)
	if e.State != engine.Started && started > 0 {
		line += " in " + elapsed(e.Time.Sub(engine.Time(started)))
	}
	if e.Message != "" {
		line += ": " + e.Message
	}
	return line
}

// Table renders a run as lines: a header, each stage, each action of stages that started.
// With logs, finished actions show where their log is (the summary).
func Table(def engine.Definition, st engine.State, now time.Time, summary bool) []string {
	total := span(st.Started, st.Ended, now)
	status := st.Status.String()
	lines := []string{fmt.Sprintf("%s %s  run %s  %s", icon(st.Status, false), def.Pipeline, st.Run, strings.TrimSpace(status+" "+total))}
	for i, sg := range st.Stages {
		if i >= len(def.Stages) {
			break
		}
		name := def.Stages[i].Name
		if sg.RollingBack {
			name += " (rolled back)"
		}
		lines = append(lines, fmt.Sprintf("  %s %-28s %s", icon(sg.Status, sg.RollingBack), name, span(sg.Started, sg.Ended, now)))
		if sg.Status == engine.Pending && !summary {
			continue
		}
		for j, as := range sg.Actions {
			a := def.Stages[i].Actions[j]
			label := a.Name
			if as.Attempt > 1 {
				label += fmt.Sprintf(" #%d", as.Attempt)
			}
			line := fmt.Sprintf("      %s %-24s %8s", icon(as.Status, as.Rollback), label, span(as.Started, as.Ended, now))
			if as.Status == engine.Waiting && as.Due > 0 {
				line += "  retry at " + engine.Time(as.Due).Local().Format("15:04:05")
			}
			if as.Message != "" && (as.Status == engine.Failed || summary) {
				line += "  " + firstLine(as.Message)
			}
			if summary && as.External != "" {
				line += "  log: " + as.External
			}
			lines = append(lines, line)
		}
	}
	if st.Message != "" && st.Status.Final() {
		lines = append(lines, "  "+st.Message)
	}
	return lines
}

func icon(s engine.Status, rollback bool) string {
	switch {
	case rollback && !s.Final():
		return "↺"
	case s == engine.Succeeded:
		return "✓"
	case s == engine.Failed:
		return "✗"
	case s == engine.InProgress:
		return "▶"
	case s == engine.Waiting:
		return "…"
	case s == engine.Canceled, s == engine.Superseded:
		return "⊘"
	case s == engine.Skipped:
		return "-"
	}
	return "·"
}

func span(start, end int64, now time.Time) string {
	switch {
	case start == 0:
		return ""
	case end == 0:
		return elapsed(now.Sub(engine.Time(start)))
	}
	return elapsed(engine.Time(end).Sub(engine.Time(start)))
}

func elapsed(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	if d < time.Minute {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}
