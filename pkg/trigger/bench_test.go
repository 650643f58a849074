package trigger

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkMatch decides a ten-pipeline monorepo file for a push of 50 files, the work the
// trigger function does per event once the file is parsed.
func BenchmarkMatch(b *testing.B) {
	var src strings.Builder
	src.WriteString("version: 1\npipelines:\n")
	for i := range 10 {
		fmt.Fprintf(&src, `  - name: svc%d
    triggers:
      - on: push
        branches: {include: [main, "release/**"], exclude: ["release/old*"]}
        paths: {include: ["services/svc%d/**", "libs/**"], exclude: ["**/*.md"]}
      - {on: push, tags: ["v*"]}
      - {on: pull_request, branches: [main], paths: ["services/svc%d/**"]}
    environments:
      - {branches: [main], name: prod}
      - {branches: ["**"], name: "br-#{source.branch_slug}"}
    stages: [{name: B, actions: [{name: B, provider: codebuild}]}]
`, i, i, i)
	}
	file := parse(b, src.String())
	var files []string
	for i := range 50 {
		files = append(files, fmt.Sprintf("services/svc9/pkg%d/file.go", i))
	}
	ev := push("main", files...)
	b.ReportAllocs()
	for b.Loop() {
		ds := MatchFile(file, ev)
		if !ds[9].Run || ds[0].Run {
			b.Fatalf("unexpected decisions: %+v", ds)
		}
	}
}
