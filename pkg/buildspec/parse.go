package buildspec

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/stepline/stepline/pkg/diag"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Rules name each kind of problem or warning. They are part of the output format
// (`… [rule]`), so they stay stable even when messages are reworded.
const (
	ruleSyntax    = "syntax"
	ruleVersion   = "version"
	ruleUnknown   = "unknown-key"
	ruleType      = "type"
	ruleValue     = "value"
	ruleRequired  = "required"
	ruleDuplicate = "duplicate-key"
	ruleNotLocal  = "not-local"
	ruleOnFailure = "on-failure"
	ruleReserved  = "reserved"
)

// Parse reads a buildspec. name is only used to prefix positions ("buildspec.yml:3:5: …").
//
// The YAML is walked as a yaml.Node tree rather than decoded into structs so that every problem
// keeps its line and column, unknown keys can be reported with a suggestion, and all problems
// are collected instead of stopping at the first. The error, when non-nil, is an Errors value.
// Warnings are returned even when there are errors.
func Parse(name string, data []byte) (*Spec, []Warning, error) {
	p := &parser{file: name, exportPos: map[string]*yaml.Node{}}
	spec := p.parse(data)
	// Problems are found in walk order, which visits merged and nested keys late; reading them
	// in file order is what a user fixing the file wants.
	sort.SliceStable(p.errs, func(i, j int) bool { return before(p.errs[i].Line, p.errs[i].Col, p.errs[j].Line, p.errs[j].Col) })
	sort.SliceStable(p.warns, func(i, j int) bool { return before(p.warns[i].Line, p.warns[i].Col, p.warns[j].Line, p.warns[j].Col) })
	if len(p.errs) > 0 {
		return nil, p.warns, p.errs
	}
	spec.warnings = p.warns
	return spec, p.warns, nil
}

type parser struct {
	file  string
	errs  Errors
	warns []Warning
	// exportPos remembers where each exported variable was listed, for later warnings.
	exportPos map[string]*yaml.Node
}

func before(l1, c1, l2, c2 int) bool {
	return l1 < l2 || (l1 == l2 && c1 < c2)
}

func (p *parser) errorf(n *yaml.Node, rule, format string, args ...any) {
	line, col := pos(n)
	p.errs = append(p.errs, Problem{File: p.file, Line: line, Col: col, Msg: fmt.Sprintf(format, args...), Rule: rule})
}

func (p *parser) warnf(n *yaml.Node, rule, format string, args ...any) {
	line, col := pos(n)
	p.warns = append(p.warns, Warning{File: p.file, Line: line, Col: col, Msg: fmt.Sprintf(format, args...), Rule: rule})
}

func pos(n *yaml.Node) (int, int) {
	if n == nil || n.Line == 0 {
		return 1, 1
	}
	return n.Line, n.Column
}

// yamlLine extracts the line yaml.v3 puts in its syntax errors; the library gives no column.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func (p *parser) parse(data []byte) *Spec {
	spec := &Spec{Name: p.file, Env: Env{Shell: "bash"}}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.errorf(nil, ruleRequired, "buildspec is empty: version and phases are required")
			return spec
		}
		p.syntaxError(err)
		return spec
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		p.errorf(&extra, ruleSyntax, "a buildspec is a single YAML document; found a second one")
	} else if !errors.Is(err, io.EOF) {
		p.syntaxError(err)
	}
	if len(doc.Content) == 0 {
		p.errorf(&doc, ruleRequired, "buildspec is empty: version and phases are required")
		return spec
	}
	root := resolve(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		p.errorf(root, ruleType, "a buildspec must be a mapping, got %s", describe(root))
		return spec
	}
	fields := p.fields(root, "", topKeys)
	if _, ok := fields.get("version"); !ok {
		p.errorf(root, ruleRequired, "version is required (use version: 0.2)")
	}
	if _, ok := fields.get("phases"); !ok {
		p.errorf(root, ruleRequired, "phases is required")
	}
	for _, f := range fields {
		switch f.name {
		case "version":
			spec.Version = p.version(f.val)
		case "run-as":
			spec.RunAs = p.str(f.val, "run-as")
			p.warnf(f.key, ruleNotLocal, "run-as is ignored locally: commands run as the current user")
		case "env":
			p.env(f.val, &spec.Env)
		case "phases":
			spec.Phases = p.phases(f.val)
		case "artifacts":
			spec.Artifacts = p.artifacts(f.val)
		case "reports":
			spec.Reports = p.reports(f.val)
		case "proxy", "cache", "batch":
			p.warnf(f.key, ruleNotLocal, "%s is ignored locally", f.name)
		}
	}
	p.checkExports(spec)
	return spec
}

