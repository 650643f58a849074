package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/store"
)

// repo is a temporary git repository with a pipeline file, driven through the real commands.
type repo struct {
	t   testing.TB
	dir string
}

func newRepo(t testing.TB, files map[string]string) *repo {
	t.Helper()
	r := &repo{t: t, dir: t.TempDir()}
	r.git("init", "-q", "-b", "main")
	r.commit("first commit", files)
	return r
}

func (r *repo) git(args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", append([]string{"-C", r.dir, "-c", "user.name=t", "-c", "user.email=t@example.invalid"}, args...)...)
	out, err := cmd.CombinedOutput()
	require.NoError(r.t, err, "git %v: %s", args, out)
	return strings.TrimSpace(string(out))
}

// write puts files into the working tree without committing them.
func (r *repo) write(files map[string]string) {
	r.t.Helper()
	for name, body := range files {
		path := filepath.Join(r.dir, name)
		require.NoError(r.t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(r.t, os.WriteFile(path, []byte(body), 0o644))
	}
}

func (r *repo) commit(msg string, files map[string]string) {
	r.t.Helper()
	r.write(files)
	r.git("add", "-A")
	r.git("commit", "-q", "-m", msg)
}

func (r *repo) state() string { return filepath.Join(r.dir, ".stepline") }

// result is what one command printed and returned.
type result struct {
	code     int
	out, err string
}

// stepline runs a command in-process, as the binary would, against the repository.
func (r *repo) stepline(stdin string, args ...string) result {
	r.t.Helper()
	var out, errOut bytes.Buffer
	full := append(append([]string(nil), args...), "--state-dir", r.state())
	if len(args) > 0 && (args[0] == "run" || args[0] == "start") {
		full = append(full, "--repo", r.dir)
	}
	code := Main(context.Background(), full, IO{In: strings.NewReader(stdin), Out: &out, Err: &errOut})
	return result{code: code, out: out.String(), err: errOut.String()}
}

// events reads the run's JSON-lines event log.
func (r *repo) events() []engine.Event {
	r.t.Helper()
	f, err := os.Open(filepath.Join(r.state(), "events.jsonl"))
	require.NoError(r.t, err)
	defer f.Close()
	var out []engine.Event
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e engine.Event
		require.NoError(r.t, json.Unmarshal(sc.Bytes(), &e))
		out = append(out, e)
	}
	return out
}

// trace lists "type:STATE:Stage/Action" for the events of one run.
func trace(events []engine.Event, run string) []string {
	var out []string
	for _, e := range events {
		if e.Run != run {
			continue
		}
		s := string(e.Type) + ":" + e.State
		if e.Stage != "" {
			s += ":" + e.Stage
		}
		if e.Action != "" {
			s += "/" + e.Action
		}
		out = append(out, s)
	}
	return out
}

func index(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

// runID is the full id of the run `stepline show` finds as short ("site-2": run 2 of site).
func (r *repo) runID(short string) string {
	r.t.Helper()
	rec, err := findRun(context.Background(), store.NewBolt(filepath.Join(r.state(), "stepline.db")), short)
	require.NoError(r.t, err)
	return rec.ID()
}
