// Command hello is the example service stepline's quick start builds, tests and deploys: a tiny
// HTTP API with a health endpoint. `hello serve` runs it; `hello check` starts it on a free
// port and probes /healthz, which is what the pipeline's local deploy uses as its health check.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: hello serve [-addr ADDR] | hello check | hello version")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		fs := flag.NewFlagSet("serve", flag.ExitOnError)
		addr := fs.String("addr", "127.0.0.1:8080", "listen address")
		_ = fs.Parse(os.Args[2:])
		err = http.ListenAndServe(*addr, NewHandler(version))
	case "check":
		err = check(context.Background(), 5*time.Second)
		if err == nil {
			fmt.Println("healthy: version", version)
		}
	case "version":
		fmt.Println(version)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "hello:", err)
		os.Exit(1)
	}
}

// check serves the API on a free loopback port and asks its health endpoint.
func check(ctx context.Context, timeout time.Duration) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: NewHandler(version), ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+ln.Addr().String()+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return errors.New("health check answered " + resp.Status + ": " + string(body))
	}
	return nil
}
