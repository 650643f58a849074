package pipeline

import (
	"fmt"
	"github.com/stepline/stepline/pkg/diag"
	"regexp"
	"slices"
	"strings"
)

// SourceVariables are the names of the source namespace, filled from the triggering event.
// The image_* names are set for runs an ECR image push started, the object_* names for runs
// an S3 object creation started, empty otherwise.
var SourceVariables = []string{"branch", "branch_slug", "tag", "commit_id", "short_commit_id",
	"commit_message", "author", "repository", "ref", "provider", "pr_number", "fork", "event",
	"image_repository", "image_tag", "image_digest", "image_registry", "image_uri",
	"object_bucket", "object_key", "object_version", "object_etag", "object_size"}

// PipelineVariables are the names of the pipeline namespace, filled when a run starts.
var PipelineVariables = []string{"name", "execution_id", "run_number"}

// scope is where a string with variables is written; it decides which namespaces are known
// there, following the order in which a run resolves them: source and pipeline first, then
// the pipeline's variables, then the environment, then each action's outputs.
type scope int

const (
	scopeVariables scope = iota
	scopeEnvironment
	scopeAction
	// scopeRunEnd is an environment's url, resolved once the run has succeeded: every
	// namespace is known by then.
	scopeRunEnd
)

func (s scope) String() string {
	switch s {
	case scopeVariables:
		return "pipeline variables"
	case scopeEnvironment:
		return "environments"
	case scopeRunEnd:
		return "environment urls"
	}
	return "actions"
}

// varSite is a string that may hold #{namespace.name} references.
type varSite struct {
	value  String
	scope  scope
	action *Action
}

// site records s for the variable checks, which need every namespace of the pipeline.
func (d *decoder) site(s String, sc scope, a *Action) {
	if !strings.Contains(s.Value, "#{") || len(d.pipelines) == 0 {
		return
	}
	pi := d.pipelines[len(d.pipelines)-1]
	pi.sites = append(pi.sites, varSite{value: s, scope: sc, action: a})
}

// varRef is one #{…} found in a string.
type varRef struct {
	text     string
	ns, name string
	offset   int
	// problem is set when the reference is malformed.
	problem string
}

var refNameRE = regexp.MustCompile(`^[A-Za-z0-9@_.-]+$`)

// scanRefs finds every #{…} in s. There is no escape: like CodePipeline, "#{" always starts a
// variable.
func scanRefs(s string) []varRef {
	var refs []varRef
	for i := 0; ; {
		j := strings.Index(s[i:], "#{")
		if j < 0 {
			return refs
		}
		start := i + j
		k := strings.IndexByte(s[start+2:], '}')
		if k < 0 {
			refs = append(refs, varRef{text: s[start:], offset: start,
				problem: fmt.Sprintf("unterminated variable reference %q: missing }", clip(s[start:]))})
			return refs
		}
		end := start + 3 + k
		r := varRef{text: s[start:end], offset: start}
		body := s[start+2 : end-1]
		ns, name, dot := strings.Cut(body, ".")
		switch {
		case body == "":
			r.problem = "empty variable reference #{}: write #{namespace.name}"
		case !dot:
			r.problem = fmt.Sprintf("variable reference %q has no namespace: write #{namespace.name}", clip(r.text))
		case !namespaceRE.MatchString(ns) || !refNameRE.MatchString(name):
			r.problem = fmt.Sprintf("malformed variable reference %q: write #{namespace.name} with letters, digits, @, _, - and .", clip(r.text))
		default:
			r.ns, r.name = ns, name
		}
		refs = append(refs, r)
		i = end
	}
}

// checkVariables checks every reference of one pipeline and records in pi.deps the
// dependencies between actions they create, for the ordering and cycle checks.
func (d *decoder) checkVariables(pi *pipelineIndex) {
	closed := map[string][]string{
		"source":    SourceVariables,
		"pipeline":  PipelineVariables,
		"variables": varNames(pi.p.Variables),
		"env":       envNames(pi.p),
	}
	known := slices.Clone(reservedNamespaces)
	for _, a := range pi.actions {
		if a.Namespace.Value != "" && !slices.Contains(known, a.Namespace.Value) {
			known = append(known, a.Namespace.Value)
		}
	}
	for _, site := range pi.sites {
		seen := map[string]int{}
		for _, r := range scanRefs(site.value.Value) {
			at := d.src.locate(site.value.Pos, r.text, seen[r.text])
			seen[r.text]++
			if r.problem != "" {
				d.report(at, RuleVariable, "%s", r.problem)
				continue
			}
			names, isClosed := closed[r.ns]
			switch {
			case r.ns == "variables" && site.scope == scopeVariables:
				d.report(at, RuleVariable, "%s: pipeline variables cannot refer to each other", r.text)
			case r.ns == "env" && site.scope < scopeAction:
				d.report(at, RuleVariable, "%s: the environment is not chosen yet when %s are resolved", r.text, site.scope)
			case r.ns == "env" && len(pi.p.Environments) == 0:
				d.report(at, RuleVariable, "%s: the pipeline declares no environments", r.text)
			case isClosed:
				if !slices.Contains(names, r.name) {
					d.report(at, RuleVariable, "%s: unknown variable %q in namespace %s%s", r.text, r.name, r.ns, diag.DidYouMean(r.name, names))
				}
			case pi.namespaces[r.ns] != nil:
				switch site.scope {
				case scopeAction:
					pi.deps = append(pi.deps, dep{from: site.action, to: pi.namespaces[r.ns], at: at, what: r.text, variable: true})
				case scopeRunEnd:
					// Resolved after the last action: it orders nothing.
				default:
					d.report(at, RuleVariable, "%s: action namespaces cannot be used in %s, which are resolved before any action runs", r.text, site.scope)
				}
			default:
				d.report(at, RuleVariable, "%s: unknown namespace %q%s", r.text, r.ns, diag.DidYouMean(r.ns, known))
			}
		}
	}
}

func varNames(vars []Var) []string {
	names := make([]string, 0, len(vars))
	for _, v := range vars {
		names = append(names, v.Name.Value)
	}
	return names
}

// envNames is name plus every key of any environment's variables: which environment a run
// gets is known only at run time.
func envNames(p *Pipeline) []string {
	names := []string{"name"}
	for _, e := range p.Environments {
		for _, v := range e.Variables {
			if !slices.Contains(names, v.Name.Value) {
				names = append(names, v.Name.Value)
			}
		}
	}
	return names
}
