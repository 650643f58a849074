package scm

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// GitHub's documented test vector ("Validating webhook deliveries"): the secret, the payload
// and the signature it must produce.
const (
	ghVectorSecret    = "It's a Secret to Everybody"
	ghVectorPayload   = "Hello, World!"
	ghVectorSignature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
)

func TestSignMatchesGitHubsTestVector(t *testing.T) {
	t.Parallel()
	assert.Equal(t, ghVectorSignature, Sign([]byte(ghVectorSecret), []byte(ghVectorPayload)))
	require.NoError(t, Verify(ghVectorSignature, []byte(ghVectorPayload), []byte(ghVectorSecret)))
}

func TestVerify(t *testing.T) {
	t.Parallel()
	body := []byte(ghVectorPayload)
	good := []byte(ghVectorSecret)
	other := []byte("the new secret during a rotation")
	cases := []struct {
		name    string
		header  string
		secrets [][]byte
		want    error
	}{
		{"the right signature under the only secret passes", ghVectorSignature, [][]byte{good}, nil},
		{"the old secret still passes while a new one is added", ghVectorSignature, [][]byte{other, good}, nil},
		{"the new secret passes alongside the old one", Sign(other, body), [][]byte{good, other}, nil},
		{"a missing header is unsigned", "", [][]byte{good}, ErrNoSignature},
		{"a signature under another secret fails", Sign([]byte("guess"), body), [][]byte{good}, ErrBadSignature},
		{"the sha1 form GitHub also sends is refused", "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59", [][]byte{good}, ErrBadSignature},
		{"a bare hex digest without the prefix is refused", ghVectorSignature[len("sha256="):], [][]byte{good}, ErrBadSignature},
		{"a truncated digest is refused", ghVectorSignature[:40], [][]byte{good}, ErrBadSignature},
		{"non-hex characters are refused", "sha256=" + string(make([]byte, 64)), [][]byte{good}, ErrBadSignature},
		{"upper-case hex of the right digest passes", "sha256=757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17", [][]byte{good}, nil},
		{"no secrets configured rejects everything", ghVectorSignature, nil, ErrBadSignature},
		{"an empty secret never matches", Sign(nil, body), [][]byte{{}}, ErrBadSignature},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := Verify(c.header, body, c.secrets...)
			if c.want == nil {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, c.want)
		})
	}
}

func TestVerifyFailsWhenTheBodyChanges(t *testing.T) {
	t.Parallel()
	assert.ErrorIs(t, Verify(ghVectorSignature, []byte("Hello, World?"), []byte(ghVectorSecret)), ErrBadSignature)
}

func FuzzVerify(f *testing.F) {
	f.Add(ghVectorSignature, []byte(ghVectorPayload), []byte(ghVectorSecret))
	f.Add("sha256=", []byte{}, []byte{})
	f.Add("sha256=zz", []byte("x"), []byte("k"))
	f.Fuzz(func(t *testing.T, header string, body, secret []byte) {
		err := Verify(header, body, secret)
		if err == nil && header != Sign(secret, body) && !equalHexFold(header, Sign(secret, body)) {
			t.Fatalf("accepted %q for a body whose signature is %q", header, Sign(secret, body))
		}
		if len(secret) > 0 && Verify(Sign(secret, body), body, secret) != nil {
			t.Fatal("refused its own signature")
		}
	})
}

func equalHexFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		x, y := a[i]|0x20, b[i]|0x20
		if x != y {
			return false
		}
	}
	return true
}
