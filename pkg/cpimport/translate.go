package cpimport

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// cpAction is one CodePipeline action as read from the input.
type cpAction struct {
	from                               node
	stage                              string
	stageIdx                           int
	name                               string
	category, owner, provider, version string
	runOrder                           int
	config                             node
	inputs, outputs                    []string
	namespace                          string
	orig                               *origAction
}

// changeSet is a CHANGE_SET_REPLACE action and the deploy it was read into.
type changeSet struct {
	a   *cpAction
	out *outAction
}

// translation is the state of importing one pipeline.
type translation struct {
	im *importer
	p  *outPipeline
	// region is the pipeline's own region (from get-pipeline's metadata), where an action's
	// region is no news.
	region string
	// artifacts renames CodePipeline artifact names (the primary source's output becomes
	// stepline's implicit "source").
	artifacts map[string]string
	// vars maps a source action's namespace to its variables' stepline names; namespaces
	// renames action namespaces stepline reserves.
	vars       map[string]map[string]string
	namespaces map[string]string
	// imageActions are the generated actions writing an ECR source's imageDetail.json.
	imageActions []*outAction
	// changeSets holds CHANGE_SET_REPLACE actions waiting for their CHANGE_SET_EXECUTE, by
	// stack and change set name.
	changeSets map[string]*changeSet
}

// pipeline translates one declaration.
func (im *importer) pipeline(d declaration) *outPipeline {
	decl := d.decl
	p := &outPipeline{name: stepName(d.name), cp: cpInfo{name: d.name}}
	p.from = decl
	p.cp.typ = strings.ToUpper(im.text(decl.field("pipelineType")))
	if p.cp.typ != "V2" {
		p.cp.typ = "V1"
	}
	t := &translation{im: im, p: p, artifacts: map[string]string{}, vars: map[string]map[string]string{},
		namespaces: map[string]string{}, changeSets: map[string]*changeSet{}}
	p.header = append(p.header, fmt.Sprintf("CodePipeline pipeline %q (%s), from the %s.", d.name, p.cp.typ, d.source))
	if parts := strings.Split(d.arn, ":"); len(parts) > 3 {
		t.region = parts[3]
	}

	t.executionMode(decl)
	for _, v := range decl.field("variables").items() {
		t.variable(v)
	}
	for _, f := range decl.fields() {
		switch strings.ToLower(f.key) {
		case "name", "rolearn", "artifactstore", "artifactstores", "version", "tags", "pipelinetype",
			"executionmode", "stages", "triggers", "variables", "restartexecutiononupdate":
		case "disableinboundstagetransitions":
			im.report(f.val, RuleNotImported, "disabled stage transitions are not imported: stepline has no transitions to disable; a stage that must wait for a person needs an approval action")
		default:
			im.report(f.val, RuleNotImported, "pipeline setting %s is not imported: stepline has no equivalent", f.key)
		}
	}

	actions := t.read(decl)
	sources := t.sources(actions)
	t.triggers(decl, sources)
	t.stages(decl, actions)
	return p
}

func (t *translation) executionMode(decl node) {
	v := decl.field("executionMode")
	mode := strings.ToLower(t.im.text(v))
	switch mode {
	case "queued", "superseded", "parallel":
		t.p.mode = mode
	case "":
		t.p.mode = "superseded" // CodePipeline's default, and V1's only mode
	default:
		t.im.report(v, RuleNotImported, "execution mode %q is not one of QUEUED, SUPERSEDED, PARALLEL: written as superseded", mode)
		t.p.mode = "superseded"
	}
}

func (t *translation) variable(v node) {
	name := t.im.text(v.field("name"))
	val := v.field("defaultValue")
	out := &outVar{name: name, value: t.im.text(val)}
	out.from = v
	if !val.ok() {
		t.im.report(v, RuleChanged, "pipeline variable %s has no default: stepline sets variables in the file, not when a run starts; written as an empty value", name)
	}
	t.p.variables = append(t.p.variables, out)
}

