package scmtest

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stepline/stepline/pkg/scm"
)

// Reply is a provider API stand-in for fuzz targets: every request is answered with the status
// and body last given to Set, so one server serves a whole fuzz run.
type Reply struct {
	*Server
	mu     sync.Mutex
	status int
	body   []byte
}

// NewReply starts a Reply answering 200 with an empty body until Set says otherwise.
func NewReply(tb testing.TB) *Reply {
	tb.Helper()
	r := &Reply{status: http.StatusOK}
	r.Server = NewServer(tb, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		r.mu.Lock()
		status, body := r.status, r.body
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	return r
}

// Set makes every later request get status and body.
func (r *Reply) Set(status int, body []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status, r.body = status, body
}

// FuzzStatuses are the statuses fuzz targets answer with: success, the refusals clients tell
// apart, and an outage.
var FuzzStatuses = []int{http.StatusOK, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound,
	http.StatusTooManyRequests, http.StatusInternalServerError}

// AddAPIFixtures seeds f with every file of dir (a package's testdata/api) under each status.
func AddAPIFixtures(f *testing.F, dir string) {
	f.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no API fixtures in %s: %v", dir, err)
	}
	for _, file := range files {
		body, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for i := range FuzzStatuses {
			f.Add(uint8(i), body)
		}
	}
	f.Add(uint8(0), []byte(`{}`))
	f.Add(uint8(0), []byte(`null`))
}

// FuzzChangedFiles answers lister's every request with status (an index into FuzzStatuses) and
// body, then checks what a provider API client must never do whatever the API says: panic,
// hang, list an empty path, or show the token in its error.
func FuzzChangedFiles(t *testing.T, reply *Reply, lister scm.FileLister, token string, status uint8, body []byte) {
	t.Helper()
	reply.Set(FuzzStatuses[int(status)%len(FuzzStatuses)], body)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	files, _, err := lister.ChangedFiles(ctx, "owner/repo", strings.Repeat("a", 40), strings.Repeat("b", 40))
	if err != nil {
		if strings.Contains(err.Error(), token) {
			t.Fatalf("the error shows the token: %v", err)
		}
		return
	}
	for _, f := range files {
		if f == "" {
			t.Fatalf("an empty path among %q", files)
		}
	}
}
