package dashboard

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/runops"
	"github.com/stepline/stepline/pkg/store"
)

// Operator changes runs: the command line's operations (pkg/runops), local or on AWS. Each
// refuses, with the reason, what the run's state does not allow.
type Operator interface {
	Approve(ctx context.Context, run, stage, action, comment string) error
	Reject(ctx context.Context, run, stage, action, comment string) error
	Retry(ctx context.Context, run, stage string, all bool) error
	Stop(ctx context.Context, run string, abandon bool, reason string) error
	Rollback(ctx context.Context, run, stage, to string) error
	Start(ctx context.Context, pipeline, branch, commit string) (string, error)
}

// Button is one operation a page offers: a link to its confirmation, or the reason it is not
// available.
type Button struct {
	Op, Label, Stage, Action string
	// Why is set when the operation is not available.
	Why string
	// Danger marks operations that stop or undo something.
	Danger bool
	// Href is the confirmation page.
	Href string
}

// ops lists the operations by the path segment they post to.
var ops = map[string]struct {
	label, verb string
	danger      bool
}{
	"approve":   {"Approve…", "Approve", false},
	"reject":    {"Reject…", "Reject", true},
	"retry":     {"Retry failed actions…", "Retry the failed actions", false},
	"retry-all": {"Retry all actions…", "Retry every action", false},
	"stop":      {"Stop…", "Stop the run (running actions finish)", true},
	"abandon":   {"Abandon…", "Abandon the run (running actions are stopped)", true},
	"rollback":  {"Roll back…", "Roll back", true},
	"start":     {"Start a run…", "Start", false},
}

// button is the button of op on run (empty for start) at stage and action, when given.
func (h *Handler) button(op, run string, where ...string) Button {
	b := Button{Op: op, Label: ops[op].label, Danger: ops[op].danger, Href: "/start"}
	q := url.Values{}
	if len(where) > 0 {
		b.Stage = where[0]
		q.Set("stage", b.Stage)
	}
	if len(where) > 1 {
		b.Action = where[1]
		q.Set("action", b.Action)
	}
	if run != "" {
		b.Href = "/runs/" + url.PathEscape(run) + "/confirm/" + op
		if len(q) > 0 {
			b.Href += "?" + q.Encode()
		}
	}
	if h.ops == nil {
		b.Why = h.why
	}
	return b
}

// runButtons lists what can be done to the run in its state: the operator has the last word
// (a button may still be refused with the reason).
func (h *Handler) runButtons(v RunView) []Button {
	var out []Button
	for _, s := range v.Stages {
		for _, g := range s.Groups {
			for _, a := range g {
				if a.Approval && a.Running {
					out = append(out, h.button("approve", v.ID, s.Name, a.Name), h.button("reject", v.ID, s.Name, a.Name))
				}
			}
		}
	}
	if !v.Final {
		return append(out, h.button("stop", v.ID), h.button("abandon", v.ID))
	}
	for _, s := range v.Stages {
		if s.Failed || s.Stopped {
			out = append(out, h.button("retry", v.ID, s.Name), h.button("retry-all", v.ID, s.Name))
		}
	}
	if v.Untrusted {
		// runops refuses it (an untrusted run never deploys): no button to press in vain.
		return out
	}
	for _, s := range v.Stages {
		if (s.Succeeded || s.Failed) && s.deploys() {
			out = append(out, h.button("rollback", v.ID, s.Name))
		}
	}
	return out
}

// deploys reports whether the stage has an action a rollback runs again: anything but a
// source, a build or an approval.
func (s StageView) deploys() bool {
	for _, g := range s.Groups {
		for _, a := range g {
			switch a.Provider {
			case engine.ProviderSource, engine.ProviderApproval, engine.ProviderBuild:
			default:
				return true
			}
		}
	}
	return false
}

// confirmView is a confirmation page: what will be done, and the form that does it.
type confirmView struct {
	Run                      *RunView
	Op, Verb, Stage, Action  string
	Pipeline, Branch, Commit string
	Why                      string
	// Targets are the earlier successful runs a rollback may go back to.
	Targets []RunRow
	// Comment asks for a comment (approvals), Reason for a reason (stop).
	Comment, Reason, Danger bool
}

