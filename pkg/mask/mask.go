// Package mask hides secret values in a stream of log output, as CodeBuild hides the values of
// a buildspec's parameter-store and secrets-manager variables: each occurrence becomes "***".
//
// Output arrives in arbitrary chunks (a pipe read, a line, half a line), so a secret may be
// split across two writes. The Writer holds back the shortest tail of what it was given that
// could still be the start of a secret, and writes everything before it at once; Flush writes
// the tail when the stream ends.
package mask

import (
	"bytes"
	"io"
	"slices"
	"strings"
	"sync"
)

// Replacement is what every secret value becomes.
const Replacement = "***"

// Values returns what to hide for the given secret values: each value, and each line of a
// multi-line value (a tool may print a key one line at a time), without empty or blank ones
// and without duplicates, longest first so that a secret containing another is hidden whole.
func Values(secrets ...string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		if strings.TrimSpace(s) != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, s := range secrets {
		add(s)
		if strings.ContainsAny(s, "\r\n") {
			for _, line := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }) {
				add(line)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

// Writer replaces secret values in what is written through it before passing it on to w. It
// is safe for concurrent use; Flush must be called when the stream ends.
type Writer struct {
	mu      sync.Mutex
	w       io.Writer
	secrets [][]byte
	pending []byte
}

// NewWriter returns a Writer hiding secrets (see Values for what a caller usually passes). With
// no secrets it still works, passing everything on unchanged.
func NewWriter(w io.Writer, secrets []string) *Writer {
	m := &Writer{w: w}
	for _, s := range Values(secrets...) {
		m.secrets = append(m.secrets, []byte(s))
	}
	return m
}

// Write masks p, together with any tail held back from earlier writes. It reports len(p)
// written unless the destination fails.
func (m *Writer) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.secrets) == 0 {
		return m.w.Write(p)
	}
	m.pending = append(m.pending, p...)
	out, rest := m.scan(m.pending, false)
	m.pending = append(m.pending[:0], rest...)
	if len(out) > 0 {
		if _, err := m.w.Write(out); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// Flush writes the held-back tail: the stream has ended, so it cannot become a secret any more.
func (m *Writer) Flush() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	out, _ := m.scan(m.pending, true)
	m.pending = m.pending[:0]
	if len(out) == 0 {
		return nil
	}
	_, err := m.w.Write(out)
	return err
}

// scan replaces every whole secret in b and returns the text that is final and, unless final
// is set, the tail that might still change: from the earliest start of a possible secret that
// the end of b cuts off, or of a secret overlapping it. Overlapping secrets are hidden as one
// span, so no part of either shows.
func (m *Writer) scan(b []byte, final bool) (out, rest []byte) {
	spans := m.spans(b)
	hold := len(b)
	if !final {
		hold -= m.partial(b)
	}
	for _, sp := range spans {
		if sp.to > hold {
			hold = min(hold, sp.from)
			break
		}
	}
	cursor := 0
	for _, sp := range spans {
		if sp.to > hold {
			break
		}
		out = append(out, b[cursor:sp.from]...)
		out = append(out, Replacement...)
		cursor = sp.to
	}
	return append(out, b[cursor:hold]...), b[hold:]
}

// span is a stretch of text to hide, [from, to).
type span struct{ from, to int }

// spans lists every occurrence of every secret in b, overlapping ones merged, in order.
func (m *Writer) spans(b []byte) []span {
	var all []span
	for _, s := range m.secrets {
		for off := 0; ; {
			i := bytes.Index(b[off:], s)
			if i < 0 {
				break
			}
			all = append(all, span{off + i, off + i + len(s)})
			off += i + 1
		}
	}
	slices.SortFunc(all, func(a, b span) int { return a.from - b.from })
	var merged []span
	for _, sp := range all {
		if n := len(merged); n > 0 && sp.from < merged[n-1].to {
			merged[n-1].to = max(merged[n-1].to, sp.to)
			continue
		}
		merged = append(merged, sp)
	}
	return merged
}

// partial returns the length of the longest tail of b that is a proper prefix of a secret.
// Only tails starting with a secret's first byte are compared, so a long secret costs little.
func (m *Writer) partial(b []byte) int {
	keep := 0
	for _, s := range m.secrets {
		j := max(0, len(b)-(len(s)-1))
		for j < len(b) && len(b)-j > keep {
			i := bytes.IndexByte(b[j:], s[0])
			if i < 0 {
				break
			}
			j += i
			if len(b)-j > keep && bytes.HasPrefix(s, b[j:]) {
				keep = len(b) - j
				break
			}
			j++
		}
	}
	return keep
}
