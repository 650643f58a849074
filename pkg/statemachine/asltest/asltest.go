// Package asltest runs pipeline.asl.json in an independent interpreter,
// aws-local-stepfunctions on Node 22 (installed by make node-tools on linux/x64; see
// findNode22 for other platforms), with every Task state bound by name to a Go function, so
// tests can drive the real file with the real handlers.
package asltest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// dir is this package's directory, found from the source file, so tests of any package can
// use it.
func dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}

// NamedError is an error a bound handler returns under the name the interpreter throws, as
// aws-lambda-go reports a Go error's type name.
type NamedError struct{ Name, Msg string }

func (e NamedError) Error() string { return e.Msg }

// ErrAbort, returned by a handler, aborts the execution while that task runs, as
// StopExecution does: the task never answers and the execution ends with the interpreter's
// ExecutionAbortedError (Execution.Error).
var ErrAbort = errors.New("abort the execution")

// Aborted is Execution.Error of an execution ended by ErrAbort.
const Aborted = "ExecutionAbortedError"

// HandlerFunc is one Task state's binding: it gets the state's effective input.
type HandlerFunc func(in json.RawMessage) (any, error)

// Execution is what one interpreted run did.
type Execution struct {
	// Entered lists the states entered, in order (Map iterations included).
	Entered []string
	Output  json.RawMessage
	Error   string
	Cause   string
	// Events is the interpreter's event log, one map per event.
	Events []map[string]any
}

// Interpret runs pipeline.asl.json in aws-local-stepfunctions on Node 22 with every Task
// state bound, by name, to handlers (a missing binding fails the state when it is called).
func Interpret(t testing.TB, input any, handlers map[string]HandlerFunc) Execution {
	t.Helper()
	modules := filepath.Join(dir(), "..", "..", "..", "scripts", "node", "node_modules")
	node, err := findNode22(modules, runtime.GOOS, runtime.GOARCH)
	require.NoError(t, err)

	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/")
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		h, ok := handlers[name]
		mu.Unlock()
		if !ok {
			w.WriteHeader(500)
			_ = json.NewEncoder(w).Encode(map[string]string{"errorType": "NoBinding", "errorMessage": "no handler bound to " + name})
			return
		}
		out, err := h(body)
		if errors.Is(err, ErrAbort) {
			w.Header().Set("X-Stepline-Abort", "1")
			w.WriteHeader(500)
			return
		}
		if err != nil {
			var ne NamedError
			typ := "Error"
			if errors.As(err, &ne) {
				typ = ne.Name
			}
			w.WriteHeader(500)
			_ = json.NewEncoder(w).Encode(map[string]string{"errorType": typ, "errorMessage": err.Error()})
			return
		}
		_ = json.NewEncoder(w).Encode(out)
	}))
	defer srv.Close()

	in, err := json.Marshal(input)
	require.NoError(t, err)
	cmd := exec.Command(node, filepath.Join(dir(), "run.mjs"), filepath.Join(dir(), "..", "pipeline.asl.json"), string(in), srv.URL)
	cmd.Env = append(os.Environ(), "STEPLINE_NODE_MODULES="+modules)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "node: %s", stderr.String())

	var ex Execution
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var ev map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &ev), sc.Text())
		ex.Events = append(ex.Events, ev)
		switch ev["type"] {
		case "StateEntered":
			st, _ := ev["state"].(map[string]any)
			name, _ := st["name"].(string)
			ex.Entered = append(ex.Entered, name)
		case "Result":
			ex.Output, _ = json.Marshal(ev["output"])
		case "Failed":
			ex.Error, _ = ev["error"].(string)
			ex.Cause, _ = ev["cause"].(string)
		}
	}
	return ex
}
