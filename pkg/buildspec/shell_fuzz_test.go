package buildspec

import (
	"bytes"
	"fmt"
	"os"
	"testing"
)

// FuzzShellOutput feeds the session's output reader any stream in any pieces, seeded with what
// a shell writes (output, started, skipped and done markers, a marker split across writes): it
// never panics, passes every byte that is not a complete marker line through in order, and
// turns every marker line into its event.
func FuzzShellOutput(f *testing.F) {
	const token = "SL0123456789abcdef"
	f.Add([]byte("hello\n"+token+" 1 S\nworld\n"+token+" 1 0\n"), uint8(3))
	f.Add([]byte(token+" 2 K\n"+token+" 3 127\n"), uint8(1))
	f.Add([]byte("no newline "+token+" 4 S"), uint8(7))
	f.Add([]byte(token+" x S\n"+token+" 5\n"+token+token+" 6 S\n"), uint8(2))
	f.Fuzz(func(t *testing.T, stream []byte, piece uint8) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		log := &pipeLog{}
		s := &session{token: token, log: log, shown: map[int]string{}}
		p := &shellProc{outR: r, notify: make(chan struct{}, 1), drained: make(chan struct{})}
		go s.read(p)
		step := int(piece)%16 + 1
		for i := 0; i < len(stream); i += step {
			if _, err := w.Write(stream[min(i, len(stream)):min(i+step, len(stream))]); err != nil {
				t.Fatal(err)
			}
		}
		w.Close()
		<-p.drained
		r.Close()

		want, events := splitMarkers(stream, []byte(token+" "))
		if !bytes.Equal(log.out.Bytes(), want) {
			t.Fatalf("output %q, want %q", log.out.Bytes(), want)
		}
		if got := p.take(); fmt.Sprint(got) != fmt.Sprint(events) {
			t.Fatalf("events %v, want %v", got, events)
		}
	})
}

// splitMarkers is the protocol stated plainly: a marker runs from the token to the end of its
// line; what is not a marker is output.
func splitMarkers(stream, marker []byte) (out []byte, events []event) {
	for {
		i := bytes.Index(stream, marker)
		if i < 0 {
			return append(out, stream...), events
		}
		end := bytes.IndexByte(stream[i+len(marker):], '\n')
		if end < 0 {
			return append(out, stream...), events
		}
		out = append(out, stream[:i]...)
		if ev, ok := parseEvent(stream[i+len(marker) : i+len(marker)+end]); ok {
			events = append(events, ev)
		}
		stream = stream[i+len(marker)+end+1:]
	}
}

// pipeLog keeps what the reader passes through; its own lines are not output.
type pipeLog struct{ out bytes.Buffer }

func (l *pipeLog) Write(b []byte) (int, error)       { return l.out.Write(b) }
func (l *pipeLog) Printf(format string, args ...any) {}

// FuzzParseEvent checks that a marker's text is read back as the event it was written from,
// and that anything else is refused rather than misread.
func FuzzParseEvent(f *testing.F) {
	f.Add(1, "S")
	f.Add(2, "K")
	f.Add(3, "0")
	f.Add(-4, "255")
	f.Add(5, "x")
	f.Fuzz(func(t *testing.T, seq int, what string) {
		ev, ok := parseEvent([]byte(fmt.Sprintf("%d %s", seq, what)))
		if !ok {
			return
		}
		if ev.seq != seq {
			t.Fatalf("seq %d read as %d", seq, ev.seq)
		}
		if (what == "S" || what == "K") != (ev.kind == what[0]) {
			t.Fatalf("%q read as kind %c", what, ev.kind)
		}
	})
}
