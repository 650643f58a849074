package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/stepline/stepline/pkg/diag"
	"io"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Parse reads a pipeline file and checks all of it. When anything is wrong the error is
// Problems, every problem at once, sorted by position; the returned File is then a best-effort
// model for tools, not something to run. A YAML syntax error stops at that one problem since
// nothing after it can be trusted.
func Parse(file string, data []byte) (*File, error) {
	f := &File{Name: file}
	root, syntax := parseYAML(file, data)
	if syntax != nil {
		return f, syntax
	}
	d := &decoder{file: file, src: newSource(data, root)}
	d.decodeFile(f, root)
	if !d.tooBig {
		d.validate()
	}
	if d.tooBig {
		return f, Problems{{File: file, Line: d.bigAt.Line, Col: d.bigAt.Col, Rule: RuleSyntax,
			Msg: fmt.Sprintf("YAML aliases expand the file beyond %d values", maxVisits)}}
	}
	if len(d.probs) > 0 {
		return f, d.probs.Sorted()
	}
	return f, nil
}

var (
	yamlLineRE   = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	yamlAnchorRE = regexp.MustCompile(`^yaml: unknown anchor '(.*)' referenced$`)
)

// parseYAML decodes the file's single YAML document into a node tree. yaml.v3 has panicked on
// malformed input in past releases; a pushed file must never take the trigger down, so a panic
// becomes a syntax problem.
func parseYAML(file string, data []byte) (root *yaml.Node, probs Problems) {
	defer func() {
		if r := recover(); r != nil {
			root, probs = nil, Problems{{File: file, Line: 1, Col: 1, Msg: fmt.Sprintf("cannot read YAML: %v", r), Rule: RuleSyntax}}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, Problems{syntaxProblem(file, data, err)}
	}
	var next yaml.Node
	err := dec.Decode(&next)
	switch {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, Problems{syntaxProblem(file, data, err)}
	case len(next.Content) > 0 && !isNull(next.Content[0]):
		return nil, Problems{{File: file, Line: next.Line, Col: next.Column, Rule: RuleSyntax,
			Msg: "a pipeline file holds one YAML document: put every pipeline in the first document's pipelines list"}}
	}
	return &doc, nil
}

// syntaxProblem turns a yaml.v3 error into a positioned problem. yaml.v3 gives a line (and
// omits it on the first line) but no column, so the column is the line's first character.
func syntaxProblem(file string, data []byte, err error) Problem {
	msg := err.Error()
	line, col := 1, 1
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	} else if m := yamlAnchorRE.FindStringSubmatch(msg); m != nil {
		line, col = findText(data, "*"+m[1])
		msg = strings.TrimPrefix(msg, "yaml: ")
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	if n := len(splitLines(string(data))); line > n {
		line = n
	}
	return Problem{File: file, Line: max(line, 1), Col: col, Msg: msg, Rule: RuleSyntax}
}

// findText returns the position of the first occurrence of text in data, or 1:1.
func findText(data []byte, text string) (line, col int) {
	for i, l := range splitLines(strings.TrimPrefix(string(data), "\uFEFF")) {
		if j := strings.Index(l, text); j >= 0 {
			return i + 1, len([]rune(l[:j])) + 1
		}
	}
	return 1, 1
}

// unknownKey reports a key that is not valid where it is written, suggesting the closest
// valid one.
func (d *decoder) unknownKey(k *yaml.Node, place string, valid []string) {
	d.report(pos(k), RuleUnknownKey, "unknown key %q in %s%s", clip(k.Value), place, diag.DidYouMean(k.Value, valid))
}

// unknownKeyOf reports a key of a place whose valid keys depend on a kind (an action's
// provider, a trigger's on). A key of another kind, or a misspelling of one, says which kind
// it belongs to, since that is usually the real mistake. kind reads "provider ecs" or
// "on: push".
func (d *decoder) unknownKeyOf(k *yaml.Node, kind string, valid, all []string, owners func(string) []string) {
	key := k.Value
	if o := owners(key); len(o) > 0 {
		d.report(pos(k), RuleUnknownKey, "key %q is not valid for %s (it belongs to %s)%s", key, kind, strings.Join(o, ", "), diag.DidYouMean(key, valid))
		return
	}
	if _, ok := diag.Suggest(key, valid); !ok {
		if s, ok := diag.Suggest(key, all); ok {
			d.report(pos(k), RuleUnknownKey, "unknown key %q for %s; did you mean %q? (it belongs to %s)", clip(key), kind, s, strings.Join(owners(s), ", "))
			return
		}
	}
	d.report(pos(k), RuleUnknownKey, "unknown key %q for %s%s", clip(key), kind, diag.DidYouMean(key, valid))
}

var fileKeys = []string{"version", "pipelines"}

func (d *decoder) decodeFile(f *File, root *yaml.Node) {
	var doc *yaml.Node
	if root != nil && len(root.Content) > 0 {
		doc = d.resolve(root.Content[0])
	}
	if isNull(doc) {
		if !d.tooBig {
			d.report(Pos{Line: 1, Col: 1}, RuleRequired, "the file is empty: expected version: 1 and a list of pipelines")
		}
		return
	}
	ps, ok := d.mapping(doc, "pipeline file")
	if !ok {
		return
	}
	for _, p := range ps {
		switch p.key.Value {
		case "version":
			f.Version = d.version(p.val)
		case "pipelines":
			n := d.resolve(p.val)
			items, _ := d.sequence(n, "pipelines")
			for _, item := range items {
				if pl := d.decodePipeline(item); pl != nil {
					f.Pipelines = append(f.Pipelines, pl)
				}
			}
			if n != nil && n.Kind == yaml.SequenceNode && len(items) == 0 {
				d.report(pos(n), RuleRequired, "pipelines: the list is empty: declare at least one pipeline")
			}
		default:
			// x- keys hold YAML anchors to share between pipelines, as in Compose files.
			if !strings.HasPrefix(p.key.Value, "x-") {
				d.unknownKey(p.key, "the pipeline file", fileKeys)
			}
		}
	}
	d.require(doc, ps, "the pipeline file", fileKeys...)
}

// version reads the format version: any integer other than 1, however large, is a version
// this stepline does not know rather than a range problem.
func (d *decoder) version(n *yaml.Node) Int {
	n = d.resolve(n)
	if n != nil && n.Kind == yaml.ScalarNode && n.Tag == "!!int" {
		var v int
		if err := n.Decode(&v); err != nil || v != 1 {
			d.report(pos(n), RuleValue, "version: unsupported version %s: this stepline reads version 1", clip(n.Value))
			return Int{Pos: pos(n)}
		}
		return Int{Value: v, Pos: pos(n)}
	}
	return d.integer(n, "version", 1, 1)
}

var pipelineKeys = []string{"name", "execution_mode", "variables", "triggers", "environments", "stages", "notifications"}

func (d *decoder) decodePipeline(n *yaml.Node) *Pipeline {
	n = d.resolve(n)
	if n == nil {
		return nil
	}
	if isNull(n) {
		d.report(d.src.itemPos(pos(n)), RuleType, "pipeline: expected a mapping, found null (an empty list item)")
		return nil
	}
	ps, ok := d.mapping(n, "pipeline")
	if !ok {
		return nil
	}
	pl := &Pipeline{Pos: pos(n), ExecutionMode: String{Value: ModeSuperseded}}
	d.pipelines = append(d.pipelines, &pipelineIndex{p: pl})
	for _, p := range ps {
		switch p.key.Value {
		case "name":
			pl.Name = d.name(p.val, "pipeline")
		case "execution_mode":
			if m := d.enum(p.val, "execution_mode", ModeQueued, ModeSuperseded, ModeParallel); m.Value != "" {
				pl.ExecutionMode = m
			}
		case "variables":
			pl.Variables = d.strMap(p.val, "variables", varNameRE, "use letters, digits, @, _ and -")
			for _, v := range pl.Variables {
				d.site(v.Value, scopeVariables, nil)
			}
		case "triggers":
			items, _ := d.sequence(d.resolve(p.val), "triggers")
			for _, item := range items {
				if t := d.decodeTrigger(item); t != nil {
					pl.Triggers = append(pl.Triggers, t)
				}
			}
		case "environments":
			items, _ := d.sequence(d.resolve(p.val), "environments")
			for _, item := range items {
				if e := d.decodeEnvironment(item); e != nil {
					pl.Environments = append(pl.Environments, e)
				}
			}
		case "stages":
			sn := d.resolve(p.val)
			items, _ := d.sequence(sn, "stages")
			for _, item := range items {
				if st := d.decodeStage(item, len(pl.Stages)); st != nil {
					pl.Stages = append(pl.Stages, st)
				}
			}
			if sn != nil && sn.Kind == yaml.SequenceNode && len(items) == 0 {
				d.report(pos(sn), RuleRequired, "stages: the list is empty: declare at least one stage")
			}
			if len(items) > MaxStages {
				d.report(pos(items[MaxStages]), RuleSize, "stages: %d stages; a pipeline has at most %d, CodePipeline's quota (a run's record must fit in one DynamoDB item on AWS): merge stages", len(items), MaxStages)
			}
		case "notifications":
			pl.Notifications = d.decodeNotifications(p.val)
		default:
			d.unknownKey(p.key, "pipeline", pipelineKeys)
		}
	}
	d.require(n, ps, "pipeline", "name", "stages")
	return pl
}

var environmentKeys = []string{"branches", "name", "variables", "url"}

func (d *decoder) decodeEnvironment(n *yaml.Node) *Environment {
	n = d.resolve(n)
	if n == nil {
		return nil
	}
	if isNull(n) {
		d.report(d.src.itemPos(pos(n)), RuleType, "environment: expected a mapping, found null (an empty list item)")
		return nil
	}
	ps, ok := d.mapping(n, "environment")
	if !ok {
		return nil
	}
	e := &Environment{Pos: pos(n)}
	for _, p := range ps {
		switch p.key.Value {
		case "branches":
			if n := d.resolve(p.val); n != nil && n.Kind == yaml.SequenceNode && len(n.Content) == 0 {
				d.report(pos(n), RuleRequired, "branches: the list is empty: an environment serves at least one branch pattern")
			}
			e.Branches = d.globs(p.val, "branches")
		case "name":
			e.Name = d.str(p.val, "name")
			d.site(e.Name, scopeEnvironment, nil)
		case "variables":
			e.Variables = d.strMap(p.val, "variables", varNameRE, "use letters, digits, @, _ and -")
			for _, v := range e.Variables {
				if v.Name.Value == "name" {
					d.report(v.Name.Pos, RuleValue, "variables: \"name\" is reserved: #{env.name} is the environment's name")
				}
				d.site(v.Value, scopeEnvironment, nil)
			}
		case "url":
			e.URL = d.str(p.val, "url")
			if n := d.resolve(p.val); n != nil && n.Kind == yaml.ScalarNode {
				d.checkURL(e.URL)
			}
			d.site(e.URL, scopeRunEnd, nil)
		default:
			d.unknownKey(p.key, "environment", environmentKeys)
		}
	}
	d.require(n, ps, "environment", "branches", "name")
	return e
}

// checkURL checks an environment's url as far as it is known before the run: an absolute
// http or https address, unless a variable supplies its start (a stack's URL output, say),
// which notify checks again once resolved.
func (d *decoder) checkURL(u String) {
	v := u.Value
	if strings.HasPrefix(v, "#{") || strings.HasPrefix(v, "https://") || strings.HasPrefix(v, "http://") {
		return
	}
	d.report(u.Pos, RuleValue, "url %q is not an http or https address: write https://host/path (variables allowed)", clip(v))
}
