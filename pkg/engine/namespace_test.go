package engine

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An action's exported variables are kept with its state; the namespaces read them merged
// with those the run was created with, the action's winning, as the source action's exports
// do over the trigger's source variables.
func TestNamespacesMergeWhatTheRunWasCreatedWithAndWhatActionsExported(t *testing.T) {
	t.Parallel()
	r := newRun(t, buildDeploy(ModeParallel), RunInfo{Variables: map[string]map[string]string{"source": {"branch": "main", "commit_id": "seed"}}})
	r.advance()
	r.succeed("Source", "Source", "commit_id", "abc")
	r.succeed("Build", "Test")
	r.succeed("Build", "Compile", "VERSION", "1.2.3")

	st := r.st
	assert.Equal(t, map[string]string{"branch": "main", "commit_id": "abc"}, st.Namespace("source"))
	assert.Equal(t, map[string]string{"VERSION": "1.2.3"}, st.Namespace("build"))
	assert.Equal(t, map[string]string{"branch": "main", "commit_id": "seed"}, st.Vars["source"], "the seed is left as it was")
	v, ok := st.Variable("source", "commit_id")
	assert.True(t, ok)
	assert.Equal(t, "abc", v)
	_, ok = st.Variable("build", "NONE")
	assert.False(t, ok)
	all := st.Namespaces()
	assert.Equal(t, map[string]map[string]string{
		"source":   {"branch": "main", "commit_id": "abc"},
		"build":    {"VERSION": "1.2.3"},
		"pipeline": {"name": "app", "execution_id": "r1", "run_number": "0"},
	}, all)
	all["extra"] = map[string]string{}
	assert.NotContains(t, st.Vars, "extra", "Namespaces returns a new map")

	d := r.succeed("Build", "Package")
	require.Len(t, d.Start, 1)
	assert.Equal(t, "/srv/1.2.3/main", d.Start[0].Config["path"], "an action's settings read the action namespaces")
}

// A state written before actions kept their exported variables holds them in its map of
// namespaces and has no index of action namespaces: it still decodes, resolves and reads the
// same, and an action exporting again overrides what it holds.
func TestAStateOfThePreviousVersionStillResolves(t *testing.T) {
	t.Parallel()
	def := sourced(ModeParallel,
		Stage{Name: "Build", Actions: []Action{act("Compile", "codebuild", in("source"), ns("build"))}},
		Stage{Name: "Deploy", OnFailure: FailurePolicy{Result: Retry, Scope: AllActions}, Actions: []Action{
			act("Stack", "cloudformation", ns("stack")),
			act("Release", "local", order(2), cfg("path", "/srv/#{build.VERSION}/#{stack.URL}/#{source.branch}")),
		}},
	)
	// The record a run of the previous version wrote: Stack has exported, Release not started.
	old := `{"v":1,"run":"r1","p":"app","s":"IN_PROGRESS","t0":1,"i":2,"g":[` +
		`{"s":"SUCCEEDED","a":[{"s":"SUCCEEDED","n":1,"try":1}]},` +
		`{"s":"SUCCEEDED","a":[{"s":"SUCCEEDED","n":1,"try":1}]},` +
		`{"s":"IN_PROGRESS","a":[{"s":"SUCCEEDED","n":1,"try":1},{}]}],` +
		`"vars":{"pipeline":{"name":"app","execution_id":"r1","run_number":"0"},"source":{"branch":"main","commit_id":"abc"},` +
		`"build":{"VERSION":"1.0.0"},"stack":{"URL":"old.example"}},"a":{"source":"loc:source:r1"}}`
	st, err := Unmarshal([]byte(old))
	require.NoError(t, err)
	assert.Nil(t, st.Spaces)
	assert.Equal(t, map[string]string{"VERSION": "1.0.0"}, st.Namespace("build"), "its action namespaces read as before")

	r := &run{t: t, def: def, st: st, now: t0}
	d := r.advance()
	require.Len(t, d.Start, 1)
	assert.Equal(t, "/srv/1.0.0/old.example/main", d.Start[0].Config["path"], "it resolves where the old state kept them")

	// Retried, the stage's actions run again; Stack's new export wins over the old one.
	r.fail("Deploy", "Release", true)
	r.advance(Input{Kind: KindRetry, Stage: "Deploy", All: true})
	r.succeed("Deploy", "Stack", "URL", "v2.example")
	assert.Equal(t, spaces(&def), r.st.Spaces, "its first export indexes the action namespaces")
	assert.Equal(t, "/srv/1.0.0/v2.example/main", r.task("Deploy", "Release").Config["path"])
	assert.Equal(t, map[string]string{"URL": "v2.example"}, r.st.Namespace("stack"))
}

