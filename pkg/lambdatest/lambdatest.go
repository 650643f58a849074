// Package lambdatest runs a real Lambda bootstrap binary in tests, the way the provided.al2023
// runtime runs it: the process starts with AWS_LAMBDA_RUNTIME_API pointing at a local
// implementation of the Lambda Runtime API (version 2018-06-01), and each Invoke hands it one
// event through GET /runtime/invocation/next and waits for what it posts back.
//
// What a function built with aws-lambda-go uses is implemented: next, response (with the
// error trailers of a response that fails midway), error and init/error. Extensions, response
// streaming and the Telemetry API are not. Invocations are served one at a time, as in one
// Lambda execution environment. The harness relies on process groups, so it runs on Linux,
// like Lambda itself.
package lambdatest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// MaxPayload is Lambda's limit on a synchronous invocation's event and response, in bytes.
const MaxPayload = 6 * 1024 * 1024

// DefaultTimeout is the function timeout when Start is given no WithTimeout.
const DefaultTimeout = 30 * time.Second

// Region is the region the function runs in unless env sets AWS_REGION.
const Region = "us-east-1"

// accountID is the account in the function's ARN.
const accountID = "123456789012"

// ErrStopped is returned by Invoke once the function has been stopped.
var ErrStopped = errors.New("lambdatest: the function has been stopped")

// Result is one invocation's outcome, as Lambda's Invoke API reports it.
type Result struct {
	// Payload is the function's response or, when it failed, the error document it posted
	// ({"errorMessage", "errorType", "stackTrace"}).
	Payload []byte
	// ErrorType is the errorType of a failed invocation and empty on success. aws-lambda-go
	// sets it to the Go type name of the returned error, which is what a Step Functions
	// Catch matches.
	ErrorType string
	// ErrorMessage is the errorMessage of a failed invocation.
	ErrorMessage string
	// Duration runs from the moment the runtime received the event to its answer: Lambda's
	// Duration, without initialisation.
	Duration time.Duration
}

// Failed reports whether the function answered with an error.
func (r Result) Failed() bool { return r.ErrorType != "" }

// InitError is returned by Invoke when the runtime reported that it could not initialise
// (POST /runtime/init/error).
type InitError struct {
	// Type and Message are the errorType and errorMessage the runtime posted.
	Type, Message string
}

func (e *InitError) Error() string {
	return fmt.Sprintf("lambdatest: the runtime failed to initialise: %s: %s", e.Type, e.Message)
}

// Option configures Start.
type Option func(*Function)

// WithTimeout sets the function's timeout (default DefaultTimeout): the deadline the runtime
// is given with each event. An invocation still running past it makes Invoke fail and stops
// the process, as Lambda replaces an execution environment after a timeout.
func WithTimeout(d time.Duration) Option { return func(f *Function) { f.timeout = d } }

// Function is a bootstrap process served by a local Runtime API. Start it with Start; it is
// stopped when the test ends. Its methods are safe for concurrent use.
type Function struct {
	name    string
	arn     string
	timeout time.Duration
	srv     *httptest.Server
	cmd     *exec.Cmd
	out     syncBuffer

	// queue hands an invocation to a waiting GET /next; it is unbuffered, so a send completes
	// exactly when the runtime takes the event.
	queue chan *invocation
	// exited is closed once the process has exited, after exitErr is set.
	exited  chan struct{}
	exitErr error
	// stopped is closed by Stop.
	stopped  chan struct{}
	stopOnce sync.Once
	// initFailed is closed when the runtime posts an init error, after initErr is set.
	initFailed chan struct{}

	mu        sync.Mutex
	started   time.Time
	initErr   *InitError
	inflight  *invocation
	delivered int
	ready     time.Duration
	first     time.Duration
}

// invocation is one event on its way through the runtime.
type invocation struct {
	id      string
	payload []byte
	// received is when the runtime took the event; set by GET /next under Function.mu.
	received time.Time
	done     chan outcome
}

