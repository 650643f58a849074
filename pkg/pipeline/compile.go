package pipeline

import (
	"maps"

	"github.com/stepline/stepline/pkg/engine"
)

// Definition compiles the pipeline into the engine's position-free form. It prepends the
// implicit Source stage, fills defaults (execution mode, run_order, provider keys, approval
// timeout), adds the artifacts named by "artifact::path" keys to the action's inputs, and keeps
// #{…} references as written: the engine resolves them when an action starts.
//
// Call it only on a pipeline of a file that Parse accepted; on a file with problems the result
// is best effort.
func (p *Pipeline) Definition() engine.Definition {
	def := engine.Definition{
		Pipeline: p.Name.Value,
		Mode:     engine.Mode(p.ExecutionMode.Value),
		Stages: []engine.Stage{{
			Name: SourceStage,
			Actions: []engine.Action{{
				Name:      SourceAction,
				Provider:  engine.ProviderSource,
				Outputs:   []string{SourceArtifact},
				Namespace: SourceNamespace,
			}},
		}},
	}
	if def.Mode == "" {
		def.Mode = engine.ModeSuperseded
	}
	for _, st := range p.Stages {
		es := engine.Stage{Name: st.Name.Value, Actions: []engine.Action{}}
		if of := st.OnFailure; of != nil {
			es.OnFailure = engine.FailurePolicy{
				Result:   engine.FailureResult(of.Result.Value),
				Attempts: of.Attempts.Value,
				Scope:    engine.RetryScope(of.Scope.Value),
			}
		}
		for _, a := range st.Actions {
			es.Actions = append(es.Actions, a.definition())
		}
		def.Stages = append(def.Stages, es)
	}
	for _, n := range p.Notifications {
		for _, t := range n.Targets {
			def.Notifications = append(def.Notifications, engine.Notification{Events: values(n.Events),
				Target: engine.NotificationTarget{Kind: t.Kind.Value, TopicARN: t.Topic.Value, SecretID: t.Secret.Value}})
		}
	}
	return def
}

func (a *Action) definition() engine.Action {
	ea := engine.Action{
		Name:      a.Name.Value,
		Provider:  a.Provider.Value,
		RunOrder:  max(a.RunOrder.Value, 1),
		Inputs:    values(a.Inputs),
		Outputs:   values(a.Outputs),
		Namespace: a.Namespace.Value,
		Timeout:   a.Timeout.Value,
	}
	for _, ref := range a.artifactRefs {
		if !contains(ea.Inputs, ref.Value) {
			ea.Inputs = append(ea.Inputs, ref.Value)
		}
	}
	if r := a.Retry; r != nil {
		ea.Retry = engine.RetryPolicy{
			MaxAttempts: r.MaxAttempts.Value,
			Backoff:     r.Backoff.Value,
			Factor:      r.Factor.Value,
			MaxBackoff:  r.MaxBackoff.Value,
		}
	}
	if len(a.Config) > 0 || len(a.Env) > 0 {
		ea.Config = make(map[string]any, len(a.Config)+1)
		for _, s := range a.Config {
			ea.Config[s.Key.Value] = copyValue(s.Value)
		}
		if len(a.Env) > 0 {
			env := make(map[string]any, len(a.Env))
			for _, v := range a.Env {
				env[v.Name.Value] = v.Value.Value
			}
			ea.Config["env"] = env
		}
	}
	return ea
}

// copyValue copies lists and maps so that a caller editing a Definition cannot change the
// model it came from.
func copyValue(v any) any {
	switch v := v.(type) {
	case []any:
		return append([]any(nil), v...)
	case map[string]any:
		return maps.Clone(v)
	}
	return v
}

func values(list []String) []string {
	if len(list) == 0 {
		return nil
	}
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = s.Value
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
