package main

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
)

// NewHandler returns the service's routes: GET /hello?name=… and GET /healthz.
func NewHandler(version string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"message": Greeting(r.URL.Query().Get("name")), "version": version})
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		// HELLO_UNHEALTHY lets the quick start show a failed health check restoring the
		// previous release.
		if os.Getenv("HELLO_UNHEALTHY") != "" {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unhealthy"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": version})
	})
	return mux
}

// Greeting greets name, or the world when name is blank.
func Greeting(name string) string {
	name = strings.TrimSpace(name)
	if name == "" {
		name = "world"
	}
	return "hello, " + name
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
