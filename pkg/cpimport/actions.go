package cpimport

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// action maps one non-source action onto its stepline provider. The configuration keys of
// each action type follow the CodePipeline action structure reference
// (https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference.html); each
// provider's stepline keys are those of docs/pipeline.md.
func (t *translation) action(a *cpAction, st *outStage, name string) *outAction {
	out := &outAction{name: name, runOrder: a.runOrder, namespace: t.namespace(a.namespace)}
	out.from = a.from
	out.stage = st
	for _, in := range a.inputs {
		out.inputs = append(out.inputs, t.artifact(in))
	}
	for _, o := range a.outputs {
		out.outputs = append(out.outputs, t.artifact(o))
	}
	if m, ok := intOf(a.from.field("timeoutInMinutes")); ok && m > 0 {
		out.timeout = minutes(m)
	}
	a.orig.to = out
	c := &config{t: t, a: a, out: out, seen: map[string]bool{}}
	switch {
	case a.owner == "AWS" && (a.category == "Build" || a.category == "Test") && a.provider == "CodeBuild":
		c.codebuild()
	case a.owner == "AWS" && a.category == "Deploy" && a.provider == "ECS":
		c.ecs()
	case a.owner == "AWS" && a.category == "Deploy" && a.provider == "CodeDeployToECS":
		c.codedeploy()
	case a.owner == "AWS" && a.category == "Deploy" && a.provider == "CloudFormation":
		c.cloudformation()
	case a.owner == "AWS" && a.category == "Deploy" && a.provider == "S3":
		c.s3()
	case a.owner == "AWS" && a.category == "Invoke" && a.provider == "Lambda":
		c.lambda()
	case a.owner == "AWS" && a.category == "Approval" && a.provider == "Manual":
		c.approval()
	default:
		t.unmappable(a, out)
		return out
	}
	c.leftovers()
	t.common(a)
	if out.provider != "codebuild" && len(out.outputs) > 0 {
		// Only builds (and the source) produce artifacts in stepline; an output nothing writes
		// would fail the action.
		t.im.report(a.from.field("outputArtifacts"), RuleNotImported, "output artifacts %s are not imported: a stepline %s action produces none; actions reading them are not imported either", strings.Join(out.outputs, ", "), out.provider)
		out.outputs = nil
	}
	return out
}

// minutes writes a number of minutes as a stepline duration, in hours when it is whole hours.
func minutes(m int) string {
	if m%60 == 0 {
		return fmt.Sprintf("%dh", m/60)
	}
	return fmt.Sprintf("%dm", m)
}

// common reports the action settings every type shares that stepline does not take.
func (t *translation) common(a *cpAction) {
	if r := a.from.field("region"); r.ok() && t.im.text(r) != t.region {
		t.im.report(r, RuleChanged, "region %s is not imported: stepline deploys in the region of the stack (or of your credentials with stepline run)", t.im.text(r))
	}
	if r := a.from.field("roleArn"); r.ok() {
		t.im.report(r, RuleChanged, "action role %s is not imported: stepline acts with its own functions' roles, which the stack's parameters scope", t.im.text(r))
	}
}

// unmappable writes an action with no stepline provider as a comment describing it.
func (t *translation) unmappable(a *cpAction, out *outAction) {
	a.orig.to = nil
	kind := fmt.Sprintf("%s %s action %s", a.owner, a.category, a.provider)
	switch {
	case a.owner == "ThirdParty":
		out.drop = fmt.Sprintf("third-party %s action %s has no stepline provider: run its work from a codebuild action", a.category, a.provider)
	case a.owner == "Custom":
		out.drop = fmt.Sprintf("custom %s action %s runs on a job worker polling CodePipeline, which stepline does not offer: run its work from a codebuild or lambda action", a.category, a.provider)
	case a.provider == "CodeDeploy":
		out.drop = "CodeDeploy to EC2, on-premises or Lambda has no stepline provider: stepline's codedeploy deploys to ECS (CodePipeline's CodeDeployToECS)"
	case a.category == "Source":
		out.drop = kind + " is not imported"
	default:
		out.drop = kind + " has no stepline provider (stepline has codebuild, ecs, codedeploy for ECS blue/green, cloudformation, s3, lambda and approval)"
	}
	t.describe(a, out)
}

