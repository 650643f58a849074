package dashboard

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stepline/stepline/pkg/store"
)

// maxLogChunk bounds one log event, so a build printing a huge line cannot make the page hold
// it all at once; the rest follows in the next events.
const maxLogChunk = 64 << 10

// logPath returns the local log file of stage/action of rec, refusing a path outside the
// state directory: the record names the file, and the dashboard serves only what the local
// runner wrote.
func (h *Handler) logPath(rec store.Record, stage, action string) (string, error) {
	if h.logs == "" {
		return "", errors.New("logs are on AWS: follow the console link")
	}
	p := rec.Logs[stage+"/"+action]
	if p == "" {
		return "", fmt.Errorf("%s/%s has no log yet: %w", stage, action, store.ErrNotFound)
	}
	root, err := filepath.Abs(h.logs)
	if err != nil {
		return "", err
	}
	if rel, err := filepath.Rel(root, filepath.Clean(p)); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", fmt.Errorf("the log of %s/%s is outside the state directory", stage, action)
	}
	return p, nil
}

// runLog answers an action's log as plain text, for a page without the script and for
// downloading.
func (h *Handler) runLog(w http.ResponseWriter, r *http.Request) {
	rec, err := h.runs.Run(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	p, err := h.logPath(rec, r.URL.Query().Get("stage"), r.URL.Query().Get("action"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	f, err := os.Open(p)
	if err != nil {
		http.Error(w, "the log cannot be read: "+err.Error(), http.StatusNotFound)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = io.Copy(w, f)
}

// runEvents streams a run's changes as server-sent events while it goes on (local runs):
// "state" when the record changes (the page then fetches the live fragment), "log" with new
// text of the selected action's log (JSON strings: the page appends them as text), "reset"
// when a new attempt starts a new log, and "end" once the run has ended and the log is read.
func (h *Handler) runEvents(w http.ResponseWriter, r *http.Request) {
	if h.live <= 0 {
		http.Error(w, "live events are served for local runs only; poll /live", http.StatusNotFound)
		return
	}
	ctx := r.Context()
	id, q := r.PathValue("id"), r.URL.Query()
	stage, action := q.Get("stage"), q.Get("action")
	var updated int64
	if v, err := strconv.ParseInt(q.Get("since"), 10, 64); err == nil {
		updated = v
	}
	offset, _ := strconv.ParseInt(q.Get("offset"), 10, 64)
	rc := http.NewResponseController(w)
	// A stream lasts as long as the run: a server's write timeout (serve's) must not cut it.
	_ = rc.SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	send := func(event, data string) bool {
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, data); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	logFile := ""
	tick := time.NewTicker(h.live)
	defer tick.Stop()
	for {
		rec, err := h.runs.Run(ctx, id)
		if err != nil {
			send("error", strconv.Quote(err.Error()))
			return
		}
		if v := rec.Updated.UnixNano(); v != updated {
			updated = v
			if !send("state", strconv.FormatInt(v, 10)) {
				return
			}
		}
		if stage != "" {
			if p, err := h.logPath(rec, stage, action); err == nil {
				if logFile != "" && p != logFile {
					offset = 0
					if !send("reset", `""`) {
						return
					}
				}
				logFile = p
				var ok bool
				if offset, ok = h.sendLog(p, offset, send); !ok {
					return
				}
			}
		}
		if rec.State.Done() {
			send("end", `""`)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-h.drive.Done(): // the dashboard is stopping: a stream would hold its shutdown
			return
		case <-tick.C:
		}
	}
}

// sendLog sends what the log at p holds past offset, in chunks, and returns the new offset;
// false when the client has gone.
func (h *Handler) sendLog(p string, offset int64, send func(event, data string) bool) (int64, bool) {
	f, err := os.Open(p)
	if err != nil {
		return offset, true
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return offset, true
	}
	buf := make([]byte, maxLogChunk)
	for {
		n, err := f.Read(buf)
		n = whole(buf[:n])
		if n > 0 {
			data, _ := json.Marshal(string(buf[:n]))
			if !send("log", string(data)) {
				return offset, false
			}
			offset += int64(n)
		}
		if err != nil || n == 0 {
			return offset, true
		}
	}
}

// whole returns how much of b ends on a whole UTF-8 character: a character cut by a chunk's
// end or by a writer still writing it waits for the next read rather than turning into U+FFFD.
func whole(b []byte) int {
	for cut := 1; cut <= utf8.UTFMax && cut <= len(b); cut++ {
		if r := b[len(b)-cut]; utf8.RuneStart(r) {
			if utf8.FullRune(b[len(b)-cut:]) {
				return len(b)
			}
			return len(b) - cut
		}
	}
	return len(b)
}
