package trigger

import (
	"testing"

	"github.com/stepline/stepline/pkg/scm"
)

const releases = `{on: push, branches: {include: [main, "release/**"], exclude: ["release/old*"]}}`

func TestPushBranchFilters(t *testing.T) {
	t.Parallel()
	runCases(t, []matchCase{
		{name: "an included branch runs", triggers: []string{releases},
			ev: push("main"), run: true, at: "#0", reason: `branch "main" matches "main"`},
		{name: "a branch matching a ** include runs", triggers: []string{releases},
			ev: push("release/2.0/hotfix"), run: true, at: "#0", reason: `branch "release/2.0/hotfix" matches "release/**"`},
		{name: "an exclude wins over an include", triggers: []string{releases},
			ev: push("release/old-1"), at: `"release/old*"`, reason: `branch "release/old-1" is excluded by "release/old*"`},
		{name: "a branch no include matches does not run", triggers: []string{releases},
			ev: push("feature/x"), at: "main,", reason: `branch "feature/x" is not included by [main, release/**]`},
		{name: "* stays within one segment", triggers: []string{`{on: push, branches: ["release/*"]}`},
			ev: push("release/1/2"), at: `"release/*"`, reason: `branch "release/1/2" is not included by [release/*]`},
		{name: "* matches one segment", triggers: []string{`{on: push, branches: ["release/*"]}`},
			ev: push("release/1"), run: true, at: "#0", reason: `branch "release/1" matches "release/*"`},
		{name: "? matches one character", triggers: []string{`{on: push, branches: ["v?"]}`},
			ev: push("v1"), run: true, at: "#0", reason: `branch "v1" matches "v?"`},
		{name: "? does not match two characters", triggers: []string{`{on: push, branches: ["v?"]}`},
			ev: push("v10"), at: `"v?"`, reason: `branch "v10" is not included by [v?]`},
		{name: "braces match either alternative", triggers: []string{`{on: push, branches: ["{main,develop}"]}`},
			ev: push("develop"), run: true, at: "#0", reason: `branch "develop" matches "{main,develop}"`},
		{name: "braces match nothing else", triggers: []string{`{on: push, branches: ["{main,develop}"]}`},
			ev: push("dev"), at: `"{main,develop}"`, reason: `branch "dev" is not included by ["{main,develop}"]`},
		{name: "matching is case-sensitive", triggers: []string{releases},
			ev: push("Main"), at: "main,", reason: `branch "Main" is not included by [main, release/**]`},
		{name: "an exclude-only filter lets other branches through", triggers: []string{`{on: push, branches: {exclude: ["wip/**"]}}`},
			ev: push("main"), run: true, at: "#0", reason: `branch "main" is not excluded by [wip/**]`},
		{name: "an exclude-only filter stops what it excludes", triggers: []string{`{on: push, branches: {exclude: ["wip/**"]}}`},
			ev: push("wip/a"), at: `"wip/**"`, reason: `branch "wip/a" is excluded by "wip/**"`},
		{name: "a branch taken from the ref when the provider leaves Branch empty", triggers: []string{releases},
			ev: with(push("main"), func(e *scm.Event) { e.Branch = "" }), run: true, at: "#0", reason: `branch "main" matches "main"`},
	})
}

func TestPushBranchesAndTags(t *testing.T) {
	t.Parallel()
	tagsOnly := `{on: push, tags: {include: ["v*"], exclude: ["v*-rc*"]}}`
	branchesOnly := `{on: push, branches: [main]}`
	both := `{on: push, branches: [main], tags: ["v*"]}`
	neither := `{on: push}`
	pathsOnly := `{on: push, paths: ["src/**"]}`
	runCases(t, []matchCase{
		{name: "a tag-only trigger runs for an included tag", triggers: []string{tagsOnly},
			ev: tagPush("v1.2"), run: true, at: "#0", reason: `tag "v1.2" matches "v*"`},
		{name: "a tag-only trigger skips an excluded tag", triggers: []string{tagsOnly},
			ev: tagPush("v1.2-rc1"), at: `"v*-rc*"`, reason: `tag "v1.2-rc1" is excluded by "v*-rc*"`},
		{name: "a tag-only trigger skips a tag it does not include", triggers: []string{tagsOnly},
			ev: tagPush("nightly"), at: `"v*"`, reason: `tag "nightly" is not included by [v*]`},
		{name: "a tag-only trigger ignores branch pushes", triggers: []string{tagsOnly},
			ev: push("main"), at: "{include: [\"v*\"]",
			reason: `branch "main": the trigger has tags but no branches filter, so it listens to tag pushes only`},
		{name: "a branch-only trigger ignores tag pushes", triggers: []string{branchesOnly},
			ev: tagPush("v1"), at: "[main]",
			reason: `tag "v1": the trigger has no tags filter, so it listens to branch pushes only`},
		{name: "a trigger with both runs for an included branch", triggers: []string{both},
			ev: push("main"), run: true, at: "#0", reason: `branch "main" matches "main"`},
		{name: "a trigger with both runs for an included tag", triggers: []string{both},
			ev: tagPush("v2"), run: true, at: "#0", reason: `tag "v2" matches "v*"`},
		{name: "a trigger with both filters branches by branches only", triggers: []string{both},
			ev: push("v2"), at: "main]", reason: `branch "v2" is not included by [main]`},
		{name: "a trigger with both filters tags by tags only", triggers: []string{both},
			ev: tagPush("main"), at: `"v*"`, reason: `tag "main" is not included by [v*]`},
		{name: "a trigger with neither runs for every branch", triggers: []string{neither},
			ev: push("any/thing"), run: true, at: "#0", reason: `branch "any/thing" (no branches filter)`},
		{name: "a trigger with neither ignores tags", triggers: []string{neither},
			ev: tagPush("v1"), at: "#0",
			reason: `tag "v1": the trigger has no tags filter, so it listens to branch pushes only`},
		{name: "a paths-only trigger listens to every branch", triggers: []string{pathsOnly},
			ev: push("feature/x", "src/a.go"), run: true, at: "#0",
			reason: `branch "feature/x" (no branches filter); path "src/a.go" matches "src/**"`},
		{name: "paths do not apply to tag pushes", triggers: []string{`{on: push, tags: ["v*"], paths: ["src/**"]}`},
			ev: tagPush("v1"), run: true, at: "#0", reason: `tag "v1" matches "v*"; paths do not apply to tag pushes`},
	})
}