func (p *parser) syntaxError(err error) {
	msg := err.Error()
	line := 1
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	// The buildspec reference warns that ": " inside a command breaks YAML; these are the
	// messages that mistake produces.
	if strings.Contains(msg, "did not find expected key") || strings.Contains(msg, "mapping values are not allowed") {
		msg += ` (a command that contains ": " must be quoted)`
	}
	p.errs = append(p.errs, Problem{File: p.file, Line: line, Col: 1, Msg: "invalid YAML: " + msg, Rule: ruleSyntax})
}

var topKeys = []string{"version", "run-as", "env", "proxy", "batch", "phases", "reports", "artifacts", "cache"}

func (p *parser) version(n *yaml.Node) string {
	v := p.str(n, "version")
	switch v {
	case "0.2":
		return v
	case "0.1":
		p.errorf(n, ruleVersion, "buildspec version 0.1 is not supported: only 0.2 is (0.1 runs each command in a separate shell, so cd and variables do not carry over)")
	case "":
	default:
		p.errorf(n, ruleVersion, "unsupported buildspec version %q: only 0.2 is supported", v)
	}
	return v
}

var envKeys = []string{"shell", "variables", "parameter-store", "exported-variables", "secrets-manager", "git-credential-helper"}

func (p *parser) env(n *yaml.Node, env *Env) {
	for _, f := range p.fields(n, "env.", envKeys) {
		switch f.name {
		case "shell":
			switch s := p.str(f.val, "env.shell"); s {
			case "bash", "":
				env.Shell = "bash"
			case "/bin/sh", "sh":
				env.Shell = "sh"
			case "powershell.exe", "cmd.exe":
				p.errorf(f.val, ruleValue, "env.shell %q is a Windows shell; local builds support bash and /bin/sh", s)
			default:
				p.errorf(f.val, ruleValue, "unsupported env.shell %q: use bash or /bin/sh", s)
			}
		case "variables":
			for _, kv := range p.stringMap(f.val, "env.variables") {
				if p.envName(kv.key, kv.name, "env.variables") {
					env.Variables = append(env.Variables, Variable{Name: kv.name, Value: kv.value})
				}
			}
		case "parameter-store", "secrets-manager":
			m := map[string]string{}
			var names []string
			for _, kv := range p.stringMap(f.val, "env."+f.name) {
				if p.envName(kv.key, kv.name, "env."+f.name) {
					m[kv.name] = kv.value
					names = append(names, kv.name)
				}
			}
			if f.name == "parameter-store" {
				env.ParameterStore = m
			} else {
				env.SecretsManager = m
			}
			if len(names) > 0 {
				p.warnf(f.key, ruleNotLocal, "env.%s is fetched locally only with AWS access (--aws-secrets): otherwise %s stay unset unless the build's environment overrides set them", f.name, strings.Join(names, ", "))
			}
		case "exported-variables":
			for i, name := range p.strList(f.val, "env.exported-variables") {
				item := resolve(f.val.Content[i])
				if !isIdentifier(name) {
					p.errorf(item, ruleValue, "exported variable %q is not a valid variable name", name)
					continue
				}
				env.ExportedVariables = append(env.ExportedVariables, name)
				p.exportPos[name] = item
			}
		case "git-credential-helper":
			env.GitCredentialHelper = p.boolean(f.val, "env.git-credential-helper")
			p.warnf(f.key, ruleNotLocal, "env.git-credential-helper is ignored locally: git uses the host's credentials")
		}
	}
}

// envName rejects names no process environment can hold and warns about CodeBuild's reserved
// prefix, because CodeBuild documents CODEBUILD_ as internal and the runner sets those itself.
func (p *parser) envName(key *yaml.Node, name, section string) bool {
	if name == "" || strings.ContainsAny(name, "=\x00") {
		p.errorf(key, ruleValue, "%s: %q is not a valid environment variable name", section, name)
		return false
	}
	if strings.HasPrefix(name, "CODEBUILD_") {
		p.warnf(key, ruleReserved, "%s: %s uses the reserved CODEBUILD_ prefix; the runner's own value wins", section, name)
	}
	return true
}

