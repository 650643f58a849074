package scmtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// Fixture is one recorded delivery body and the event it is sent as.
type Fixture struct {
	// Name is the fixture's name, and its golden file's.
	Name string
	// Event is the value of the provider's event header (X-GitHub-Event, X-Event-Key).
	Event string
	// Body is the delivery's body.
	Body []byte
}

// FixtureNotes is the file of a fixture directory that says where each fixture comes from
// (the documentation page and version it was written from); it is no fixture itself.
const FixtureNotes = "README.md"

// ReadFixtures reads every file of dir but FixtureNotes as a fixture named after the file and
// sent as events[name]. It fails on a file the table does not name and on a name without a
// file, so a fixture added upstream is never skipped silently.
func ReadFixtures(tb testing.TB, dir string, events map[string]string) []Fixture {
	tb.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(tb, err, "read the fixtures in %s", dir)
	var out []Fixture
	for _, e := range entries {
		if e.Name() == FixtureNotes {
			continue
		}
		path := filepath.Join(dir, e.Name())
		event, ok := events[e.Name()]
		if !ok {
			tb.Errorf("%s has no event in the table; add it", path)
			continue
		}
		body, err := os.ReadFile(path)
		require.NoError(tb, err)
		out = append(out, Fixture{Name: e.Name(), Event: event, Body: body})
	}
	for name := range events {
		if !slices.ContainsFunc(out, func(f Fixture) bool { return f.Name == name }) {
			tb.Errorf("the table names %s, which %s does not have", name, dir)
		}
	}
	return out
}

// playgroundModule is the webhook library whose testdata holds payloads recorded from
// Bitbucket Cloud (testdata/bitbucket) and Data Center (testdata/bitbucket-server).
const playgroundModule = "github.com/go-playground/webhooks/v6"

var playgroundDir = sync.OnceValues(func() (string, error) {
	var stderr bytes.Buffer
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", playgroundModule)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("cannot locate %s with go list -m: %w: %s", playgroundModule, err, strings.TrimSpace(stderr.String()))
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", fmt.Errorf("%s is not in the module cache: run go mod download %s", playgroundModule, playgroundModule)
	}
	return dir, nil
})

// PlaygroundDir returns the directory of github.com/go-playground/webhooks/v6, found the way
// the go command finds it, so the tests read the very version go.mod requires.
func PlaygroundDir(tb testing.TB) string {
	tb.Helper()
	dir, err := playgroundDir()
	if err != nil {
		tb.Fatal(err)
	}
	return dir
}

// octokitIndex is @octokit/webhooks-examples' list of real GitHub payloads, relative to the
// module root, installed from the lockfile by `make node-tools`.
const octokitIndex = "scripts/node/node_modules/@octokit/webhooks-examples/api.github.com/index.json"

var octokitExamples = sync.OnceValues(func() (map[string][]json.RawMessage, error) {
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	path := filepath.Join(root, filepath.FromSlash(octokitIndex))
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s is missing: run make node-tools", path)
	}
	if err != nil {
		return nil, err
	}
	var index []struct {
		Name     string            `json:"name"`
		Examples []json.RawMessage `json:"examples"`
	}
	if err := json.Unmarshal(data, &index); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	out := make(map[string][]json.RawMessage, len(index))
	for _, e := range index {
		out[e.Name] = append(out[e.Name], e.Examples...)
	}
	return out, nil
})

// OctokitExamples returns the real payloads of a GitHub event from @octokit/webhooks-examples,
// in the package's order. A missing package, or one without an example of event, fails the
// test rather than skipping it, so CI cannot pass without the payloads.
func OctokitExamples(tb testing.TB, event string) []json.RawMessage {
	tb.Helper()
	all, err := octokitExamples()
	if err != nil {
		tb.Fatal(err)
	}
	examples := all[event]
	if len(examples) == 0 {
		tb.Fatalf("%s has no %s example", filepath.Base(octokitIndex), event)
	}
	return slices.Clone(examples)
}

// moduleRoot returns the nearest directory above the working directory, which go test sets
// to the package's, that holds a go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}
