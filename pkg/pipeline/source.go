package pipeline

import (
	"sort"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// source is the file's text split into lines the way yaml.v3 counts them, with the start of
// every node, so that a problem inside a string (one #{…} among several) can be pointed at
// exactly rather than at the start of the string.
type source struct {
	lines []string
	// ascii marks the lines without multi-byte characters, where a column is a byte offset.
	ascii  []bool
	starts []Pos
}

func newSource(data []byte, root *yaml.Node) *source {
	text := strings.TrimPrefix(string(data), "\uFEFF")
	s := &source{lines: splitLines(text)}
	s.ascii = make([]bool, len(s.lines))
	for i, l := range s.lines {
		s.ascii[i] = isASCII(l)
	}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind != yaml.DocumentNode {
			s.starts = append(s.starts, pos(n))
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	if root != nil {
		walk(root)
	}
	sort.Slice(s.starts, func(i, j int) bool { return before(s.starts[i], s.starts[j]) })
	return s
}

func before(a, b Pos) bool {
	return a.Line < b.Line || (a.Line == b.Line && a.Col < b.Col)
}

// splitLines breaks text at every line break yaml.v3 recognises (LF, CRLF, CR, NEL, LS, PS),
// so that line numbers agree with the parser's.
func splitLines(text string) []string {
	var lines []string
	start := 0
	for i := 0; i < len(text); {
		r, w := utf8.DecodeRuneInString(text[i:])
		switch r {
		case '\r':
			lines = append(lines, text[start:i])
			if i+1 < len(text) && text[i+1] == '\n' {
				w = 2
			}
			start = i + w
		case '\n', '\u0085', '\u2028', '\u2029':
			lines = append(lines, text[start:i])
			start = i + w
		}
		i += w
	}
	return append(lines, text[start:])
}

// locate finds the nth (0-based) occurrence of text inside the source of the scalar starting at
// start, which extends to the start of the next node. It falls back to the node's own
// position when the text is not there verbatim, e.g. because of escape sequences.
func (s *source) locate(start Pos, text string, nth int) Pos {
	end := Pos{Line: len(s.lines) + 1, Col: 1}
	if i := sort.Search(len(s.starts), func(i int) bool { return before(start, s.starts[i]) }); i < len(s.starts) {
		end = s.starts[i]
	}
	for line := start.Line; line <= end.Line && line <= len(s.lines) && line >= 1; line++ {
		l := s.lines[line-1]
		from := 0
		if line == start.Line {
			from = s.byteOffset(line, start.Col)
		}
		limit := len(l)
		if line == end.Line {
			limit = s.byteOffset(line, end.Col)
		}
		for from < limit {
			i := strings.Index(l[from:limit], text)
			if i < 0 {
				break
			}
			if nth == 0 {
				col := from + i + 1
				if !s.ascii[line-1] {
					col = utf8.RuneCountInString(l[:from+i]) + 1
				}
				return Pos{Line: line, Col: col}
			}
			nth--
			from += i + len(text)
		}
	}
	return start
}

// byteOffset converts a 1-based character column of a line to a byte offset, clamped to the
// line. ASCII lines, nearly all of them, take the short way, so that a long line does not make
// every lookup on it walk it from the start.
func (s *source) byteOffset(line, col int) int {
	l := s.lines[line-1]
	if s.ascii[line-1] {
		return min(max(col-1, 0), len(l))
	}
	off := 0
	for c := 1; c < col && off < len(l); c++ {
		_, w := utf8.DecodeRuneInString(l[off:])
		off += w
	}
	return off
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// itemPos moves the position of an empty list item, which yaml.v3 places after its dash, back
// onto the dash, so that the problem points at something visible.
func (s *source) itemPos(p Pos) Pos {
	if p.Line < 1 || p.Line > len(s.lines) {
		return p
	}
	l := s.lines[p.Line-1]
	// Spaces, tabs and '-' are single bytes in UTF-8, so walking back byte by byte is safe.
	off := s.byteOffset(p.Line, p.Col)
	for off > 0 && (l[off-1] == ' ' || l[off-1] == '\t') {
		off--
	}
	if off == 0 || l[off-1] != '-' {
		return p
	}
	col := off
	if !s.ascii[p.Line-1] {
		col = utf8.RuneCountInString(l[:off-1]) + 1
	}
	return Pos{Line: p.Line, Col: col}
}
