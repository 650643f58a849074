package pipeline

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// Errors of File.Pipeline, for errors.Is.
var (
	// ErrNoPipeline means the file has no pipeline of the requested name.
	ErrNoPipeline = errors.New("no such pipeline")
	// ErrPipelineAmbiguous means no name was given and the file has several pipelines.
	ErrPipelineAmbiguous = errors.New("several pipelines: name one")
)

// Pipeline returns the pipeline called name. An empty name selects the only pipeline of a
// one-pipeline file, so that the common case needs no flag on the command line.
func (f *File) Pipeline(name string) (*Pipeline, error) {
	if name == "" {
		if len(f.Pipelines) == 1 {
			return f.Pipelines[0], nil
		}
		if len(f.Pipelines) == 0 {
			return nil, fmt.Errorf("%s: %w: the file declares no pipelines", f.Name, ErrNoPipeline)
		}
		return nil, fmt.Errorf("%s: %w: %s", f.Name, ErrPipelineAmbiguous, strings.Join(f.Names(), ", "))
	}
	for _, p := range f.Pipelines {
		if p.Name.Value == name {
			return p, nil
		}
	}
	return nil, fmt.Errorf("%s: %w %q; the file declares: %s", f.Name, ErrNoPipeline, name, strings.Join(f.Names(), ", "))
}

// Names lists the file's pipeline names in file order.
func (f *File) Names() []string {
	names := make([]string, len(f.Pipelines))
	for i, p := range f.Pipelines {
		names[i] = p.Name.Value
	}
	return names
}

// Environment returns the first environment whose branches patterns match branch, or nil
// when none does (or the pipeline declares none).
func (p *Pipeline) Environment(branch string) *Environment {
	for _, e := range p.Environments {
		for _, b := range e.Branches {
			if ok, err := doublestar.Match(b.Value, branch); err == nil && ok {
				return e
			}
		}
	}
	return nil
}

// Namespace is one #{namespace.name} namespace known when the pipeline is compiled.
type Namespace struct {
	Name string
	// Names are the variable names the namespace holds; nil for an action namespace, whose
	// names are whatever the action exports at run time.
	Names []string
	// Action is the Stage/Action that fills an action namespace; empty otherwise.
	Action string
	// Pos is where an action namespace is declared; zero for the built-in ones.
	Pos Pos
}

// Namespaces lists the namespaces a pipeline's actions can read: source, pipeline, variables,
// env (when the pipeline has environments) and each action's namespace, in file order.
func (p *Pipeline) Namespaces() []Namespace {
	out := []Namespace{
		{Name: "source", Names: slices.Clone(SourceVariables)},
		{Name: "pipeline", Names: slices.Clone(PipelineVariables)},
		{Name: "variables", Names: varNames(p.Variables)},
	}
	if len(p.Environments) > 0 {
		out = append(out, Namespace{Name: "env", Names: envNames(p)})
	}
	for _, st := range p.Stages {
		for _, a := range st.Actions {
			if a.Namespace.Value != "" {
				out = append(out, Namespace{Name: a.Namespace.Value, Action: a.ID(), Pos: a.Namespace.Pos})
			}
		}
	}
	return out
}
