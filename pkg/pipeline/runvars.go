package pipeline

import (
	"fmt"
	"maps"
	"strconv"
	"strings"
)

// RunVariables computes the namespaces a run starts with, the engine.RunInfo.Variables seed:
// source (a copy of the event's values), pipeline (name, execution_id, run_number), variables
// (the pipeline's variables, their #{source.*} and #{pipeline.*} resolved) and env (the first
// environment matching source["branch"], its name and variables resolved), following the
// order described in docs/pipeline.md. env is absent when no environment matches, and for a
// pull request from a fork (source["fork"] is "true").
//
// The engine resolves action settings, but these four namespaces are fixed before the run
// starts, so the pipeline package, which knows how they refer to each other, resolves them.
func (p *Pipeline) RunVariables(source map[string]string, executionID string, runNumber int64) (map[string]map[string]string, error) {
	vars := map[string]map[string]string{
		"source": maps.Clone(source),
		"pipeline": {
			"name":         p.Name.Value,
			"execution_id": executionID,
			"run_number":   strconv.FormatInt(runNumber, 10),
		},
	}
	if vars["source"] == nil {
		vars["source"] = map[string]string{}
	}
	resolved := map[string]string{}
	for _, v := range p.Variables {
		s, err := expand(v.Value.Value, vars)
		if err != nil {
			return nil, fmt.Errorf("pipeline %s: variable %s: %w", p.Name.Value, v.Name.Value, err)
		}
		resolved[v.Name.Value] = s
	}
	vars["variables"] = resolved
	if e := p.runEnvironment(source); e != nil {
		env := map[string]string{}
		name, err := expand(e.Name.Value, vars)
		if err != nil {
			return nil, fmt.Errorf("pipeline %s: environment name: %w", p.Name.Value, err)
		}
		for _, v := range e.Variables {
			s, err := expand(v.Value.Value, vars)
			if err != nil {
				return nil, fmt.Errorf("pipeline %s: environment variable %s: %w", p.Name.Value, v.Name.Value, err)
			}
			env[v.Name.Value] = s
		}
		env["name"] = name
		vars["env"] = env
	}
	return vars, nil
}

// expand replaces every #{namespace.name} of s from vars; an unknown one is an error, as in
// the engine, rather than text passed on to a deployment.
func expand(s string, vars map[string]map[string]string) (string, error) {
	refs := scanRefs(s)
	if len(refs) == 0 {
		return s, nil
	}
	var b strings.Builder
	last := 0
	for _, r := range refs {
		if r.problem != "" {
			return "", fmt.Errorf("%s", r.problem)
		}
		v, ok := vars[r.ns][r.name]
		if !ok {
			return "", fmt.Errorf("unresolved variable %s", r.text)
		}
		b.WriteString(s[last:r.offset])
		b.WriteString(v)
		last = r.offset + len(r.text)
	}
	b.WriteString(s[last:])
	return b.String(), nil
}

// RunURL returns the url of the environment a run with these source values gets, as written
// (its #{…} resolved only once the run has succeeded, engine.State.EnvironmentURL): the
// engine.RunInfo.URL seed. It is "" when the environment has no url, when no environment
// matches, and for a pull request from a fork, which gets no environment (RunVariables).
func (p *Pipeline) RunURL(source map[string]string) string {
	if e := p.runEnvironment(source); e != nil {
		return e.URL.Value
	}
	return ""
}

// runEnvironment is the environment a run with these source values gets, or nil. A fork's
// pull request gets none: its branch name is the fork's, and must not pick, say, the prod
// environment of this repository's main.
func (p *Pipeline) runEnvironment(source map[string]string) *Environment {
	if source["fork"] == "true" {
		return nil
	}
	return p.Environment(source["branch"])
}
