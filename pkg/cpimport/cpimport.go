// Package cpimport translates an AWS CodePipeline definition into a stepline pipeline file.
//
// It reads what `aws codepipeline get-pipeline` prints (V1 or V2 pipelines, with pipeline and
// metadata), a bare pipeline declaration, or a CloudFormation template (JSON or YAML) holding
// AWS::CodePipeline::Pipeline resources, and writes the .stepline.yml doing the same: stages,
// actions, run orders, artifacts, namespaces and variables, V2 triggers and execution modes,
// each supported action type onto its stepline provider, source actions onto triggers and the
// implicit Source stage. What has no stepline equivalent (a third-party or custom action, an
// unsupported setting) is written as a YAML comment where it stood and listed as a Finding
// with its line, column and JSON path in the input. The file written always passes
// pipeline.Parse: an action it would refuse is commented out and reported the same way.
//
// The mapping is documented in docs/import.md.
package cpimport

import (
	"errors"
	"fmt"
	"strings"

	"github.com/stepline/stepline/pkg/diag"
)

// Finding rules.
const (
	// RuleNotImported: an action, setting, trigger or stage that has no stepline equivalent;
	// an action or stage is written as a comment.
	RuleNotImported = "not-imported"
	// RuleChanged: imported, but it behaves differently in stepline, or needs a value the
	// input does not hold.
	RuleChanged = "changed"
)

// Finding is one thing of the input that was not imported, or imported with a difference.
type Finding struct {
	diag.Problem
	// Path is the JSON path of the input value, "$.pipeline.stages[2].actions[0]".
	Path string
}

// String formats the finding as file:line:col: path: message [rule].
func (f Finding) String() string {
	return fmt.Sprintf("%s:%d:%d: %s: %s [%s]", f.File, f.Line, f.Col, f.Path, f.Msg, f.Rule)
}

// Result is an imported file.
type Result struct {
	// YAML is the pipeline file.
	YAML []byte
	// Findings lists, in input order, what was not imported or changed meaning.
	Findings []Finding
	// Origins are the CodePipeline pipelines the file was imported from, one per pipeline of
	// the file; the file holds them under x-codepipeline (see ReadOrigins).
	Origins []Origin
}

// ErrNotCodePipeline means the input is JSON or YAML but holds no CodePipeline definition.
var ErrNotCodePipeline = errors.New("no CodePipeline definition")

// ErrNothingImported means no stage of any pipeline could be imported.
var ErrNothingImported = errors.New("nothing could be imported")

// Import translates the CodePipeline definition in data; file names the input in findings.
// The error is ErrNotCodePipeline for an input of another kind, ErrNothingImported (with the
// findings saying why in the Result) when no stage maps, or a read error.
func Import(file string, data []byte) (*Result, error) {
	root, err := parse(data)
	if err != nil {
		return nil, err
	}
	im := &importer{file: file, cfn: &cfn{}}
	decls, err := im.declarations(root)
	if err != nil {
		return nil, err
	}
	var pipes []*outPipeline
	for _, d := range decls {
		pipes = append(pipes, im.pipeline(d))
	}
	out, err := settle(file, pipes, im)
	res := &Result{Findings: im.sorted()}
	if err != nil {
		return res, err
	}
	res.YAML = out
	for _, p := range pipes {
		if p.drop == "" {
			res.Origins = append(res.Origins, p.origin())
		}
	}
	return res, nil
}

// declaration is one pipeline declaration of the input and what names it.
type declaration struct {
	decl node
	// name is the pipeline's name, or the resource's logical id when the template gives none.
	name string
	// source describes where the declaration was found, for the file's header.
	source string
	// arn is the pipeline's ARN when the input says it (get-pipeline's metadata).
	arn string
}

// declarations finds the pipeline declarations of an input: get-pipeline output (or a
// create-pipeline input) under "pipeline", a template's AWS::CodePipeline::Pipeline
// resources, or a bare declaration.
func (im *importer) declarations(root node) ([]declaration, error) {
	if p := root.field("pipeline"); p.ok() && p.field("stages").ok() {
		return []declaration{{decl: p, name: im.text(p.field("name")), source: "get-pipeline output",
			arn: im.text(root.field("metadata").field("pipelineArn"))}}, nil
	}
	if res := root.field("Resources"); res.ok() {
		im.cfn.params = parameters(root)
		im.cfn.names = im.cfn.resourceNames(root)
		var out []declaration
		for _, r := range res.fields() {
			t, _, _ := im.cfn.str(r.val.field("Type"))
			if t != "AWS::CodePipeline::Pipeline" {
				continue
			}
			props := r.val.field("Properties")
			name := im.text(props.field("Name"))
			if name == "" {
				name = r.key
			}
			out = append(out, declaration{decl: props, name: name, source: "CloudFormation resource " + r.key})
		}
		if len(out) > 0 {
			return out, nil
		}
		return nil, fmt.Errorf("%w: the template has no AWS::CodePipeline::Pipeline resource", ErrNotCodePipeline)
	}
	if root.field("stages").ok() {
		return []declaration{{decl: root, name: im.text(root.field("name")), source: "pipeline declaration"}}, nil
	}
	return nil, fmt.Errorf("%w: expected `aws codepipeline get-pipeline` output (a \"pipeline\" key), a CloudFormation template with an AWS::CodePipeline::Pipeline resource, or a pipeline declaration (\"stages\")", ErrNotCodePipeline)
}

// importer holds what every pipeline of one input shares.
type importer struct {
	file     string
	cfn      *cfn
	findings []Finding
}

// report adds a finding at v.
func (im *importer) report(v node, rule, format string, args ...any) {
	line, col := v.at()
	im.findings = append(im.findings, Finding{Problem: diag.Problem{File: im.file, Line: line, Col: col,
		Msg: fmt.Sprintf(format, args...), Rule: rule}, Path: v.path})
}

func (im *importer) sorted() []Finding {
	ps := make(diag.Problems, len(im.findings))
	byProblem := map[diag.Problem]string{}
	for i, f := range im.findings {
		ps[i] = f.Problem
		if _, ok := byProblem[f.Problem]; !ok {
			byProblem[f.Problem] = f.Path
		}
	}
	ps = ps.Sorted()
	out := make([]Finding, len(ps))
	for i, p := range ps {
		out[i] = Finding{Problem: p, Path: byProblem[p]}
	}
	return out
}

// text reads a value as text, resolving CloudFormation functions; an unresolved reference is
// reported where it is written.
func (im *importer) text(v node) string {
	s, unresolved, ok := im.cfn.str(v)
	if !ok {
		return ""
	}
	if len(unresolved) > 0 {
		im.report(v, RuleChanged, "CloudFormation value %s cannot be known from the template (%s): written as %q; replace it with the real value",
			describe(v), strings.Join(unresolved, ", "), s)
	}
	return s
}

// describe names a value's key for messages: the last element of its path.
func describe(v node) string {
	p := v.path
	if i := strings.LastIndexAny(p, ".["); i >= 0 && p[i] == '.' {
		return p[i+1:]
	}
	return p
}