// read lists the pipeline's actions in order (stage, then input order), and notes each as an
// original action for x-codepipeline.
func (t *translation) read(decl node) []*cpAction {
	var out []*cpAction
	for si, st := range decl.field("stages").items() {
		stage := t.im.text(st.field("name"))
		for _, a := range st.field("actions").items() {
			typ := a.field("actionTypeId")
			ca := &cpAction{from: a, stage: stage, stageIdx: si, name: t.im.text(a.field("name")),
				category: t.im.text(typ.field("category")), owner: t.im.text(typ.field("owner")),
				provider: t.im.text(typ.field("provider")), version: t.im.text(typ.field("version")),
				runOrder: 1, config: a.field("configuration"), namespace: t.im.text(a.field("namespace"))}
			if n, ok := intOf(a.field("runOrder")); ok && n >= 1 && n <= 999 {
				ca.runOrder = n
			}
			for _, in := range a.field("inputArtifacts").items() {
				ca.inputs = append(ca.inputs, t.im.text(in.field("name")))
			}
			for _, o := range a.field("outputArtifacts").items() {
				ca.outputs = append(ca.outputs, t.im.text(o.field("name")))
			}
			ca.orig = &origAction{name: stage + "/" + ca.name, category: ca.category, owner: ca.owner, provider: ca.provider}
			t.p.original = append(t.p.original, ca.orig)
			out = append(out, ca)
		}
	}
	return out
}

// stages maps the stages and their non-source actions.
func (t *translation) stages(decl node, actions []*cpAction) {
	used := map[string]bool{"Source": true}
	if len(t.imageActions) > 0 {
		st := &outStage{name: uniqueName("Image", used)}
		st.from = t.imageActions[0].from
		for _, a := range t.imageActions {
			a.stage = st
			st.actions = append(st.actions, a)
		}
		t.p.stages = append(t.p.stages, st)
	}
	for si, sn := range decl.field("stages").items() {
		st := &outStage{}
		st.from = sn
		var mine []*cpAction
		for _, a := range actions {
			if a.stageIdx == si && a.category != "Source" {
				mine = append(mine, a)
			}
		}
		if len(mine) == 0 {
			continue // a stage of sources only: stepline's implicit Source stage
		}
		st.name = uniqueName(stepName(t.im.text(sn.field("name"))), used)
		t.stageSettings(sn, st)
		names := map[string]bool{}
		for _, a := range mine {
			st.actions = append(st.actions, t.action(a, st, uniqueName(stepName(a.name), names)))
		}
		if len(st.actions) > 0 {
			t.p.stages = append(t.p.stages, st)
		}
	}
}

func (t *translation) stageSettings(sn node, st *outStage) {
	for _, f := range sn.fields() {
		switch strings.ToLower(f.key) {
		case "name", "actions", "blockers":
		case "onfailure":
			t.onFailure(f.val, st)
		default:
			t.im.report(f.val, RuleNotImported, "stage setting %s is not imported: stepline has no stage conditions or entry/success rules", f.key)
		}
	}
}

func (t *translation) onFailure(v node, st *outStage) {
	result := strings.ToUpper(t.im.text(v.field("result")))
	switch result {
	case "ROLLBACK":
		st.onFailure = []setting{{"result", "rollback"}}
	case "FAIL", "":
		if result == "FAIL" {
			st.onFailure = []setting{{"result", "fail"}}
		}
	case "RETRY":
		scope := "failed_actions"
		if strings.EqualFold(t.im.text(v.field("retryConfiguration").field("retryMode")), "ALL_ACTIONS") {
			scope = "all_actions"
		}
		st.onFailure = []setting{{"result", "retry"}, {"scope", scope}}
	default:
		t.im.report(v.field("result"), RuleNotImported, "on-failure result %q is not one of FAIL, RETRY, ROLLBACK", result)
	}
	if c := v.field("conditions"); c.ok() {
		t.im.report(c, RuleNotImported, "on-failure conditions are not imported: stepline's on_failure applies to every failure")
	}
}

var notNameRE = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// stepName makes a CodePipeline name ([A-Za-z0-9.@_-]) a stepline name: a letter or digit,
// then letters, digits, _ and -, at most 100 characters.
func stepName(s string) string {
	s = notNameRE.ReplaceAllString(s, "-")
	s = strings.TrimLeft(s, "_-")
	if s == "" {
		s = "unnamed"
	}
	if len(s) > 100 {
		s = s[:100]
	}
	return s
}

// uniqueName returns name, or name-2, name-3… when used already has it, and records it.
func uniqueName(name string, used map[string]bool) string {
	out := name
	for i := 2; used[out]; i++ {
		suffix := "-" + strconv.Itoa(i)
		out = name[:min(len(name), 100-len(suffix))] + suffix
	}
	used[out] = true
	return out
}
