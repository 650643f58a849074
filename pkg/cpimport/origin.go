package cpimport

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// Origin is the CodePipeline pipeline a stepline pipeline was imported from, as the imported
// file keeps it under its top-level x-codepipeline key (which stepline's parser ignores), so
// that `stepline cost` can price the original next to stepline.
type Origin struct {
	// Pipeline is the stepline pipeline's name.
	Pipeline string `yaml:"pipeline"`
	// Name is the CodePipeline pipeline's name.
	Name string `yaml:"name"`
	// Type is V1 or V2, which CodePipeline prices differently.
	Type    string         `yaml:"type"`
	Actions []OriginAction `yaml:"actions"`
}

// OriginAction is one action of the CodePipeline pipeline.
type OriginAction struct {
	// Name is Stage/Action in CodePipeline.
	Name     string `yaml:"name"`
	Category string `yaml:"category"`
	Owner    string `yaml:"owner"`
	Provider string `yaml:"provider"`
	// Stepline is the stepline action it became ("Stage/Action"; "Source/Source" for the
	// repository source), "trigger" for an image or object source, or empty when not imported.
	Stepline string `yaml:"stepline"`
}

// ReadOrigins reads the x-codepipeline block of a pipeline file; a file without one has none.
func ReadOrigins(data []byte) ([]Origin, error) {
	var f struct {
		Origins []Origin `yaml:"x-codepipeline"`
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("read x-codepipeline: %w", err)
	}
	return f.Origins, nil
}

func (p *outPipeline) origin() Origin {
	o := Origin{Pipeline: p.name, Name: p.cp.name, Type: p.cp.typ}
	for _, a := range p.original {
		o.Actions = append(o.Actions, OriginAction{Name: a.name, Category: a.category, Owner: a.owner, Provider: a.provider, Stepline: a.stepline()})
	}
	return o
}

// stepline is what the action became.
func (o *origAction) stepline() string {
	if o.fixed != "" {
		return o.fixed
	}
	if o.to == nil || o.to.dropped() || o.to.stage == nil || o.to.stage.dropped() {
		return ""
	}
	return o.to.id()
}
