package local

import (
	"bytes"
	"io"
	"os"
	"sync"

	"github.com/stepline/stepline/pkg/engine"
)

// logWriter is an attempt's log: a file, possibly also streamed to the terminal.
type logWriter = io.WriteCloser

func openLogFile(_ engine.Task, path string) (logWriter, error) {
	return os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
}

// FollowLogs streams every attempt's log to w as well as to its file, each line prefixed
// with the action's name, so parallel actions stay readable (stepline run --follow).
func FollowLogs(w io.Writer) LogStreamer {
	var mu sync.Mutex
	return func(t engine.Task, path string) (logWriter, error) {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, err
		}
		return &prefixed{file: f, out: w, mu: &mu, prefix: []byte(t.Stage + "/" + t.Action + " | ")}, nil
	}
}

// prefixed copies writes to a file and, whole lines at a time, to a shared terminal.
type prefixed struct {
	file   *os.File
	out    io.Writer
	mu     *sync.Mutex
	prefix []byte
	buf    []byte
}

func (p *prefixed) Write(b []byte) (int, error) {
	n, err := p.file.Write(b)
	p.buf = append(p.buf, b[:n]...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		p.emit(p.buf[:i+1])
		p.buf = p.buf[i+1:]
	}
	return n, err
}

func (p *prefixed) emit(line []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, _ = p.out.Write(append(append([]byte(nil), p.prefix...), line...))
}

func (p *prefixed) Close() error {
	if len(p.buf) > 0 {
		p.emit(append(p.buf, '\n'))
		p.buf = nil
	}
	return p.file.Close()
}
