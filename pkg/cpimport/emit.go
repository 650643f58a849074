package cpimport

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// writer writes the pipeline file line by line, remembering which part each line belongs to,
// so a problem stepline validate reports on a line finds the part to comment out.
type writer struct {
	lines []string
	spans []span
}

// span is the lines [from, to] (1-based) a part was written on.
type span struct {
	from, to int
	p        *part
}

func (w *writer) line(indent int, format string, args ...any) {
	w.lines = append(w.lines, strings.Repeat(" ", indent)+fmt.Sprintf(format, args...))
}

// open starts the span of p; the returned function ends it.
func (w *writer) open(p *part) func() {
	from := len(w.lines) + 1
	return func() { w.spans = append(w.spans, span{from, len(w.lines), p}) }
}

// commentFrom turns the lines written since index from into comments, keeping their
// indentation; lines already comments stay as they are.
func (w *writer) commentFrom(from int) {
	for i := from; i < len(w.lines); i++ {
		l := w.lines[i]
		body := strings.TrimLeft(l, " ")
		if strings.HasPrefix(body, "#") || body == "" {
			continue
		}
		w.lines[i] = l[:len(l)-len(body)] + "# " + body
	}
}

// dropNote writes why a part is a comment, and where it came from.
func (w *writer) dropNote(indent int, file string, p *part) {
	line, col := p.from.at()
	if p.merged != "" {
		w.line(indent, "# imported as %s (%s:%d:%d): %s", p.merged, file, line, col, oneLine(p.drop))
		return
	}
	w.line(indent, "# not imported (%s:%d:%d): %s", file, line, col, oneLine(p.drop))
}

func (w *writer) bytes() []byte { return []byte(strings.Join(w.lines, "\n") + "\n") }

// emit writes the whole file.
func emit(file string, pipes []*outPipeline) *writer {
	w := &writer{}
	w.line(0, "# Imported from AWS CodePipeline by `stepline import %s`.", file)
	w.line(0, "# Review the comments: each \"not imported\" names what has no stepline equivalent, and where.")
	w.line(0, "version: 1")
	w.line(0, "# The CodePipeline pipelines this file was imported from; `stepline cost` prices them.")
	w.line(0, "x-codepipeline:")
	for _, p := range pipes {
		if p.dropped() {
			continue
		}
		w.line(2, "- pipeline: %s", scalar(p.name))
		w.line(4, "name: %s", scalar(p.cp.name))
		w.line(4, "type: %s", p.cp.typ)
		w.line(4, "actions:")
		for _, o := range p.original {
			w.line(6, "- {name: %s, category: %s, owner: %s, provider: %s, stepline: %s}",
				flowScalar(o.name), flowScalar(o.category), flowScalar(o.owner), flowScalar(o.provider), flowScalar(o.stepline()))
		}
	}
	w.line(0, "pipelines:")
	for _, p := range pipes {
		emitPipeline(w, file, p)
	}
	return w
}

func emitPipeline(w *writer, file string, p *outPipeline) {
	start := len(w.lines)
	if p.dropped() {
		w.dropNote(2, file, &p.part)
	}
	end := w.open(&p.part)
	for _, h := range p.header {
		w.line(2, "# %s", oneLine(h))
	}
	w.line(2, "- name: %s", scalar(p.name))
	w.line(4, "execution_mode: %s", p.mode)
	if live(p.variables) {
		w.line(4, "variables:")
		for _, v := range p.variables {
			from := len(w.lines)
			if v.dropped() {
				w.dropNote(6, file, &v.part)
			}
			e := w.open(&v.part)
			w.line(6, "%s: %s", scalar(v.name), scalar(v.value))
			e()
			if v.dropped() {
				w.commentFrom(from)
			}
		}
	}
	if live(p.triggers) {
		w.line(4, "triggers:")
		for _, t := range p.triggers {
			emitTrigger(w, file, t)
		}
	}
	w.line(4, "stages:")
	for _, s := range p.stages {
		emitStage(w, file, s)
	}
	if live(p.notify) {
		w.line(4, "notifications:")
		for _, n := range p.notify {
			from := len(w.lines)
			if n.dropped() {
				w.dropNote(6, file, &n.part)
			}
			e := w.open(&n.part)
			if len(n.events) > 0 {
				w.line(6, "- events: %s", flowList(n.events))
				w.line(8, "topic: %s", scalar(n.topic))
			} else {
				w.line(6, "- topic: %s", scalar(n.topic))
			}
			e()
			if n.dropped() {
				w.commentFrom(from)
			}
		}
	}
	end()
	if p.dropped() {
		w.commentFrom(start + 1)
	}
}

// live reports whether any part of a list is kept: a key whose items are all comments would
// be null, which stepline refuses where a list is required.
func live[T interface{ dropped() bool }](ps []T) bool {
	for _, p := range ps {
		if !p.dropped() {
			return true
		}
	}
	return false
}

