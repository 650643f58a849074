package dashboard

import (
	"bytes"
	"context"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/runops"
	"github.com/stepline/stepline/pkg/store"
)

// pageSize is how many runs a page of a pipeline's runs lists.
const pageSize = 25

var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Local().Format("2006-01-02 15:04:05")
	},
	"iso":  func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"path": url.PathEscape,
	"query": func(kv ...string) template.URL {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] != "" {
				v.Set(kv[i], kv[i+1])
			}
		}
		if len(v) == 0 {
			return "?" // an empty href would keep the page's own query
		}
		return template.URL("?" + v.Encode())
	},
}

// parsePages parses each page with the layout it fills.
func parsePages() map[string]*template.Template {
	base := template.Must(template.New("").Funcs(funcs).ParseFS(assets, "assets/layout.html"))
	out := map[string]*template.Template{}
	for _, name := range []string{"pipelines", "runs", "run", "confirm", "error"} {
		out[name] = template.Must(template.Must(base.Clone()).ParseFS(assets, "assets/"+name+".html"))
	}
	return out
}

// fragment writes one named template of a page alone: what the script swaps in.
func (h *Handler) fragment(w http.ResponseWriter, r *http.Request, name, block string, data any) {
	var b bytes.Buffer
	if err := h.pages[name].ExecuteTemplate(&b, block, data); err != nil {
		h.fail(w, r, err)
		return
	}
	writeHTML(w, http.StatusOK, &b)
}

// pipelinesView is the front page: every pipeline with its last run per branch or environment.
type pipelinesView struct {
	Pipelines []PipelineRow
	Start     Button
}

// historyPage is how many runs all reads at a time.
const historyPage = 1000

// all reads every run of f, newest first.
func (h *Handler) all(ctx context.Context, f runops.Filter) ([]store.Record, error) {
	f.Limit = historyPage
	var out []store.Record
	for {
		p, err := h.runs.Runs(ctx, f)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Runs...)
		if p.Next == "" {
			return out, nil
		}
		f.Token = p.Next
	}
}

// pipelinesPage reads the newest run of every scope, which the store keeps a pointer to: its
// cost is the number of branches and environments, not the history's length.
func (h *Handler) pipelinesPage(w http.ResponseWriter, r *http.Request) {
	recs, err := h.runs.Latest(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	v := pipelinesView{Pipelines: pipelines(recs, h.now()), Start: h.button("start", "")}
	if r.URL.Query().Get("fragment") != "" {
		h.fragment(w, r, "pipelines", "list", v)
		return
	}
	h.render(w, r, http.StatusOK, "pipelines", "Pipelines", v)
}

// runsView is one pipeline's runs, filtered and paged.
type runsView struct {
	Pipeline       string
	Branch, Status string
	Statuses       []string
	Runs           []RunRow
	// Token is the page's token (empty: the newest runs), Next the following page's.
	Token, Next string
	Start       Button
	// Done is the operation just performed (a start), shown once.
	Done string
}

func (h *Handler) runsPage(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	q := r.URL.Query()
	v := runsView{Pipeline: name, Branch: q.Get("branch"), Status: strings.ToUpper(q.Get("status")), Token: q.Get("token"), Done: q.Get("done"),
		Start:    h.button("start", ""),
		Statuses: []string{"IN_PROGRESS", "SUCCEEDED", "FAILED", "CANCELED", "SUPERSEDED"}}
	p, err := h.runs.Runs(r.Context(), runops.Filter{Pipeline: name, Branch: v.Branch, Status: engine.Status(v.Status), Limit: pageSize, Token: v.Token})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	now := h.now()
	for _, rec := range p.Runs {
		v.Runs = append(v.Runs, rowOf(rec, now))
	}
	v.Next = p.Next
	if q.Get("fragment") != "" {
		h.fragment(w, r, "runs", "list", v)
		return
	}
	h.render(w, r, http.StatusOK, "runs", "Runs of "+name, v)
}

// runPage is one run, with one action selected for its details and log.
type runPage struct {
	RunView
	Selected *ActionView
	Live     string
	Buttons  []Button
	// Done is the operation just performed, shown once.
	Done string
}

func (h *Handler) runPageData(r *http.Request, rec store.Record) runPage {
	v := runView(rec, h.now())
	q := r.URL.Query()
	p := runPage{RunView: v, Live: h.liveMode()}
	if op, ok := ops[q.Get("done")]; ok {
		p.Done = op.verb
	}
	if a, ok := v.action(q.Get("stage"), q.Get("action")); ok {
		p.Selected = &a
	} else if a, ok := v.current(); ok {
		p.Selected = &a
	}
	if p.Selected != nil && h.logs == "" {
		p.Selected.Log = false
	}
	p.Buttons = h.runButtons(v)
	return p
}

// current is the action to show first: a running one, else the last that failed, else the
// last that ran.
func (v RunView) current() (ActionView, bool) {
	var running, failed, last *ActionView
	for _, s := range v.Stages {
		for _, g := range s.Groups {
			for i := range g {
				a := &g[i]
				switch {
				case a.Running && running == nil:
					running = a
				case a.Status.Class == "failed":
					failed = a
				}
				if a.Attempts > 0 {
					last = a
				}
			}
		}
	}
	for _, a := range []*ActionView{running, failed, last} {
		if a != nil {
			return *a, true
		}
	}
	return ActionView{}, false
}

func (h *Handler) runPage(w http.ResponseWriter, r *http.Request) {
	rec, err := h.runs.Run(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "run", "Run "+rec.ID(), h.runPageData(r, rec))
}

// runLive answers the fragment of a run page that changes, or 304 while the record is the
// one the page has (polling on AWS sends its version as If-None-Match).
func (h *Handler) runLive(w http.ResponseWriter, r *http.Request) {
	rec, err := h.runs.Run(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	etag := `"` + strconv.FormatInt(rec.Updated.UnixNano(), 36) + `"`
	w.Header().Set("ETag", etag)
	w.Header().Set("X-Run-Final", strconv.FormatBool(rec.State.Done()))
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.fragment(w, r, "run", "live", h.runPageData(r, rec))
}