type outcome struct {
	result Result
	err    error
}

// Start launches the binary at binaryPath as Lambda launches a bootstrap: in its own
// directory (LAMBDA_TASK_ROOT), with the environment Lambda defines (AWS_LAMBDA_RUNTIME_API,
// _HANDLER, AWS_LAMBDA_FUNCTION_NAME and the rest) plus env, which wins over the defaults.
// The host environment is not inherited, so a developer's AWS profile or credentials never
// reach the function: pass AWS_ACCESS_KEY_ID and the like in env. The function is named
// after the binary, or after its directory when the binary is called bootstrap, unless env
// sets AWS_LAMBDA_FUNCTION_NAME.
//
// The process, and any process it starts, is killed when the test ends; its stdout and
// stderr are captured and logged if the test failed.
func Start(tb testing.TB, binaryPath string, env map[string]string, opts ...Option) *Function {
	tb.Helper()
	bin, err := filepath.Abs(binaryPath)
	if err != nil {
		tb.Fatalf("lambdatest: %v", err)
	}
	f := &Function{timeout: DefaultTimeout, queue: make(chan *invocation),
		exited: make(chan struct{}), stopped: make(chan struct{}), initFailed: make(chan struct{})}
	for _, o := range opts {
		o(f)
	}
	f.name = env["AWS_LAMBDA_FUNCTION_NAME"]
	if f.name == "" {
		f.name = functionName(bin)
	}
	region := env["AWS_REGION"]
	if region == "" {
		region = Region
	}
	f.arn = fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", region, accountID, f.name)
	f.srv = httptest.NewServer(f.routes())

	f.cmd = exec.Command(bin)
	f.cmd.Dir = filepath.Dir(bin)
	f.cmd.Env = environ(f.lambdaEnv(bin, region), env)
	f.cmd.Stdout, f.cmd.Stderr = &f.out, &f.out
	f.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// The output pipes stay open while any process of the group lives; after the kill this
	// only bounds the wait for the copy goroutines.
	f.cmd.WaitDelay = 2 * time.Second

	// The Runtime API already serves and reads started, under mu.
	f.mu.Lock()
	f.started = time.Now()
	f.mu.Unlock()
	if err := f.cmd.Start(); err != nil {
		f.srv.Close()
		tb.Fatalf("lambdatest: start %s: %v", binaryPath, err)
	}
	go func() {
		f.exitErr = f.cmd.Wait()
		close(f.exited)
	}()
	tb.Cleanup(func() {
		f.Stop()
		if tb.Failed() {
			tb.Logf("lambdatest: output of %s (%s):\n%s", f.name, binaryPath, f.Output())
		}
	})
	return f
}

// lambdaEnv is the environment Lambda gives a provided.al2023 function.
func (f *Function) lambdaEnv(bin, region string) map[string]string {
	return map[string]string{
		"AWS_LAMBDA_RUNTIME_API":          f.srv.Listener.Addr().String(),
		"_HANDLER":                        "bootstrap",
		"AWS_LAMBDA_FUNCTION_NAME":        f.name,
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
		"AWS_LAMBDA_INITIALIZATION_TYPE":  "on-demand",
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/" + f.name,
		"AWS_LAMBDA_LOG_STREAM_NAME":      time.Now().UTC().Format("2006/01/02") + "/[$LATEST]" + randomHex(16),
		"AWS_REGION":                      region,
		"AWS_DEFAULT_REGION":              region,
		"LAMBDA_TASK_ROOT":                filepath.Dir(bin),
		"LANG":                            "en_US.UTF-8",
		"PATH":                            "/usr/local/bin:/usr/bin/:/bin:/opt/bin",
		"TZ":                              ":UTC",
	}
}

// environ merges the defaults and the caller's env into a sorted KEY=value list.
func environ(defaults, env map[string]string) []string {
	all := maps.Clone(defaults)
	maps.Copy(all, env)
	out := make([]string, 0, len(all))
	for _, k := range slices.Sorted(maps.Keys(all)) {
		out = append(out, k+"="+all[k])
	}
	return out
}

