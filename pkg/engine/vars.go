package engine

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// resolve returns a copy of v with every #{namespace.name} in its strings replaced by the
// variable's value. CodePipeline fails an action whose variable cannot be resolved rather
// than passing the text on, and so does stepline: the first unknown variable is an error.
func resolve(v any, vars *State) (any, error) {
	switch v := v.(type) {
	case string:
		return expand(v, vars)
	case map[string]any:
		out := make(map[string]any, len(v))
		var first error
		// Keys in order, so the error reported is the same on every call (Advance is
		// deterministic).
		for _, k := range slices.Sorted(maps.Keys(v)) {
			r, err := resolve(v[k], vars)
			if err != nil && first == nil {
				first = err
			}
			out[k] = r
		}
		return out, first
	case []any:
		out := make([]any, len(v))
		var first error
		for k, e := range v {
			r, err := resolve(e, vars)
			if err != nil && first == nil {
				first = err
			}
			out[k] = r
		}
		return out, first
	default:
		return v, nil
	}
}

// Expand resolves every #{namespace.name} of s from vars as an action's settings are
// resolved when it starts: an unknown variable is an error, never text passed on. Tools that
// must know a setting's value before any run (the stack names a pipeline will deploy, for a
// permission proof) resolve it with the run's namespaces (pipeline.Pipeline.RunVariables).
func Expand(s string, vars map[string]map[string]string) (string, error) {
	return expand(s, &State{Vars: vars})
}

// expand replaces the variables of one string with their values in the run's state vars.
func expand(s string, vars *State) (string, error) {
	if !strings.Contains(s, "#{") {
		return s, nil
	}
	var b strings.Builder
	rest := s
	for {
		open := strings.Index(rest, "#{")
		if open < 0 {
			b.WriteString(rest)
			return b.String(), nil
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return s, fmt.Errorf("unterminated variable in %q", s)
		}
		ref := rest[open+2 : open+end]
		ns, name, ok := strings.Cut(ref, ".")
		val, found, space := vars.lookup(ns, name)
		if ok && ns == "env" && !space {
			// The usual cause, named: an action written for an environment ran without one.
			return s, fmt.Errorf("unresolved variable #{%s}: the run has no environment (none serves its branch, or it is a pull request from a fork, which never gets one)", ref)
		}
		if !ok || !found {
			return s, fmt.Errorf("unresolved variable #{%s}", ref)
		}
		b.WriteString(rest[:open])
		b.WriteString(val)
		rest = rest[open+end+1:]
	}
}
