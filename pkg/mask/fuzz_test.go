package mask

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzWriter checks the masker's promise on any text, secret and cut: the secret never shows,
// and text without it passes through unchanged.
func FuzzWriter(f *testing.F) {
	f.Add("token is hunter2, again hunter2", "hunter2", 9)
	f.Add("aaaaab", "aab", 3)
	f.Add("-----BEGIN\nKEY\n-----END", "-----BEGIN\nKEY\n", 12)
	f.Fuzz(func(t *testing.T, text, secret string, cut int) {
		if strings.TrimSpace(secret) == "" || strings.Contains(secret, "*") {
			return // "***" itself could spell such a secret
		}
		cut = min(max(cut, 0), len(text))
		var out bytes.Buffer
		w := NewWriter(&out, []string{secret})
		_, _ = w.Write([]byte(text[:cut]))
		_, _ = w.Write([]byte(text[cut:]))
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		for _, v := range Values(secret) {
			if strings.Contains(out.String(), v) {
				t.Fatalf("%q shows in %q (text %q, cut %d)", v, out.String(), text, cut)
			}
		}
		if !strings.Contains(text, secret) && !strings.ContainsAny(secret, "\r\n") && out.String() != text {
			t.Fatalf("text without the secret changed: %q became %q", text, out.String())
		}
	})
}
