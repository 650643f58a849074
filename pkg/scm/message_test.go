package scm

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestErrorMessage(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, body, want string }{
		{"GitHub's message", `{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}`, "Bad credentials"},
		{"Bitbucket Cloud's error", `{"type":"error","error":{"message":"Repository not found"}}`, "Repository not found"},
		{"every Data Center error, joined", `{"errors":[{"context":null,"message":"Project X does not exist."},{"message":"Try again."}]}`, "Project X does not exist.; Try again."},
		{"the first line of a text answer", "upstream timed out\nat proxy 3", "upstream timed out"},
		{"never an HTML page", "<!DOCTYPE html><html><body>502</body></html>", ""},
		{"whitespace folded to one line", `{"message":"line one\n  line two"}`, "line one line two"},
		{"nothing from an empty body", "", ""},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, ErrorMessage([]byte(c.body)), c.name)
	}
	long := ErrorMessage([]byte(`{"message":"` + strings.Repeat("é", 300) + `"}`))
	assert.Equal(t, 201, len([]rune(long)), "cut at 200 characters, on a rune boundary, with an ellipsis")
}

func FuzzErrorMessage(f *testing.F) {
	for _, s := range []string{`{"message":"x"}`, `{"errors":[{"message":"a"},{}]}`, "text\nmore", "<html>", `{"error":{"message":7}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		m := ErrorMessage(body)
		if strings.ContainsAny(m, "\n\r") || len([]rune(m)) > 201 {
			t.Fatalf("not one short line: %q", m)
		}
	})
}
