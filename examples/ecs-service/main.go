// Command ecs-service is the example service stepline builds into a Docker image in CodeBuild,
// pushes to ECR and deploys to Amazon ECS: a tiny HTTP API that says which image version
// answers, with the health endpoint the load balancer's target group checks.
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
	slog.Info("ecs-service listening", "addr", addr, "version", version)
	if err := srv.ListenAndServe(); err != nil {
		slog.Error("ecs-service stopped", "err", err)
		os.Exit(1)
	}
}

// NewHandler serves GET / (a greeting naming the version) and GET /healthz.
func NewHandler(version string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"message": "hello from ECS", "version": version})
	})
	return mux
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
