package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestGreeting(t *testing.T) {
	for _, c := range []struct{ name, want string }{
		{"ana", "hello, ana"},
		{"  bo ", "hello, bo"},
		{"", "hello, world"},
	} {
		if got := Greeting(c.name); got != c.want {
			t.Errorf("Greeting(%q) = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestRoutes(t *testing.T) {
	h := NewHandler("1.0")
	for _, c := range []struct {
		path string
		code int
		key  string
		want string
	}{
		{"/hello?name=ana", http.StatusOK, "message", "hello, ana"},
		{"/healthz", http.StatusOK, "version", "1.0"},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, c.path, nil))
		if rec.Code != c.code {
			t.Fatalf("GET %s: status %d, want %d", c.path, rec.Code, c.code)
		}
		var body map[string]string
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		if body[c.key] != c.want {
			t.Errorf("GET %s: %s = %q, want %q", c.path, c.key, body[c.key], c.want)
		}
	}
}

func TestHealthCheckOfTheRealServer(t *testing.T) {
	if err := check(t.Context(), 5*time.Second); err != nil {
		t.Fatal(err)
	}
}
