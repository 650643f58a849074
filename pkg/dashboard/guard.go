package dashboard

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// sessionCookie names the cookie holding a browser's session id; the session's token, which
// every form carries, is an HMAC of it under a key that lives only in this process.
const sessionCookie = "stepline_session"

// guard keeps other sites and other host names away from the dashboard. The dashboard listens
// on a loopback address, so the dangers are a page on another site posting to it (cross-site
// request forgery: a run approved by visiting a web page) and a host name that resolves to
// 127.0.0.1 (DNS rebinding: another site reading the pages as its own origin).
type guard struct {
	key   []byte
	hosts []string
}

func newGuard(hosts []string) *guard {
	key := make([]byte, 32)
	_, _ = rand.Read(key) // crypto/rand.Read never fails (Go 1.24)
	return &guard{key: key, hosts: hosts}
}

var (
	errPeer    = errors.New("this dashboard answers only to this machine: the request came over the network or through a proxy")
	errHost    = errors.New("this dashboard answers only to a loopback address or a host name it was given (--host)")
	errOrigin  = errors.New("a request from another site cannot change a run: the Origin is not this dashboard's")
	errSession = errors.New("the form's session token is missing or wrong: reload the page and try again")
)

// checkHost refuses a request whose Host is neither a loopback address, localhost, nor one of
// the configured host names: a rebinding name's requests carry that name.
func (g *guard) checkHost(r *http.Request) error {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if strings.EqualFold(host, "localhost") || slices.Contains(g.hosts, strings.ToLower(host)) {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return errHost
}

// forwarding names the headers a proxy or a tunnel adds to the requests it relays.
var forwarding = []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Real-Ip"}

// checkPeer refuses a request that did not come from this machine, whatever Host it names:
// one whose connection comes from another address, or one a proxy or tunnel relayed (it says
// so in a forwarding header). The Host check keeps a browser misled by DNS away; this keeps
// away anyone who can reach the port and writes "Host: localhost" himself, then reads a
// page's form token and posts it with a matching Origin, which no browser check can tell from
// the dashboard's own. It is defence in depth: the commands serve the dashboard on a listener
// bound to 127.0.0.1 of its own (stepline serve's webhooks, on any address, have their own),
// so only something on this machine reaches it, and a local proxy that forwards to it without
// forwarding headers is let through, as the machine's own user chose.
func (g *guard) checkPeer(r *http.Request) error {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return errPeer
	}
	for _, h := range forwarding {
		if _, ok := r.Header[h]; ok {
			return errPeer
		}
	}
	return nil
}

// session returns the browser's session id, setting a new one when it has none.
func (g *guard) session(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(sessionCookie); err == nil && validSession(c.Value) {
		return c.Value
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
	return id
}

func validSession(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// token is the session's form token.
func (g *guard) token(session string) string {
	m := hmac.New(sha256.New, g.key)
	m.Write([]byte(session))
	return hex.EncodeToString(m.Sum(nil))
}

// checkPost refuses a changing request unless it comes from a page of this dashboard: its
// Origin (or, from a browser that sends none, its Referer) is this dashboard's, the browser
// does not call it cross-site, and the form's token is the session cookie's.
func (g *guard) checkPost(r *http.Request) error {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return errOrigin
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		ref, err := url.Parse(r.Header.Get("Referer"))
		if err != nil || ref.Host == "" {
			return errOrigin
		}
		origin = ref.Scheme + "://" + ref.Host
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if origin != scheme+"://"+r.Host {
		return errOrigin
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil || !validSession(c.Value) {
		return errSession
	}
	if !hmac.Equal([]byte(r.PostFormValue("csrf")), []byte(g.token(c.Value))) {
		return errSession
	}
	return nil
}
