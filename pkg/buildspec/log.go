package buildspec

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/stepline/stepline/pkg/mask"
)

// containerLog writes the build log: command output as it arrives, interleaved with
// CodeBuild-style agent lines ("[Container] 2026/11/22 10:00:00 Entering phase BUILD"), so a
// local log reads like the CloudWatch log of the same build and the same grep patterns work.
type containerLog struct {
	mu  sync.Mutex
	w   io.Writer
	now func() time.Time
	// midLine is true when the last output did not end with a newline; an agent line then
	// starts on a fresh line, as CodeBuild's line-based log would show it.
	midLine bool
	// masker, when set, is w hiding the build's secret values.
	masker *mask.Writer
}

func newContainerLog(w io.Writer, now func() time.Time) *containerLog {
	if w == nil {
		w = io.Discard
	}
	return &containerLog{w: w, now: now}
}

// hide makes every later write, command output and agent lines alike, go through a masker of
// secrets: CodeBuild shows "***" for the values of parameter-store and secrets-manager
// variables wherever they appear in the log.
func (l *containerLog) hide(secrets []string) {
	if len(mask.Values(secrets...)) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.masker = mask.NewWriter(l.w, secrets)
	l.w = l.masker
}

// flush writes what the masker holds back, at the end of the build.
func (l *containerLog) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.masker != nil {
		l.masker.Flush()
	}
}

// Write forwards command output. Errors from the destination are dropped: a broken log sink
// must not fail or stall the build it is recording.
func (l *containerLog) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.w.Write(p)
	l.midLine = p[len(p)-1] != '\n'
	return len(p), nil
}

// Printf writes one agent line.
func (l *containerLog) Printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	prefix := ""
	if l.midLine {
		prefix = "\n"
	}
	// Trailing spaces (an empty "Message: ") are trimmed so golden logs survive editors.
	msg := strings.TrimRight(fmt.Sprintf(format, args...), " ")
	fmt.Fprintf(l.w, "%s[Container] %s %s\n", prefix, l.now().Format("2006/01/02 15:04:05"), msg)
	l.midLine = false
}
