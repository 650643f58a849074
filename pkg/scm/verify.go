package scm

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
)

// Signature errors. Neither says anything about the secrets, so they can be logged and
// answered as they are.
var (
	// ErrNoSignature means the delivery carries no signature header.
	ErrNoSignature = errors.New("the delivery is not signed")
	// ErrBadSignature means the signature is malformed or matches none of the secrets.
	ErrBadSignature = errors.New("the delivery's signature does not match")
)

// Sign returns the signature header value for body under secret: "sha256=" and the hex
// HMAC-SHA256, the form GitHub, Bitbucket Cloud and Bitbucket Data Center all send.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks header, a "sha256=<hex>" signature, against the HMAC-SHA256 of the raw body
// under each of secrets (several during a rotation). Every secret is tried, in constant time
// per comparison, whatever matched, so timing reveals neither the signature nor which secret
// is in use.
func Verify(header string, body []byte, secrets ...[]byte) error {
	if header == "" {
		return ErrNoSignature
	}
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	if !ok || len(hexSig) != 2*sha256.Size {
		return ErrBadSignature
	}
	want := make([]byte, sha256.Size)
	if _, err := hex.Decode(want, []byte(hexSig)); err != nil {
		return ErrBadSignature
	}
	matched := 0
	got := make([]byte, 0, sha256.Size)
	for _, s := range secrets {
		if len(s) == 0 {
			continue
		}
		m := hmac.New(sha256.New, s)
		m.Write(body)
		got = m.Sum(got[:0])
		matched |= boolInt(hmac.Equal(got, want))
	}
	if matched == 0 {
		return ErrBadSignature
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
