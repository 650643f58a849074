package trigger

import (
	"testing"

	"github.com/stepline/stepline/pkg/scm"
)

func TestPathsFilter(t *testing.T) {
	t.Parallel()
	api := `{on: push, paths: {include: ["services/api/**", "go.mod"], exclude: ["**/*.md", "services/api/testdata/**"]}}`
	docs := `{on: push, paths: {exclude: ["docs/**"]}}`
	incomplete := func(ev scm.Event) scm.Event {
		return with(ev, func(e *scm.Event) { e.FilesComplete = false })
	}
	runCases(t, []matchCase{
		{name: "one included file among excluded ones runs", triggers: []string{api},
			ev: push("main", "services/api/README.md", "services/api/main.go"), run: true, at: "#0",
			reason: `branch "main" (no branches filter); path "services/api/main.go" matches "services/api/**"`},
		{name: "the first passing file names the reason", triggers: []string{api},
			ev: push("main", "go.mod", "services/api/main.go"), run: true, at: "#0",
			reason: `branch "main" (no branches filter); path "go.mod" matches "go.mod"`},
		{name: "one excluded file does not run", triggers: []string{api},
			ev: push("main", "services/api/README.md"), at: `"**/*.md"`,
			reason: `path "services/api/README.md" is excluded by "**/*.md"`},
		{name: "all files excluded do not run", triggers: []string{api},
			ev: push("main", "services/api/testdata/a.json", "services/api/x.md"), at: `"services/api/testdata/**"`,
			reason: `all 2 changed files are excluded, e.g. path "services/api/testdata/a.json" by "services/api/testdata/**"`},
		{name: "one file not included does not run", triggers: []string{api},
			ev: push("main", "web/index.js"), at: `"services/api/**"`,
			reason: `path "web/index.js" is not included by [services/api/**, go.mod]`},
		{name: "no file included does not run", triggers: []string{api},
			ev: push("main", "web/a.js", "web/b.js"), at: `"services/api/**"`,
			reason: `none of the 2 changed files is included by [services/api/**, go.mod], e.g. path "web/a.js"`},
		{name: "files excluded or not included do not run", triggers: []string{api},
			ev: push("main", "README.md", "web/a.js"), at: `"**/*.md"`,
			reason: `none of the 2 changed files passes the paths filter: 1 excluded, e.g. path "README.md" by "**/*.md"; 1 not included by [services/api/**, go.mod], e.g. path "web/a.js"`},
		{name: "an empty commit does not run", triggers: []string{api},
			ev: push("main"), at: "{include: [\"services",
			reason: "no file changed, so none passes the paths filter"},
		{name: "an empty commit does not pass an exclude-only filter", triggers: []string{docs},
			ev: push("main"), at: "{exclude",
			reason: "no file changed, so none passes the paths filter"},
		{name: "a file outside the excludes passes an exclude-only filter", triggers: []string{docs},
			ev: push("main", "docs/a.md", "main.go"), run: true, at: "#0",
			reason: `branch "main" (no branches filter); path "main.go" is not excluded by [docs/**]`},
		{name: "only excluded files fail an exclude-only filter", triggers: []string{docs},
			ev: push("main", "docs/a.md"), at: `"docs/**"`,
			reason: `path "docs/a.md" is excluded by "docs/**"`},
		{name: "an incomplete list is assumed to match", triggers: []string{api},
			ev: incomplete(push("main", "web/index.js")), run: true, at: "#0",
			reason: `branch "main" (no branches filter); file list incomplete: paths filter assumed to match`},
		{name: "an incomplete empty list is assumed to match", triggers: []string{api},
			ev: incomplete(push("main")), run: true, at: "#0",
			reason: `branch "main" (no branches filter); file list incomplete: paths filter assumed to match`},
		{name: "** crosses directories in paths", triggers: []string{`{on: push, paths: ["**/*.go"]}`},
			ev: push("main", "a/b/c/d.go"), run: true, at: "#0",
			reason: `branch "main" (no branches filter); path "a/b/c/d.go" matches "**/*.go"`},
		{name: "* does not cross directories in paths", triggers: []string{`{on: push, paths: ["*.go"]}`},
			ev: push("main", "a/b.go"), at: `"*.go"`,
			reason: `path "a/b.go" is not included by [*.go]`},
		{name: "the branch filter is checked before paths", triggers: []string{`{on: push, branches: [main], paths: ["src/**"]}`},
			ev: push("dev", "docs/x"), at: "main]",
			reason: `branch "dev" is not included by [main]`},
	})
}
