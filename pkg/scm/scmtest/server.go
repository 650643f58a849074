package scmtest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
)

// Server is a stand-in for a provider's API: an httptest.Server that keeps a copy of every
// request it answers, so a test can check what a client asked.
type Server struct {
	*httptest.Server
	mu       sync.Mutex
	requests []*http.Request
}

// NewServer starts a Server answering with h. It is closed when the test ends.
func NewServer(tb testing.TB, h http.Handler) *Server {
	tb.Helper()
	s := &Server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests = append(s.requests, r.Clone(context.Background()))
		s.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	tb.Cleanup(s.Close)
	return s
}

// Requests returns the requests answered so far, oldest first.
func (s *Server) Requests() []*http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}
