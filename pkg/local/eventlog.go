package local

import (
	"encoding/json"
	"log/slog"
	"os"
	"sync"

	"github.com/stepline/stepline/pkg/engine"
)

// EventLog appends every state change as one JSON object per line, the local stand-in for the
// EventBridge bus: tools can tail it the way rules consume pipeline events on AWS.
type EventLog struct {
	mu   sync.Mutex
	path string
	log  *slog.Logger
}

// NewEventLog appends to the file at path (created when missing); write problems are logged,
// never fatal to the run.
func NewEventLog(path string, log *slog.Logger) *EventLog {
	return &EventLog{path: path, log: log}
}

// Event writes e as one line.
func (l *EventLog) Event(e engine.Event, _ engine.State) {
	l.mu.Lock()
	defer l.mu.Unlock()
	line, err := json.Marshal(e)
	if err == nil {
		var f *os.File
		if f, err = os.OpenFile(l.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err == nil {
			_, err = f.Write(append(line, '\n'))
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
	}
	if err != nil && l.log != nil {
		l.log.Warn("event log write failed", "path", l.path, "err", err)
	}
}
