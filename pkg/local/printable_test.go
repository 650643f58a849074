package local

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestPrintableEscapesWhatATerminalWouldActOnAndClips(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, in string
		max      int
		want     string
	}{
		{"plain text stays", "feature/login", 40, "feature/login"},
		{"an ANSI colour escape is shown, not obeyed", "\x1b[31mred\x1b[0m", 40, `\x1b[31mred\x1b[0m`},
		{"a carriage return cannot rewrite the line", "main\rrelease", 40, `main\rrelease`},
		{"backspaces cannot erase what came before", "good\b\b\b\bevil", 40, `good\x08\x08\x08\x08evil`},
		{"newlines and tabs stay on the line", "fix\n\tbug", 40, `fix\n\tbug`},
		{"a bidirectional override cannot reorder the text", "main\u202egnp.exe", 40, `main\u202egnp.exe`},
		{"C1 controls are escaped", "a\u009bb", 40, `a\u009bb`},
		{"invalid UTF-8 is shown byte by byte", "a\xffb", 40, `a\xffb`},
		{"a real replacement character stays", "a\uFFFDb", 40, "a\uFFFDb"},
		{"non-ASCII letters stay", "기능/로그인", 40, "기능/로그인"},
		{"a long name is clipped", strings.Repeat("x", 50), 10, strings.Repeat("x", 10) + "…"},
		{"a name of exactly the limit is whole", strings.Repeat("x", 10), 10, strings.Repeat("x", 10)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, Printable(tt.in, tt.max))
		})
	}
}
