// Package awstest gives tests a real aws-sdk-go-v2 configuration pointed at a local AWS
// stand-in: moto's server (python3 -m moto.server), started once per test binary. Tests that
// need it fail, never skip, when moto is missing, with a message saying how to get it.
package awstest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Region is the region every test client uses.
const Region = "us-east-1"

// Moto is a running moto server.
type Moto struct {
	// Endpoint is the server's base URL, http://127.0.0.1:PORT.
	Endpoint string
	pid      int
	exited   chan error
}

var (
	once    sync.Once
	shared  *Moto
	started error
)

// StartMoto returns the test binary's moto server, starting it on first use. Call Stop from
// TestMain (StopMoto) so the process does not outlive the tests. Each test should use its
// own resource names, since the server is shared.
func StartMoto(tb testing.TB) *Moto {
	tb.Helper()
	once.Do(func() { shared, started = launch() })
	if started != nil {
		tb.Fatalf("moto is needed for this test and could not start: %v\n"+
			"moto ships with the development image (python3 -m moto.server); install it with the image's Python, or run scripts/check-tools.sh to see what is missing", started)
	}
	return shared
}

// StopMoto stops the shared server if one was started; call it from TestMain after m.Run.
func StopMoto() {
	if shared != nil {
		_ = syscall.Kill(-shared.pid, syscall.SIGTERM)
		select {
		case <-shared.exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-shared.pid, syscall.SIGKILL)
		}
	}
}

func launch() (*Moto, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("python3", "-m", "moto.server", "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start python3 -m moto.server: %w", err)
	}
	var tail []string
	var mu sync.Mutex
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			mu.Lock()
			tail = append(tail, sc.Text())
			if len(tail) > 20 {
				tail = tail[1:]
			}
			mu.Unlock()
		}
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	m := &Moto{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), pid: cmd.Process.Pid, exited: exited}
	deadline := time.After(30 * time.Second)
	for {
		select {
		case err := <-exited:
			mu.Lock()
			defer mu.Unlock()
			return nil, fmt.Errorf("python3 -m moto.server exited (%v): %v", err, tail)
		case <-deadline:
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			return nil, errors.New("python3 -m moto.server did not answer within 30s")
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := http.Get(m.Endpoint + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			return m, nil
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Config returns an aws.Config with static test credentials and the server as BaseEndpoint,
// for any service client: s3.NewFromConfig(m.Config(), func(o *s3.Options){ o.UsePathStyle = true }).
func (m *Moto) Config() aws.Config {
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider("testing", "testing", ""),
		BaseEndpoint: aws.String(m.Endpoint),
		HTTPClient:   &http.Client{Timeout: 30 * time.Second},
	}
}

// Reset clears every resource of the server (moto's /moto-api/reset).
func (m *Moto) Reset(ctx context.Context) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, m.Endpoint+"/moto-api/reset", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// Main runs a test binary's tests and stops moto afterwards; use it as TestMain's body.
func Main(m *testing.M) {
	code := m.Run()
	StopMoto()
	os.Exit(code)
}
