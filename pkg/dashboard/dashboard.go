// Package dashboard is stepline's web UI: the pipelines, a pipeline's runs and one run's stage
// → action graph with its logs, variables, artifacts and timeline, kept live while the run
// goes on, and the run operations (approve, reject, retry, stop, roll back, start) behind a
// confirmation. It is one http.Handler over the run history (the local store, or DynamoDB on
// AWS) and an Operator; `stepline dashboard` and `stepline serve` mount it.
//
// Pages are rendered on the server with html/template, so every name, commit message and log
// line is escaped text; a small script only swaps fresh fragments in and appends log text
// with textContent. There is no build step: templates, script and style are embedded.
package dashboard

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/stepline/stepline/pkg/runops"
	"github.com/stepline/stepline/pkg/store"
)

//go:embed assets
var assets embed.FS

// Reader is the run history the views read: runops' Operator, over the local store or a
// deployed stepline's table.
type Reader interface {
	Runs(ctx context.Context, f runops.Filter) (runops.Page, error)
	Latest(ctx context.Context) ([]store.Record, error)
	Run(ctx context.Context, id string) (store.Record, error)
}

// Handler serves the dashboard.
type Handler struct {
	runs  Reader
	ops   Operator
	why   string
	logs  string
	live  time.Duration
	now   func() time.Time
	log   *slog.Logger
	guard *guard
	pages map[string]*template.Template
	mux   *http.ServeMux
	// mode names where the runs are, for the page header.
	mode string
	// drive is the context of the runs an operation drives in this process (a local retry,
	// rollback or start): they outlive the request that asked, not the dashboard.
	drive  context.Context
	driven sync.WaitGroup
}

// Option configures a Handler.
type Option func(*Handler)

// WithOperator lets the pages change runs through op; without it the dashboard is read-only
// and every button says why it is not available (why, or a default).
func WithOperator(op Operator) Option { return func(h *Handler) { h.ops = op } }

// WithoutOperations says why there are no operations, for the buttons to show.
func WithoutOperations(why string) Option { return func(h *Handler) { h.why = why } }

// WithLocalLogs serves the action logs the local runner wrote below stateDir, streamed while
// they grow, and pushes run changes to open pages with server-sent events, reading the store
// every poll. Without it (on AWS) logs are console links and pages poll with back-off.
func WithLocalLogs(stateDir string, poll time.Duration) Option {
	return func(h *Handler) { h.logs, h.live = stateDir, poll }
}

// WithClock replaces time.Now (tests).
func WithClock(now func() time.Time) Option { return func(h *Handler) { h.now = now } }

// WithLogger sets the logger of failed requests.
func WithLogger(l *slog.Logger) Option { return func(h *Handler) { h.log = l } }

// WithHosts accepts these host names besides loopback addresses and localhost, for a
// dashboard reached through a name of the user's own.
func WithHosts(hosts ...string) Option {
	return func(h *Handler) {
		for _, n := range hosts {
			h.guard.hosts = append(h.guard.hosts, strings.ToLower(n))
		}
	}
}

// WithDriveContext is the context of the runs local operations drive in this process:
// canceling it cancels them (the dashboard stopping). Wait waits for them.
func WithDriveContext(ctx context.Context) Option { return func(h *Handler) { h.drive = ctx } }

// WithMode names where the runs are kept ("local: /repo/.stepline", "AWS: stack x"), shown
// in every page's header.
func WithMode(mode string) Option { return func(h *Handler) { h.mode = mode } }

// New returns the dashboard over runs.
func New(runs Reader, opts ...Option) *Handler {
	h := &Handler{runs: runs, now: time.Now, drive: context.Background(), log: slog.New(slog.DiscardHandler), guard: newGuard(nil),
		why: "this dashboard is read-only"}
	for _, o := range opts {
		o(h)
	}
	h.pages = parsePages()
	h.routes()
	return h
}

// Wait waits for the runs the dashboard's operations drove in this process to return.
func (h *Handler) Wait() { h.driven.Wait() }

func (h *Handler) routes() {
	m := http.NewServeMux()
	static, _ := fs.Sub(assets, "assets/static")
	m.Handle("GET /assets/", http.StripPrefix("/assets/", http.FileServerFS(static)))
	m.HandleFunc("GET /{$}", h.pipelinesPage)
	m.HandleFunc("GET /pipelines/{name}", h.runsPage)
	m.HandleFunc("GET /runs/{id}", h.runPage)
	m.HandleFunc("GET /runs/{id}/live", h.runLive)
	m.HandleFunc("GET /runs/{id}/events", h.runEvents)
	m.HandleFunc("GET /runs/{id}/log", h.runLog)
	m.HandleFunc("GET /runs/{id}/confirm/{op}", h.confirmPage)
	m.HandleFunc("POST /runs/{id}/{op}", h.operate)
	m.HandleFunc("GET /start", h.startPage)
	m.HandleFunc("POST /start", h.start)
	h.mux = m
}

// ServeHTTP answers a request from this machine to a loopback host name, with the headers
// that keep its pages from being framed or sniffed.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	for _, check := range []func(*http.Request) error{h.guard.checkPeer, h.guard.checkHost} {
		if err := check(r); err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
	}
	h.mux.ServeHTTP(w, r)
}

// page is what every page template receives.
type page struct {
	Title, Mode, CSRF string
	// Live is "sse" or "poll": how the page's script keeps it fresh.
	Live string
	Data any
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name, title string, data any) {
	p := page{Title: title, Mode: h.mode, CSRF: h.guard.token(h.guard.session(w, r)), Live: h.liveMode(), Data: data}
	var b bytes.Buffer
	if err := h.pages[name].ExecuteTemplate(&b, "layout", p); err != nil {
		h.log.ErrorContext(r.Context(), "render page", "page", name, "err", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	writeHTML(w, status, &b)
}

// writeHTML answers a page or a fragment rendered whole (a template that fails leaves no half
// page behind), never cached: it shows a run's state of the moment.
func writeHTML(w http.ResponseWriter, status int, b *bytes.Buffer) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = b.WriteTo(w)
}

func (h *Handler) liveMode() string {
	if h.live > 0 {
		return "sse"
	}
	return "poll"
}

// fail shows an error page: 404 for a run that does not exist, 500 otherwise.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusInternalServerError
	if errors.Is(err, store.ErrNotFound) {
		status = http.StatusNotFound
	} else {
		h.log.ErrorContext(r.Context(), "dashboard request failed", "path", r.URL.Path, "err", err)
	}
	h.render(w, r, status, "error", http.StatusText(status), err.Error())
}