// An action's exported variables outlive its later attempts. A rollback's attempts export
// nothing (they redeploy the previous run's artifacts), so a later action of the stage rolling
// back reads what the stage exported the first time; a retried action's exports are added to
// them, and the state given to Advance keeps the first ones.
func TestExportedVariablesOutliveTheAttemptsThatFollow(t *testing.T) {
	t.Parallel()
	stage := func(p FailurePolicy) Definition {
		return sourced(ModeParallel, Stage{Name: "Deploy", OnFailure: p, Actions: []Action{
			act("Stack", "cloudformation", in("source"), ns("stack")),
			act("Smoke", "codebuild", order(2), in("source"), cfg("url", "#{stack.URL}/#{stack.PATH}")),
		}})
	}
	t.Run("a rollback reads them", func(t *testing.T) {
		r := newRun(t, stage(FailurePolicy{Result: Rollback}), RunInfo{Previous: map[string]string{"source": "old-source"}})
		r.advance()
		r.succeed("Source", "Source")
		r.succeed("Deploy", "Stack", "URL", "app.example", "PATH", "health")
		d := r.fail("Deploy", "Smoke", true)
		require.Equal(t, []string{"Deploy/Stack#2"}, names(d.Start))
		require.True(t, d.Start[0].Rollback)
		d = r.succeed("Deploy", "Stack")
		require.Equal(t, []string{"Deploy/Smoke#2"}, names(d.Start), "the rollback's smoke test starts: %v", r.st.Stages[1].Message)
		assert.Equal(t, "app.example/health", d.Start[0].Config["url"])
	})
	t.Run("a retry adds to them", func(t *testing.T) {
		r := newRun(t, stage(FailurePolicy{Result: Retry, Scope: AllActions}), RunInfo{})
		r.advance()
		r.succeed("Source", "Source")
		r.succeed("Deploy", "Stack", "URL", "app.example", "PATH", "health")
		r.fail("Deploy", "Smoke", true)
		first := r.st
		// The run driver checks that the state given, sharing the stage's first exports, is
		// left as it was.
		d := r.succeed("Deploy", "Stack", "URL", "v2.example")
		require.Equal(t, []string{"Deploy/Smoke#2"}, names(d.Start))
		assert.Equal(t, "v2.example/health", d.Start[0].Config["url"])
		assert.Equal(t, map[string]string{"URL": "app.example", "PATH": "health"}, first.Namespace("stack"))
	})
}

// ActionState holds a map, so it is compared with Equal (the bolt store writes only the
// stages whose actions changed): a change of any field, one added later included, is seen.
func TestActionStateEqualSeesEveryField(t *testing.T) {
	t.Parallel()
	base := ActionState{Vars: map[string]string{"A": "1"}}
	assert.True(t, base.Equal(ActionState{Vars: map[string]string{"A": "1"}}))
	typ := reflect.TypeOf(base)
	for k := range typ.NumField() {
		other := base
		f := reflect.ValueOf(&other).Elem().Field(k)
		switch f.Kind() {
		case reflect.String:
			f.SetString("x")
		case reflect.Int, reflect.Int64:
			f.SetInt(7)
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Map:
			f.Set(reflect.ValueOf(map[string]string{"A": "2"}))
		default:
			t.Fatalf("field %s of kind %s: teach this test and Equal about it", typ.Field(k).Name, f.Kind())
		}
		assert.False(t, base.Equal(other), "a change of %s", typ.Field(k).Name)
	}
}
