// Command shop is a small HTTP service: GET / answers with the version it was built from,
// GET /healthz is the load balancer's health check. It listens on $PORT (default 8080).
package main

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"time"
)

// version is set at build time with -ldflags "-X main.version=…" (the commit).
var version = "dev"

func main() {
	addr := ":" + envOr("PORT", "8080")
	srv := &http.Server{Addr: addr, Handler: NewHandler(version), ReadHeaderTimeout: 5 * time.Second}
	slog.Info("shop listening", "addr", addr, "version", version)
	if err := srv.ListenAndServe(); err != nil {
		slog.Error("shop stopped", "err", err)
		os.Exit(1)
	}
}

// NewHandler serves GET / and GET /healthz.
func NewHandler(version string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"service": "shop", "version": version})
	})
	return mux
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
