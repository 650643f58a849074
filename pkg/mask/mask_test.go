package mask

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriterHidesSecretsWhereverTheWritesSplitThem(t *testing.T) {
	t.Parallel()
	secrets := []string{"hunter2", "s3cr3t-token", "tok", "abc", "bcdef"}
	text := "login hunter2 then s3cr3t-token, tok and hunter2hunter2; hunte r2 is not one, abcdef overlap\nhunter"
	want := "login *** then ***, *** and ******; hunte r2 is not one, *** overlap\nhunter"
	// Every way of cutting the text in two, and one byte at a time.
	for cut := 0; cut <= len(text); cut++ {
		var out bytes.Buffer
		w := NewWriter(&out, secrets)
		for _, part := range []string{text[:cut], text[cut:]} {
			n, err := w.Write([]byte(part))
			require.NoError(t, err)
			require.Equal(t, len(part), n)
		}
		require.NoError(t, w.Flush())
		require.Equal(t, want, out.String(), "cut at %d", cut)
	}
	var out bytes.Buffer
	w := NewWriter(&out, secrets)
	for i := range len(text) {
		_, _ = w.Write([]byte{text[i]})
	}
	require.NoError(t, w.Flush())
	assert.Equal(t, want, out.String())
}

// What cannot become a secret is passed on at once; only a possible start is held back.
func TestWriterHoldsBackOnlyAPossibleStartOfASecret(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	w := NewWriter(&out, []string{"hunter2"})
	_, _ = w.Write([]byte("build ok\nuser hun"))
	assert.Equal(t, "build ok\nuser ", out.String())
	_, _ = w.Write([]byte("gry\n"))
	assert.Equal(t, "build ok\nuser hungry\n", out.String())
	_, _ = w.Write([]byte("hunter"))
	require.NoError(t, w.Flush())
	assert.Equal(t, "build ok\nuser hungry\nhunter", out.String(), "the end of the stream releases the tail")
}

func TestWriterHidesMultiLineSecretsWholeAndLineByLine(t *testing.T) {
	t.Parallel()
	key := "-----BEGIN KEY-----\nAAAAB3NzaC1yc2E\r\nZZZZqwerty\n-----END KEY-----\n"
	var out bytes.Buffer
	w := NewWriter(&out, []string{key, "", "  "})
	_, _ = w.Write([]byte("whole: " + key + "one line: ZZZZqwerty\n"))
	require.NoError(t, w.Flush())
	assert.Equal(t, "whole: ***one line: ***\n", out.String())
	assert.NotContains(t, out.String(), "AAAAB3")
}

func TestWriterWithoutSecretsPassesEverythingOn(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	w := NewWriter(&out, nil)
	_, _ = w.Write([]byte("plain"))
	assert.Equal(t, "plain", out.String())
	require.NoError(t, w.Flush())
}

func TestValuesAreDistinctNonBlankAndLongestFirst(t *testing.T) {
	t.Parallel()
	assert.Equal(t, []string{"abc\ndefg", "defg", "abc", "ab"}, Values("ab", "abc\ndefg", " ", "ab", ""))
}

func BenchmarkWriterWithALongSecret(b *testing.B) {
	secret := strings.Repeat("k", 3000) + "end"
	line := []byte(strings.Repeat("kkkk output line without the secret\n", 4))
	w := NewWriter(&bytes.Buffer{}, []string{secret, "hunter2"})
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		_, _ = w.Write(line)
	}
}
