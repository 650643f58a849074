package commitstatus

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// The header decoders read what a provider (or anything between) sends: whatever it is, a
// wait is never negative and never beyond maxSeconds, and nothing panics.
func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"7", "0", "-1", "3600", "Wed, 21 Oct 2015 07:28:00 GMT", "Mon, 07 Dec 2026 10:00:30 GMT",
		"99999999999999999999", " 12 ", "1.5", ""} {
		f.Add(s)
	}
	now := newClock().Now()
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := RetryAfter(v, now)
		if d < 0 || d > maxSeconds*time.Second || (!ok && d != 0) {
			t.Fatalf("RetryAfter(%q) = %v, %v", v, d, ok)
		}
	})
}

func FuzzResetIn(f *testing.F) {
	for _, s := range []string{"1796637600", "0", "-5", "9223372036854775807", "1796637630 ", "soon"} {
		f.Add(s)
	}
	now := newClock().Now()
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := ResetIn(v, now)
		if d < 0 || d > maxSeconds*time.Second || (!ok && d != 0) {
			t.Fatalf("ResetIn(%q) = %v, %v", v, d, ok)
		}
	})
}

// rateLimit decides between a rate limit and a refused token on any headers and message.
func FuzzRateLimit(f *testing.F) {
	f.Add(403, "0", "1796637630", "", "Bad credentials")
	f.Add(429, "", "", "120", "")
	f.Add(403, "", "", "", "You have exceeded a secondary rate limit")
	f.Add(500, "0", "", "1", "")
	now := newClock().Now()
	f.Fuzz(func(t *testing.T, code int, remaining, reset, retryAfter, message string) {
		resp := &http.Response{StatusCode: code, Header: http.Header{}}
		resp.Header.Set("X-RateLimit-Remaining", remaining)
		resp.Header.Set("X-RateLimit-Reset", reset)
		resp.Header.Set("Retry-After", retryAfter)
		d, limited := rateLimit(resp, message, now)
		if d < 0 || d > maxSeconds*time.Second {
			t.Fatalf("wait %v", d)
		}
		if limited && code != 403 && code != 429 {
			t.Fatalf("a %d is not a rate limit", code)
		}
		if code == 429 && !limited {
			t.Fatal("a 429 is always a rate limit")
		}
		if code == 403 && !limited && (remaining == "0" || strings.Contains(strings.ToLower(message), "rate limit")) {
			t.Fatal("an exhausted limit was taken for a refused token")
		}
	})
}
