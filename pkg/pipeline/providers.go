package pipeline

import (
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// valueKind is the shape of a provider-specific key's value.
type valueKind int

const (
	kindString valueKind = iota
	kindBool
	kindInt
	kindDuration
	kindList
	kindMap
	// kindArtifactPath is "artifact::path inside it", CodePipeline's way of naming a file in
	// an input artifact; the artifact becomes an implicit input of the action.
	kindArtifactPath
)

// keySpec describes one provider-specific key.
type keySpec struct {
	name     string
	kind     valueKind
	required bool
	// enum restricts a string, or each item of a list.
	enum []string
	// lo and hi bound an integer.
	lo, hi int
	// def is put into Config when the key is not written, so executors share one default.
	def any
}

// providerSpec lists the keys one provider accepts besides the common action keys.
type providerSpec struct {
	name string
	keys []keySpec
}

// providerSpecs is the single table of provider keys: decoding, unknown-key suggestions and
// defaults all read it, and docs/pipeline.md documents it.
var providerSpecs = []providerSpec{
	{ProviderCodeBuild, []keySpec{
		{name: "buildspec", def: "buildspec.yml"},
		{name: "project"},
		{name: "image"},
		{name: "compute_type"},
		{name: "privileged", kind: kindBool},
	}},
	{ProviderLocal, []keySpec{
		{name: "path", required: true},
		{name: "health_check"},
		{name: "health_timeout", kind: kindDuration},
		{name: "keep", kind: kindInt, lo: 1, hi: 1000, def: 5},
	}},
	{ProviderApproval, []keySpec{
		{name: "message"},
		{name: "url"},
	}},
	{ProviderECS, []keySpec{
		{name: "cluster", required: true},
		{name: "service", required: true},
		{name: "image_definitions", kind: kindArtifactPath, required: true},
		{name: "strategy", enum: []string{"rolling", "blue_green"}, def: "rolling"},
		// bake_time is how long blue_green keeps the old tasks after the traffic moved.
		{name: "bake_time", kind: kindDuration},
	}},
	// codedeploy follows CodePipeline's CodeDeployToECS action: AppSpec and task definition
	// templates, and an imageDetail.json whose ImageURI fills <image_placeholder>.
	{ProviderCodeDeploy, []keySpec{
		{name: "application", required: true},
		{name: "deployment_group", required: true},
		{name: "appspec", kind: kindArtifactPath, required: true},
		{name: "task_definition", kind: kindArtifactPath, required: true},
		{name: "image_details", kind: kindArtifactPath},
		{name: "image_placeholder", def: "IMAGE1_NAME"},
	}},
	{ProviderCloudFormation, []keySpec{
		{name: "stack", required: true},
		// template is required unless action is delete; checked in checkProviderRules.
		{name: "template", kind: kindArtifactPath},
		{name: "capabilities", kind: kindList, enum: []string{"CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"}},
		{name: "parameters", kind: kindMap},
		{name: "role"},
		{name: "action", enum: []string{"deploy", "delete"}, def: "deploy"},
	}},
	{ProviderS3, []keySpec{
		{name: "bucket", required: true},
		{name: "key"},
		{name: "extract", kind: kindBool, def: true},
		{name: "delete_removed", kind: kindBool, def: false},
	}},
	{ProviderLambda, []keySpec{
		{name: "function", required: true},
		{name: "payload"},
	}},
}

// actionKeys are the keys every action accepts.
var actionKeys = []string{"name", "provider", "run_order", "inputs", "outputs", "namespace", "timeout", "retry", "env"}

func providerSpecFor(name string) *providerSpec {
	for i := range providerSpecs {
		if providerSpecs[i].name == name {
			return &providerSpecs[i]
		}
	}
	return nil
}

func providerNames() []string {
	names := make([]string, len(providerSpecs))
	for i, p := range providerSpecs {
		names[i] = p.name
	}
	return names
}

// keysOf returns the keys valid in an action of the given provider spec (nil: any provider).
func keysOf(spec *providerSpec) []string {
	keys := slices.Clone(actionKeys)
	for _, p := range providerSpecs {
		if spec != nil && p.name != spec.name {
			continue
		}
		for _, k := range p.keys {
			if !slices.Contains(keys, k.name) {
				keys = append(keys, k.name)
			}
		}
	}
	return keys
}

// owners names the providers that accept key, for "it is an ecs key" hints.
func owners(key string) []string {
	var out []string
	for _, p := range providerSpecs {
		for _, k := range p.keys {
			if k.name == key {
				out = append(out, p.name)
			}
		}
	}
	return out
}

var cfnParamRE = regexp.MustCompile(`^[A-Za-z0-9]+$`)

// setting decodes one provider-specific key into a Setting and records the strings that may
// hold variables.
func (d *decoder) setting(a *Action, spec keySpec, p pair) (Setting, bool) {
	key := String{Value: p.key.Value, Pos: pos(p.key)}
	n := d.resolve(p.val)
	if isNull(n) {
		return Setting{}, false
	}
	s := Setting{Key: key, Pos: pos(n)}
	switch spec.kind {
	case kindString, kindArtifactPath:
		v, ok := d.strOK(n, spec.name)
		if !ok {
			return Setting{}, false
		}
		if spec.enum != nil && !d.oneOf(v, spec.name, spec.enum...) {
			return Setting{}, false
		}
		if spec.kind == kindArtifactPath {
			d.artifactPath(a, v, spec.name)
		}
		d.site(v, scopeAction, a)
		s.Value = v.Value
	case kindBool:
		v, ok := d.boolOK(n, spec.name)
		if !ok {
			return Setting{}, false
		}
		s.Value = v.Value
	case kindInt:
		v, ok := d.intOK(n, spec.name, spec.lo, spec.hi)
		if !ok {
			return Setting{}, false
		}
		s.Value = v.Value
	case kindDuration:
		v := d.duration(n, spec.name)
		if v.Value == 0 {
			return Setting{}, false
		}
		// Config carries Go syntax so executors read it with time.ParseDuration.
		s.Value = v.Value.String()
	case kindList:
		items := d.strList(n, spec.name)
		list := make([]any, 0, len(items))
		for _, it := range items {
			if spec.enum != nil && !d.oneOf(it, spec.name, spec.enum...) {
				continue
			}
			d.site(it, scopeAction, a)
			list = append(list, it.Value)
		}
		s.Value = list
	case kindMap:
		vars := d.strMap(n, spec.name, cfnParamRE, "use letters and digits only")
		m := make(map[string]any, len(vars))
		for _, v := range vars {
			d.site(v.Value, scopeAction, a)
			m[v.Name.Value] = v.Value.Value
		}
		s.Value = m
	}
	return s, true
}

// artifactPath checks "artifact::path" and records the artifact as an implicit input.
func (d *decoder) artifactPath(a *Action, v String, key string) {
	art, path, ok := strings.Cut(v.Value, "::")
	if !ok || art == "" || path == "" || !artifactRE.MatchString(art) {
		d.report(v.Pos, RuleValue, "%s: expected \"artifact::path\" such as \"bin::packaged.yml\", found %q", key, clip(v.Value))
		return
	}
	a.artifactRefs = append(a.artifactRefs, String{Value: art, Pos: v.Pos})
}

// checkProviderRules applies the rules that tie several keys of one provider together.
func (d *decoder) checkProviderRules(a *Action, m *yaml.Node) {
	get := func(key string) any {
		if s, ok := a.Setting(key); ok {
			return s.Value
		}
		return nil
	}
	switch a.Provider.Value {
	case ProviderCodeBuild:
		// CodeBuild names secondary sources and artifacts with identifiers of letters,
		// digits and underscores (CODEBUILD_SRC_DIR_<name>); the first of each is primary
		// and needs no name.
		for _, list := range [][]String{a.Inputs, a.Outputs} {
			for _, art := range list[min(1, len(list)):] {
				if !identifierRE.MatchString(art.Value) {
					d.report(art.Pos, RuleArtifact, "artifact %q: a codebuild action's second and later inputs and outputs become CodeBuild secondary sources and artifacts, whose names allow only letters, digits and underscores", art.Value)
				}
			}
		}
	case ProviderCloudFormation:
		if _, ok := a.Setting("template"); !ok && get("action") != "delete" {
			d.report(pos(m), RuleRequired, "cloudformation action is missing required key \"template\" (only action: delete needs none)")
		}
	case ProviderS3:
		if _, ok := a.Setting("key"); !ok && get("extract") == false {
			d.report(pos(m), RuleRequired, "s3 action with extract: false is missing required key \"key\" (the object to write)")
		}
		if get("delete_removed") == true && get("extract") == false {
			s, _ := a.Setting("delete_removed")
			d.report(s.Pos, RuleValue, "delete_removed: true deletes the files under the prefix that the unpacked artifact no longer holds; with extract: false there is no prefix to clean (remove one of them)")
		}
		if len(a.Inputs) != 1 {
			d.report(pos(m), RuleArtifact, "an s3 action deploys exactly one input artifact, found %d in inputs", len(a.Inputs))
		}
	}
}

// identifierRE is CodeBuild's sourceIdentifier and artifactIdentifier.
var identifierRE = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// Providers returns the action providers a pipeline file accepts, in the order of the table
// above. The state machine's dispatch test checks each against it.
func Providers() []string {
	out := make([]string, len(providerSpecs))
	for i, p := range providerSpecs {
		out[i] = p.name
	}
	return out
}