func emitTrigger(w *writer, file string, t *outTrigger) {
	from := len(w.lines)
	if t.dropped() {
		w.dropNote(6, file, &t.part)
	}
	if t.comment != "" {
		w.line(6, "# %s", oneLine(t.comment))
	}
	e := w.open(&t.part)
	w.line(6, "- on: %s", t.on)
	writeFilter := func(key string, f *filter) {
		if f == nil {
			return
		}
		switch {
		case len(f.exclude) == 0:
			w.line(8, "%s: %s", key, flowList(f.include))
		case len(f.include) == 0:
			w.line(8, "%s: {exclude: %s}", key, flowList(f.exclude))
		default:
			w.line(8, "%s: {include: %s, exclude: %s}", key, flowList(f.include), flowList(f.exclude))
		}
	}
	if len(t.events) > 0 {
		w.line(8, "events: %s", flowList(t.events))
	}
	if t.repository != "" {
		w.line(8, "repository: %s", scalar(t.repository))
	}
	if t.bucket != "" {
		w.line(8, "bucket: %s", scalar(t.bucket))
	}
	writeFilter("branches", t.branches)
	writeFilter("tags", t.tags)
	writeFilter("paths", t.paths)
	writeFilter("keys", t.keys)
	e()
	if t.dropped() {
		w.commentFrom(from)
	}
}

func emitStage(w *writer, file string, s *outStage) {
	from := len(w.lines)
	if s.dropped() {
		w.dropNote(6, file, &s.part)
	}
	e := w.open(&s.part)
	w.line(6, "- name: %s", scalar(s.name))
	if len(s.onFailure) == 1 {
		w.line(8, "on_failure: %s", scalar(s.onFailure[0].val.(string)))
	} else if len(s.onFailure) > 1 {
		w.line(8, "on_failure:")
		for _, st := range s.onFailure {
			w.line(10, "%s: %s", st.key, value(st.val))
		}
	}
	w.line(8, "actions:")
	for _, a := range s.actions {
		emitAction(w, file, a)
	}
	e()
	if s.dropped() {
		w.commentFrom(from)
	}
}

func emitAction(w *writer, file string, a *outAction) {
	from := len(w.lines)
	if a.dropped() {
		w.dropNote(10, file, &a.part)
	}
	e := w.open(&a.part)
	w.line(10, "- name: %s", scalar(a.name))
	if a.original != nil {
		for _, st := range a.original {
			writeSetting(w, 12, st)
		}
	} else {
		w.line(12, "provider: %s", a.provider)
		if a.runOrder > 1 {
			w.line(12, "run_order: %d", a.runOrder)
		}
		if len(a.inputs) > 0 {
			w.line(12, "inputs: %s", flowList(a.inputs))
		}
		if len(a.outputs) > 0 {
			w.line(12, "outputs: %s", flowList(a.outputs))
		}
		if a.namespace != "" {
			w.line(12, "namespace: %s", scalar(a.namespace))
		}
		if a.timeout != "" {
			w.line(12, "timeout: %s", a.timeout)
		}
		for _, st := range a.config {
			writeSetting(w, 12, st)
		}
		if len(a.env) > 0 {
			writeSetting(w, 12, setting{"env", a.env})
		}
	}
	e()
	if a.dropped() {
		w.commentFrom(from)
	}
}

func writeSetting(w *writer, indent int, st setting) {
	switch v := st.val.(type) {
	case []kv:
		if len(v) == 0 {
			return
		}
		w.line(indent, "%s:", st.key)
		for _, e := range v {
			w.line(indent+2, "%s: %s", scalar(e.k), scalar(e.v))
		}
	case string:
		// An inline buildspec reads best as a block; any other text with a newline is quoted.
		if strings.Contains(v, "\n") && st.key == "buildspec" && !strings.HasPrefix(v, " ") {
			w.line(indent, "%s: |", st.key)
			for _, l := range strings.Split(strings.TrimRight(v, "\n"), "\n") {
				w.line(indent+2, "%s", l)
			}
			return
		}
		w.line(indent, "%s: %s", st.key, scalar(v))
	default:
		w.line(indent, "%s: %s", st.key, value(st.val))
	}
}

func value(v any) string {
	switch v := v.(type) {
	case string:
		return scalar(v)
	case bool:
		return fmt.Sprint(v)
	case int:
		return fmt.Sprint(v)
	case []string:
		return flowList(v)
	}
	return scalar(fmt.Sprint(v))
}

// plainRE is what may be written unquoted in flow and block context alike.
var plainRE = regexp.MustCompile(`^[A-Za-z_/][A-Za-z0-9_./@*-]*$`)

// notPlain are the words YAML reads as something else than a string (booleans and null, with
// YAML 1.1's too, which some readers still take); plainRE already keeps numbers out, since a
// plain scalar must start with a letter, _ or /.
var notPlain = map[string]bool{"true": true, "false": true, "null": true, "yes": true, "no": true,
	"on": true, "off": true, "y": true, "n": true}

// scalar writes s as a YAML string scalar: plain when it reads back as the same string,
// double-quoted (JSON quoting is valid YAML) otherwise.
func scalar(s string) string {
	if plainRE.MatchString(s) && !notPlain[strings.ToLower(s)] {
		return s
	}
	b, _ := json.Marshal(s)
	return string(b)
}

// flowScalar is scalar for a flow collection, where `,` `[` `]` `{` `}` end a plain scalar;
// plainRE already excludes them.
func flowScalar(s string) string { return scalar(s) }

func flowList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = flowScalar(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// oneLine keeps a comment on one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