// checkExports applies CodeBuild's rule that AWS_ variables and values from Parameter Store or
// Secrets Manager cannot be exported; they are dropped with a warning.
func (p *parser) checkExports(spec *Spec) {
	kept := spec.Env.ExportedVariables[:0]
	for _, name := range spec.Env.ExportedVariables {
		_, ssm := spec.Env.ParameterStore[name]
		_, sm := spec.Env.SecretsManager[name]
		switch {
		case strings.HasPrefix(name, "AWS_"):
			p.warnf(p.exportPos[name], ruleValue, "exported variable %s is not exported: CodeBuild never exports AWS_ variables", name)
		case ssm || sm:
			p.warnf(p.exportPos[name], ruleValue, "exported variable %s is not exported: CodeBuild never exports Parameter Store or Secrets Manager values", name)
		default:
			kept = append(kept, name)
		}
	}
	spec.Env.ExportedVariables = kept
}

var phaseKeys = []string{"install", "pre_build", "build", "post_build"}

var phaseBodyKeys = []string{"run-as", "on-failure", "runtime-versions", "commands", "finally"}

func (p *parser) phases(n *yaml.Node) []*Phase {
	byKey := map[string]*Phase{}
	for _, f := range p.fields(n, "phases.", phaseKeys) {
		byKey[f.name] = p.phase(f, phaseName(f.name))
	}
	var out []*Phase
	for _, cp := range commandPhases {
		if ph := byKey[cp.key]; ph != nil {
			out = append(out, ph)
		}
	}
	return out
}

func phaseName(key string) PhaseName {
	for _, cp := range commandPhases {
		if cp.key == key {
			return cp.name
		}
	}
	return PhaseName(strings.ToUpper(key))
}

func (p *parser) phase(f field, name PhaseName) *Phase {
	ph := &Phase{Name: name}
	prefix := "phases." + f.name
	for _, g := range p.fields(f.val, prefix+".", phaseBodyKeys) {
		switch g.name {
		case "run-as":
			ph.RunAs = p.str(g.val, prefix+".run-as")
			p.warnf(g.key, ruleNotLocal, "%s.run-as is ignored locally: commands run as the current user", prefix)
		case "on-failure":
			ph.OnFailure = p.onFailure(g.val, prefix)
		case "runtime-versions":
			if name != PhaseInstall {
				p.errorf(g.key, ruleUnknown, "runtime-versions is only allowed in the install phase")
				continue
			}
			ph.RuntimeVersions = map[string]string{}
			for _, kv := range p.stringMap(g.val, prefix+".runtime-versions") {
				ph.RuntimeVersions[kv.name] = kv.value
			}
			p.warnf(g.key, ruleNotLocal, "runtime-versions is ignored locally: the host's tools are used")
		case "commands":
			ph.Commands = p.commands(g.val, prefix+".commands")
		case "finally":
			ph.Finally = p.commands(g.val, prefix+".finally")
		}
	}
	return ph
}

// retryValue matches CodeBuild's RETRY, RETRY-<count>, RETRY-<regex> and RETRY-<count>-<regex>.
var retryValue = regexp.MustCompile(`^RETRY(-.*)?$`)

func (p *parser) onFailure(n *yaml.Node, prefix string) OnFailure {
	v := p.str(n, prefix+".on-failure")
	switch {
	case v == "ABORT":
		return OnFailureAbort
	case v == "CONTINUE":
		return OnFailureContinue
	case retryValue.MatchString(v):
		p.warnf(n, ruleOnFailure, "%s.on-failure %s: retries are not supported locally; treated as ABORT", prefix, v)
		return OnFailureAbort
	case v == "":
		return OnFailureDefault
	}
	msg := fmt.Sprintf("%s.on-failure must be ABORT, CONTINUE or RETRY…, got %q", prefix, v)
	msg += diag.DidYouMean(v, []string{"ABORT", "CONTINUE", "RETRY"})
	p.errorf(n, ruleValue, "%s", msg)
	return OnFailureDefault
}

// commands reads a list of commands. A YAML block scalar is one command, as on CodeBuild.
func (p *parser) commands(n *yaml.Node, what string) []string {
	n = resolve(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, ruleType, "%s must be a list of commands, got %s", what, describe(n))
		return nil
	}
	var out []string
	for _, item := range n.Content {
		item = resolve(item)
		switch {
		case item.Kind == yaml.MappingNode:
			p.errorf(item, ruleType, "%s: command must be a string, got a mapping (quote a command that contains \": \")", what)
		case item.Kind != yaml.ScalarNode:
			p.errorf(item, ruleType, "%s: command must be a string, got %s", what, describe(item))
		case isNull(item) || strings.TrimSpace(item.Value) == "":
			p.errorf(item, ruleValue, "%s: command is empty", what)
		case strings.ContainsRune(item.Value, 0):
			p.errorf(item, ruleValue, "%s: command contains a NUL character", what)
		default:
			out = append(out, item.Value)
		}
	}
	return out
}