// functionName names a function after its binary, or after the binary's directory when the
// binary has the conventional name bootstrap.
func functionName(bin string) string {
	if base := filepath.Base(bin); base != "bootstrap" {
		return base
	}
	return filepath.Base(filepath.Dir(bin))
}

// Name returns the function's name (AWS_LAMBDA_FUNCTION_NAME).
func (f *Function) Name() string { return f.name }

// Invoke sends payload to the function and waits for its answer. A function error is a
// Result with ErrorType set, not an error: Invoke fails only when no answer can come (the
// process exited or failed to initialise, the timeout passed, the function was stopped, ctx
// ended). If ctx ends while the function runs, the invocation still completes inside the
// function before the next one is delivered, as on Lambda.
func (f *Function) Invoke(ctx context.Context, payload []byte) (Result, error) {
	if len(payload) > MaxPayload {
		return Result{}, fmt.Errorf("lambdatest: the event is %d bytes, over Lambda's %d-byte limit", len(payload), MaxPayload)
	}
	if err := f.unavailable(); err != nil {
		return Result{}, err
	}
	inv := &invocation{id: requestID(), payload: payload, done: make(chan outcome, 1)}
	select {
	case f.queue <- inv:
	case <-ctx.Done():
		return Result{}, ctx.Err()
	case <-f.stopped:
		return Result{}, f.unavailable()
	case <-f.exited:
		return Result{}, f.unavailable()
	case <-f.initFailed:
		return Result{}, f.unavailable()
	}
	// The send completed when GET /next took the event, so this timer starts just after the
	// deadline the runtime was given.
	timer := time.NewTimer(f.timeout)
	defer timer.Stop()
	select {
	case o := <-inv.done:
		return o.result, o.err
	case <-ctx.Done():
		return Result{}, ctx.Err()
	case <-f.stopped:
	case <-f.exited:
	case <-timer.C:
		f.Stop()
		return Result{}, fmt.Errorf("lambdatest: %s did not answer request %s within its %s timeout; the process was stopped", f.name, inv.id, f.timeout)
	}
	// The answer may have come just before the process ended.
	select {
	case o := <-inv.done:
		return o.result, o.err
	default:
		return Result{}, f.unavailable()
	}
}

// unavailable says why no invocation can be served, nil while one can. Stop and a posted
// init error come first: both are followed by the process's exit.
func (f *Function) unavailable() error {
	select {
	case <-f.stopped:
		return ErrStopped
	default:
	}
	select {
	case <-f.initFailed:
		return f.initErr
	default:
	}
	select {
	case <-f.exited:
		return fmt.Errorf("lambdatest: %s exited before answering (%v); last output:\n%s", f.name, f.exitErr, tail(f.Output(), 2048))
	default:
	}
	return nil
}

// FirstResponse returns the time from exec to the first answer (response or error) the
// runtime posted, which includes the whole initialisation; zero before any answer.
func (f *Function) FirstResponse() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.first
}

// InitDuration returns the time from exec to the runtime's first request for an event, the
// initialisation Lambda reports as Init Duration; zero before that request.
func (f *Function) InitDuration() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ready
}

// Output returns what the process wrote to stdout and stderr so far.
func (f *Function) Output() string { return f.out.String() }

// Stop kills the process group, waits for the process to exit and closes the Runtime API.
// It is called at the end of the test and may be called earlier; later Invokes fail with
// ErrStopped.
func (f *Function) Stop() {
	f.stopOnce.Do(func() {
		close(f.stopped)
		_ = syscall.Kill(-f.cmd.Process.Pid, syscall.SIGKILL)
		<-f.exited
		f.srv.Close()
	})
}

// tail returns the end of s, at most n bytes, starting on a line.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return "…\n" + s
}

// syncBuffer is the process's combined output, written by the stdout and stderr copiers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
