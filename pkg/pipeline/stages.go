package pipeline

import (
	"github.com/stepline/stepline/pkg/diag"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// SourceStage, SourceAction and SourceArtifact name the implicit first stage that archives
// the triggering commit; users never declare it, so these names are reserved.
const (
	SourceStage     = "Source"
	SourceAction    = "Source"
	SourceArtifact  = "source"
	SourceNamespace = "source"
)

// MaxApprovalTimeout is how long an approval may wait, CodePipeline's limit; it is also the
// default, so an approval nobody answers ends the run instead of holding a stage lock forever.
const MaxApprovalTimeout = 7 * 24 * time.Hour

// MaxCodeBuildTimeout is the longest timeout a codebuild action may ask for: CodeBuild's
// timeoutInMinutesOverride takes "from 5 to 2160 (36 hours)" minutes (CodeBuild API Reference,
// StartBuild: docs.aws.amazon.com/codebuild/latest/APIReference/API_StartBuild.html), and a
// longer one would fail the StartBuild call of every run. Shorter ones are raised to 5 minutes.
const MaxCodeBuildTimeout = 2160 * time.Minute

var stageKeys = []string{"name", "on_failure", "actions"}

func (d *decoder) decodeStage(n *yaml.Node, index int) *Stage {
	n = d.resolve(n)
	if n == nil {
		return nil
	}
	if isNull(n) {
		d.report(d.src.itemPos(pos(n)), RuleType, "stage: expected a mapping, found null (an empty list item)")
		return nil
	}
	ps, ok := d.mapping(n, "stage")
	if !ok {
		return nil
	}
	st := &Stage{Pos: pos(n)}
	for _, p := range ps {
		switch p.key.Value {
		case "name":
			st.Name = d.name(p.val, "stage")
			if st.Name.Value == SourceStage {
				d.report(st.Name.Pos, RuleValue, "stage name %q is reserved for the implicit source stage", SourceStage)
			}
		case "on_failure":
			st.OnFailure = d.onFailure(p.val)
		case "actions":
		default:
			d.unknownKey(p.key, "stage", stageKeys)
		}
	}
	// Actions are read after the name so that their messages can name the stage.
	if an := d.lookup(ps, "actions"); an != nil {
		items, _ := d.sequence(an, "actions")
		for _, item := range items {
			if a := d.decodeAction(item, st, index); a != nil {
				st.Actions = append(st.Actions, a)
			}
		}
		if an.Kind == yaml.SequenceNode && len(items) == 0 {
			d.report(pos(an), RuleRequired, "actions: the list is empty: declare at least one action")
		}
		if len(items) > MaxActions {
			d.report(pos(items[MaxActions]), RuleSize, "stage %q has %d actions; a stage has at most %d, CodePipeline's quota (a run's record must fit in one DynamoDB item on AWS): move some to another stage", st.Name.Value, len(items), MaxActions)
		}
	}
	d.require(n, ps, "stage", "name", "actions")
	return st
}

var onFailureKeys = []string{"result", "attempts", "scope"}

// onFailure reads fail | retry | rollback, or {result, attempts, scope}.
func (d *decoder) onFailure(n *yaml.Node) *OnFailure {
	n = d.resolve(n)
	if isNull(n) {
		return nil
	}
	results := []string{FailureFail, FailureRetry, FailureRollback}
	if n.Kind == yaml.ScalarNode {
		r := d.enum(n, "on_failure", results...)
		if r.Value == "" {
			return nil
		}
		return &OnFailure{Pos: pos(n), Result: r}
	}
	if n.Kind != yaml.MappingNode {
		d.report(pos(n), RuleType, "on_failure: expected fail, retry, rollback or a mapping with result, found %s", kindName(n))
		return nil
	}
	ps, _ := d.mapping(n, "on_failure")
	of := &OnFailure{Pos: pos(n)}
	for _, p := range ps {
		switch p.key.Value {
		case "result":
			of.Result = d.enum(p.val, "on_failure.result", results...)
		case "attempts":
			of.Attempts = d.integer(p.val, "on_failure.attempts", 1, 10)
		case "scope":
			of.Scope = d.enum(p.val, "on_failure.scope", ScopeFailedActions, ScopeAllActions)
		default:
			d.unknownKey(p.key, "on_failure", onFailureKeys)
		}
	}
	d.require(n, ps, "on_failure", "result")
	if of.Result.Value != "" && of.Result.Value != FailureRetry {
		for _, v := range []struct {
			key string
			at  Pos
		}{{"attempts", of.Attempts.Pos}, {"scope", of.Scope.Pos}} {
			if !v.at.IsZero() {
				d.report(v.at, RuleValue, "on_failure.%s applies only to result: retry, not %s", v.key, of.Result.Value)
			}
		}
	}
	return of
}

func (d *decoder) decodeAction(n *yaml.Node, st *Stage, index int) *Action {
	n = d.resolve(n)
	if n == nil {
		return nil
	}
	if isNull(n) {
		d.report(d.src.itemPos(pos(n)), RuleType, "action: expected a mapping, found null (an empty list item)")
		return nil
	}
	ps, ok := d.mapping(n, "action")
	if !ok {
		return nil
	}
	a := &Action{Pos: pos(n), stage: st, stageIndex: index, RunOrder: Int{Value: 1}}
	var spec *providerSpec
	if pn := d.lookup(ps, "provider"); pn != nil {
		a.Provider, spec = d.provider(pn)
	}
	for _, p := range ps {
		key := p.key.Value
		switch key {
		case "name":
			a.Name = d.name(p.val, "action")
		case "provider":
		case "run_order":
			if v, ok := d.intOK(p.val, "run_order", 1, 999); ok {
				a.RunOrder = v
			}
		case "inputs":
			a.Inputs = d.artifacts(p.val, "inputs")
		case "outputs":
			a.Outputs = d.artifacts(p.val, "outputs")
			for _, o := range a.Outputs {
				if o.Value == SourceArtifact {
					d.report(o.Pos, RuleArtifact, "outputs: artifact name %q is reserved for the pipeline's source", SourceArtifact)
				}
			}
		case "namespace":
			a.Namespace = d.namespace(p.val)
		case "timeout":
			a.Timeout = d.duration(p.val, "timeout")
		case "retry":
			if a.Provider.Value == ProviderApproval {
				d.report(pos(p.key), RuleUnknownKey, "retry is not allowed on approval actions: a rejection is final")
				continue
			}
			a.Retry = d.retry(p.val)
		case "env":
			a.Env = d.strMap(p.val, "env", envNameRE, "use letters, digits and _, not starting with a digit")
			for _, v := range a.Env {
				d.site(v.Value, scopeAction, a)
			}
		default:
			d.providerKey(a, spec, p)
		}
	}
	d.require(n, ps, "action", "name", "provider")
	if spec != nil {
		d.providerDefaults(a, spec, n, ps)
	}
	if a.Provider.Value == ProviderCodeBuild && a.Timeout.Value > MaxCodeBuildTimeout {
		d.report(a.Timeout.Pos, RuleDuration, "timeout: a codebuild action runs at most 36h (2160m), CodeBuild's limit")
	}
	if a.Provider.Value == ProviderApproval {
		switch {
		case a.Timeout.Pos.IsZero():
			a.Timeout = Duration{Value: MaxApprovalTimeout}
		case a.Timeout.Value > MaxApprovalTimeout:
			d.report(a.Timeout.Pos, RuleDuration, "timeout: an approval waits at most 7d, CodePipeline's limit")
		}
	}
	return a
}

// provider reads the provider key and returns its spec, nil when unknown.
func (d *decoder) provider(n *yaml.Node) (String, *providerSpec) {
	s, ok := d.strOK(n, "provider")
	if !ok {
		return s, nil
	}
	if s.Value == "source" {
		d.report(s.Pos, RuleProvider, "provider \"source\" is reserved for the implicit Source stage; read the source artifact through inputs: [source]")
		return s, nil
	}
	spec := providerSpecFor(s.Value)
	if spec == nil {
		d.report(s.Pos, RuleProvider, "unknown provider %q; expected one of %s%s", clip(s.Value), strings.Join(providerNames(), ", "), diag.DidYouMean(s.Value, providerNames()))
	}
	return s, spec
}

// providerKey decodes a key that is not common to all actions.
func (d *decoder) providerKey(a *Action, spec *providerSpec, p pair) {
	key := p.key.Value
	if spec == nil {
		// The provider is unknown or missing (already reported): accept any provider's key
		// without checking it rather than bury the real mistake under guesses.
		if all := keysOf(nil); !slices.Contains(all, key) {
			d.unknownKey(p.key, "action", all)
		}
		return
	}
	for _, ks := range spec.keys {
		if ks.name == key {
			if s, ok := d.setting(a, ks, p); ok {
				a.Config = append(a.Config, s)
			}
			return
		}
	}
	d.unknownKeyOf(p.key, "provider "+spec.name, keysOf(spec), keysOf(nil), owners)
}

// providerDefaults checks required provider keys and appends the defaults of the keys not
// written.
func (d *decoder) providerDefaults(a *Action, spec *providerSpec, n *yaml.Node, ps []pair) {
	for _, ks := range spec.keys {
		if ks.required {
			d.require(n, ps, spec.name+" action", ks.name)
		}
		if _, ok := a.Setting(ks.name); !ok && ks.def != nil && d.lookup(ps, ks.name) == nil {
			a.Config = append(a.Config, Setting{Key: String{Value: ks.name}, Value: ks.def})
		}
	}
	d.checkProviderRules(a, n)
}

// artifacts reads a list of artifact names.
func (d *decoder) artifacts(n *yaml.Node, key string) []String {
	list := d.strList(n, key)
	for _, s := range list {
		if !artifactRE.MatchString(s.Value) || len(s.Value) > maxNameLen {
			d.report(s.Pos, RuleValue, "%s: invalid artifact name %q: use letters, digits, _ and -, at most 100 characters", key, clip(s.Value))
		}
	}
	return list
}

// reservedNamespaces are the namespaces stepline fills itself.
var reservedNamespaces = []string{"source", "env", "pipeline", "variables"}

func (d *decoder) namespace(n *yaml.Node) String {
	s, ok := d.strOK(n, "namespace")
	if !ok {
		return s
	}
	switch {
	case slices.Contains(reservedNamespaces, s.Value):
		d.report(s.Pos, RuleVariable, "namespace %q is reserved: stepline fills %s itself", s.Value, strings.Join(reservedNamespaces, ", "))
	case !namespaceRE.MatchString(s.Value) || len(s.Value) > maxNameLen:
		d.report(s.Pos, RuleValue, "invalid namespace %q: use letters, digits, @, _ and -, at most 100 characters", clip(s.Value))
	}
	return s
}

var retryKeys = []string{"max_attempts", "backoff", "factor", "max_backoff"}

func (d *decoder) retry(n *yaml.Node) *Retry {
	n = d.resolve(n)
	if isNull(n) {
		return nil
	}
	ps, ok := d.mapping(n, "retry")
	if !ok {
		return nil
	}
	r := &Retry{Pos: pos(n)}
	for _, p := range ps {
		switch p.key.Value {
		case "max_attempts":
			r.MaxAttempts = d.integer(p.val, "retry.max_attempts", 1, 10)
		case "backoff":
			r.Backoff = d.duration(p.val, "retry.backoff")
		case "factor":
			r.Factor = d.number(p.val, "retry.factor", 1, 10)
		case "max_backoff":
			r.MaxBackoff = d.duration(p.val, "retry.max_backoff")
		default:
			d.unknownKey(p.key, "retry", retryKeys)
		}
	}
	d.require(n, ps, "retry", "max_attempts")
	if r.MaxBackoff.Value > 0 && r.MaxBackoff.Value < r.Backoff.Value {
		d.report(r.MaxBackoff.Pos, RuleDuration, "retry.max_backoff %s is shorter than backoff %s", r.MaxBackoff.Value, r.Backoff.Value)
	}
	return r
}