// describe puts the CodePipeline action into out as written, for its comment.
func (t *translation) describe(a *cpAction, out *outAction) {
	out.original = []setting{{"type", []kv{{"category", a.category}, {"owner", a.owner}, {"provider", a.provider}, {"version", a.version}}}}
	if a.runOrder > 1 {
		out.original = append(out.original, setting{"run_order", a.runOrder})
	}
	if len(a.inputs) > 0 {
		out.original = append(out.original, setting{"inputs", a.inputs})
	}
	if len(a.outputs) > 0 {
		out.original = append(out.original, setting{"outputs", a.outputs})
	}
	if a.namespace != "" {
		out.original = append(out.original, setting{"namespace", a.namespace})
	}
	var cfg []kv
	for _, f := range a.config.fields() {
		s, _, _ := t.im.cfn.str(f.val)
		cfg = append(cfg, kv{f.key, s})
	}
	out.original = append(out.original, setting{"configuration", cfg})
}

// reservedNamespaces are stepline's own namespaces; an action namespace of that name is renamed.
var reservedNamespaces = []string{"source", "env", "pipeline", "variables"}

func (t *translation) namespace(ns string) string {
	if ns == "" {
		return ""
	}
	if r, ok := t.namespaces[ns]; ok {
		return r
	}
	if slices.Contains(reservedNamespaces, ns) {
		t.namespaces[ns] = ns + "_action"
		return ns + "_action"
	}
	return ns
}

// artifact is an artifact's stepline name.
func (t *translation) artifact(name string) string {
	if r, ok := t.artifacts[name]; ok {
		return r
	}
	if name == "source" {
		// stepline's implicit Source stage owns "source".
		t.artifacts[name] = "source_artifact"
		return "source_artifact"
	}
	return name
}

// config reads one action's configuration, remembering which keys were used so that every
// other key is reported.
type config struct {
	t    *translation
	a    *cpAction
	out  *outAction
	seen map[string]bool
}

var varRE = regexp.MustCompile(`#\{([^}]*)\}`)

// get reads a configuration value with its variables rewritten to stepline's names.
func (c *config) get(key string) string {
	c.seen[strings.ToLower(key)] = true
	v := c.a.config.field(key)
	if !v.ok() {
		return ""
	}
	return c.vars(c.t.im.text(v))
}

// vars rewrites #{namespace.name}: a source action's variables become source.*, CodePipeline's
// own become pipeline.*, renamed namespaces follow. A variable with no stepline equivalent
// keeps the action from being imported.
func (c *config) vars(s string) string {
	return varRE.ReplaceAllStringFunc(s, func(m string) string {
		ref := m[2 : len(m)-1]
		ns, name, ok := strings.Cut(ref, ".")
		if !ok || ns == "" {
			return m
		}
		if table, ok := c.t.vars[ns]; ok {
			if to, ok := table[name]; ok {
				return "#{source." + to + "}"
			}
			c.dropFor(fmt.Sprintf("source variable #{%s} has no stepline equivalent (source has %s)", ref, strings.Join(sortedValues(table), ", ")))
			return m
		}
		if ns == "codepipeline" {
			if name == "PipelineExecutionId" {
				return "#{pipeline.execution_id}"
			}
			c.dropFor(fmt.Sprintf("#{%s} has no stepline equivalent (pipeline has name, execution_id, run_number)", ref))
			return m
		}
		if r, ok := c.t.namespaces[ns]; ok {
			return "#{" + r + "." + name + "}"
		}
		return m
	})
}

func (c *config) dropFor(why string) {
	if c.out.drop == "" {
		c.out.drop = why
	}
}

func sortedValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = appendNew(out, v)
	}
	slices.Sort(out)
	return out
}

func (c *config) set(key string, val any) {
	if s, ok := val.(string); ok && s == "" {
		return
	}
	c.out.config = append(c.out.config, setting{key, val})
}

// path maps "Artifact::path" to the artifact's stepline name.
func (c *config) path(s string) string {
	art, p, ok := strings.Cut(s, "::")
	if !ok {
		return s
	}
	return c.t.artifact(art) + "::" + p
}

// notImported reports keys that are set and have no stepline equivalent.
func (c *config) notImported(why string, keys ...string) {
	for _, k := range keys {
		c.seen[strings.ToLower(k)] = true
		if v := c.a.config.field(k); v.ok() {
			c.t.im.report(v, RuleNotImported, "%s is not imported: %s", k, why)
		}
	}
}

// leftovers reports the configuration keys no mapping read.
func (c *config) leftovers() {
	for _, f := range c.a.config.fields() {
		if !c.seen[strings.ToLower(f.key)] {
			c.t.im.report(f.val, RuleNotImported, "%s setting %s is not imported: stepline has no equivalent", c.a.provider, f.key)
		}
	}
}