func (h *Handler) confirmPage(w http.ResponseWriter, r *http.Request) {
	op := r.PathValue("op")
	if _, ok := ops[op]; !ok || op == "start" {
		http.NotFound(w, r)
		return
	}
	rec, err := h.runs.Run(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	v := runView(rec, h.now())
	q := r.URL.Query()
	c := confirmView{Run: &v, Op: op, Verb: ops[op].verb, Stage: q.Get("stage"), Action: q.Get("action"), Danger: ops[op].danger,
		Comment: op == "approve" || op == "reject", Reason: op == "stop" || op == "abandon"}
	if h.ops == nil {
		c.Why = h.why
	}
	if op == "rollback" {
		if c.Targets, err = h.rollbackTargets(r.Context(), rec); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	h.render(w, r, http.StatusOK, "confirm", c.Verb+" · run "+rec.ID(), c)
}

// rollbackTargets are the runs of rec's scope older than rec that succeeded, newest first:
// the pipeline's succeeded runs after rec (of its branch when its scope is one), which the
// store lists apart.
func (h *Handler) rollbackTargets(ctx context.Context, rec store.Record) ([]RunRow, error) {
	f := runops.Filter{Pipeline: rec.Pipeline(), Status: engine.Succeeded, Token: rec.ID()}
	if rec.Scope().Environment == "" {
		f.Branch = rec.Branch
	}
	recs, err := h.all(ctx, f)
	if err != nil {
		return nil, err
	}
	scope, now := rec.Scope().Key(), h.now()
	var out []RunRow
	for _, o := range recs {
		if o.ID() != rec.ID() && o.State.Seq < rec.State.Seq && o.Scope().Key() == scope {
			out = append(out, rowOf(o, now))
		}
	}
	return out, nil
}

// operate performs an operation posted from a confirmation page, then shows the run.
func (h *Handler) operate(w http.ResponseWriter, r *http.Request) {
	if err := h.guard.checkPost(r); err != nil {
		h.render(w, r, http.StatusForbidden, "error", "Refused", err.Error())
		return
	}
	op, id := r.PathValue("op"), r.PathValue("id")
	if _, ok := ops[op]; !ok || op == "start" {
		http.NotFound(w, r)
		return
	}
	if h.ops == nil {
		h.render(w, r, http.StatusConflict, "error", "Not available", ops[op].verb+" is not available: "+h.why)
		return
	}
	ctx := r.Context()
	stage, action := r.PostFormValue("stage"), r.PostFormValue("action")
	comment := strings.TrimSpace(r.PostFormValue("comment"))
	var err error
	switch op {
	case "approve":
		err = h.ops.Approve(ctx, id, stage, action, comment)
	case "reject":
		err = h.ops.Reject(ctx, id, stage, action, comment)
	case "retry", "retry-all":
		_, err = inBackground(h, func(ctx context.Context) (string, error) { return "", h.ops.Retry(ctx, id, stage, op == "retry-all") })
	case "stop", "abandon":
		err = h.ops.Stop(ctx, id, op == "abandon", comment)
	case "rollback":
		to := r.PostFormValue("to")
		_, err = inBackground(h, func(ctx context.Context) (string, error) { return "", h.ops.Rollback(ctx, id, stage, to) })
	}
	if err != nil {
		h.refused(w, r, ops[op].verb, err)
		return
	}
	http.Redirect(w, r, "/runs/"+url.PathEscape(id)+"?done="+url.QueryEscape(op), http.StatusSeeOther)
}

// refused shows why an operation was not done: the run's state does not allow it (409, the
// operator's reason), the run does not exist (404), or the backend failed (500).
func (h *Handler) refused(w http.ResponseWriter, r *http.Request, verb string, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, store.ErrNotFound):
		status = http.StatusNotFound
	case isRefusal(err):
		status = http.StatusConflict
	default:
		h.log.ErrorContext(r.Context(), "run operation failed", "op", verb, "path", r.URL.Path, "err", err)
	}
	h.render(w, r, status, "error", verb+": refused", verb+" was not done: "+err.Error())
}

func (h *Handler) startPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	c := confirmView{Op: "start", Verb: "Start a run", Pipeline: q.Get("pipeline"), Branch: q.Get("branch")}
	if h.ops == nil {
		c.Why = h.why
	}
	h.render(w, r, http.StatusOK, "confirm", "Start a run", c)
}

func (h *Handler) start(w http.ResponseWriter, r *http.Request) {
	if err := h.guard.checkPost(r); err != nil {
		h.render(w, r, http.StatusForbidden, "error", "Refused", err.Error())
		return
	}
	if h.ops == nil {
		h.render(w, r, http.StatusConflict, "error", "Not available", "Start is not available: "+h.why)
		return
	}
	pipeline := strings.TrimSpace(r.PostFormValue("pipeline"))
	branch, commit := strings.TrimSpace(r.PostFormValue("branch")), strings.TrimSpace(r.PostFormValue("commit"))
	id, err := inBackground(h, func(ctx context.Context) (string, error) { return h.ops.Start(ctx, pipeline, branch, commit) })
	if err != nil {
		h.refused(w, r, "Start", err)
		return
	}
	if id == "" {
		// Locally Start answers once the run has ended; until then it is the pipeline's newest.
		http.Redirect(w, r, "/pipelines/"+url.PathEscape(pipeline)+"?done=start", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/runs/"+url.PathEscape(id)+"?done=start", http.StatusSeeOther)
}

// settle is how long a page waits for an operation that drives a run here (a local retry,
// rollback or start drives it to its end) before showing the run: long enough for a refusal,
// which comes before anything runs.
const settle = 2 * time.Second

// inBackground runs op with the dashboard's drive context, not the request's, and returns
// its answer when it ends within settle, else the zero value and nil while it goes on.
func inBackground[T any](h *Handler, op func(ctx context.Context) (T, error)) (T, error) {
	type answer struct {
		v   T
		err error
	}
	done := make(chan answer, 1)
	h.driven.Add(1)
	go func() {
		defer h.driven.Done()
		v, err := op(h.drive)
		if err != nil && !isRefusal(err) {
			h.log.ErrorContext(h.drive, "a run driven by the dashboard failed", "err", err)
		}
		done <- answer{v, err}
	}()
	select {
	case a := <-done:
		return a.v, a.err
	case <-time.After(settle):
		var zero T
		return zero, nil
	}
}

// isRefusal reports whether err says the run's state does not allow the operation.
func isRefusal(err error) bool {
	var r *runops.Refused
	return errors.As(err, &r)
}
