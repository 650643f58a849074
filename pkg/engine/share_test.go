package engine

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
)

// sameMap reports whether two maps are one map, not equal copies.
func sameMap[M ~map[K]V, K comparable, V any](a, b M) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

// TestACallCopiesOnlyWhatItChanges pins what makes a call's cost independent of the run's
// size (issue 11 point 12): the state Advance returns shares with the one it was given every
// part the call did not change, and the run driver (helpers_test.go) checks on every call
// that the given one is left as it was.
func TestACallCopiesOnlyWhatItChanges(t *testing.T) {
	t.Parallel()
	r := newRun(t, buildDeploy(ModeParallel), RunInfo{Variables: map[string]map[string]string{"source": {"branch": "main"}}})
	r.advance()
	r.succeed("Source", "Source", "commit_id", "abc")

	before := r.st
	r.succeed("Build", "Test")
	after := r.st
	assert.True(t, sameMap(before.Vars, after.Vars), "a result without variables leaves the namespaces shared")
	assert.True(t, sameMap(before.Artifacts, after.Artifacts), "a result without outputs leaves the artifacts shared")
	assert.Same(t, &before.Stages[0].Actions[0], &after.Stages[0].Actions[0], "a stage the call did not touch keeps its actions")
	assert.NotSame(t, &before.Stages[1].Actions[0], &after.Stages[1].Actions[0], "the stage of the result is a copy")

	before = r.st
	r.advance(r.task("Build", "Test").Succeeded(nil, nil))
	assert.Len(t, r.last.Ignored, 1)
	assert.Same(t, &before.Stages[0], &r.st.Stages[0], "a call that changes nothing copies no stage")

	before = r.st
	r.succeed("Build", "Compile", "VERSION", "1.2.3")
	after = r.st
	assert.True(t, sameMap(before.Vars, after.Vars), "an action's exports leave the namespaces the run was created with shared")
	assert.True(t, sameMap(before.Spaces, after.Spaces), "and the index of action namespaces")
	assert.Same(t, &before.Stages[0].Actions[0], &after.Stages[0].Actions[0], "and the other stages")
	assert.Equal(t, map[string]string{"VERSION": "1.2.3"}, after.Stages[1].Actions[1].Vars, "they are kept with the action's state")
	assert.Equal(t, map[string]string{"VERSION": "1.2.3"}, after.Namespace("build"))
	assert.Nil(t, before.Namespace("build"))
	assert.False(t, sameMap(before.Artifacts, after.Artifacts), "an output copies the map of artifacts")
	assert.Equal(t, "loc:bin:r1", after.Artifacts["bin"])
	assert.Empty(t, before.Artifacts["bin"])
}
