package trigger

import (
	"strings"
	"testing"

	"github.com/stepline/stepline/pkg/scm"
)

// fuzzSrc has a trigger of every kind and every filter shape.
const fuzzSrc = `version: 1
pipelines:
  - name: api
    triggers:
      - on: push
        branches: {include: [main, "release/**"], exclude: ["release/old*"]}
        paths: {include: ["services/api/**", "go.{mod,sum}"], exclude: ["**/*.md"]}
      - {on: push, tags: {include: ["v[0-9]*"], exclude: ["*-rc?"]}}
      - {on: pull_request, events: [opened, updated, merged], branches: [main], paths: {exclude: ["docs/**"]}}
      - {on: image, repository: api, tags: [latest, "v*"]}
      - {on: object, bucket: drops, keys: {include: ["in/**"], exclude: ["**/*.tmp"]}}
      - {on: schedule, cron: "rate(1 day)", branch: main}
    environments:
      - {branches: [main], name: prod}
      - {branches: ["release/*"], name: "rel-#{source.branch_slug}"}
    stages: [{name: B, actions: [{name: B, provider: codebuild}]}]
  - name: everything
    triggers: [{on: push}, {on: push, tags: ["**"]}, {on: pull_request, events: [opened, updated, closed, merged]}]
    stages: [{name: B, actions: [{name: B, provider: codebuild}]}]
`

// The object kind comes last so the seeds keep the kinds they were written for.
var fuzzKinds = []string{scm.KindPush, scm.KindTag, scm.KindPullRequest, scm.KindImage, scm.KindPing, "other", scm.KindObject}

// FuzzMatch feeds arbitrary names, paths and messages to a fixed file and checks the
// invariants every decision keeps: deterministic, one line, positioned, and never a run for a
// ping or a deletion.
func FuzzMatch(f *testing.F) {
	f.Add(uint8(0), "main", "", "services/api/x.go\nREADME.md", "Fix", "opened", false, true)
	f.Add(uint8(0), "release/old-1", "", "", "[skip ci]", "", false, true)
	f.Add(uint8(1), "", "v1.0-rc1", "", "Release", "", true, false)
	f.Add(uint8(2), "feature/x", "", "docs/a.md", "x\n\nskip-checks: true", "merged", false, true)
	f.Add(uint8(3), "", "latest", "", "", "", false, false)
	f.Add(uint8(4), "main", "", "", "", "", false, false)
	f.Add(uint8(5), "[", "{", "[\x00\n\xff", "\r\n", "\n", true, true)
	f.Add(uint8(6), "drops", "in/a/b.zip", "", "", "", false, false)
	file := parse(f, fuzzSrc)
	f.Fuzz(func(t *testing.T, kind uint8, branch, tag, files, msg, action string, deleted, complete bool) {
		ev := scm.Event{
			Provider: scm.GitHub, Kind: fuzzKinds[int(kind)%len(fuzzKinds)],
			Repository: scm.Repository{FullName: "api"},
			Ref:        scm.BranchRef(branch), Branch: branch, Tag: tag,
			After: headSHA, Deleted: deleted,
			Commits:      []scm.Commit{{ID: headSHA, Message: msg}},
			ChangedFiles: scm.Files(strings.Split(files, "\n")), FilesComplete: complete,
		}
		if ev.Kind == scm.KindObject {
			ev.Object = &scm.Object{Bucket: branch, Key: tag}
		}
		if ev.Kind == scm.KindPullRequest {
			ev.PullRequest = &scm.PullRequest{Number: 1, Action: action, SourceBranch: branch, TargetBranch: tag, HeadSHA: headSHA}
		}
		ds := MatchFile(file, ev)
		again := MatchFile(file, ev)
		if len(ds) != len(file.Pipelines) {
			t.Fatalf("%d decisions for %d pipelines", len(ds), len(file.Pipelines))
		}
		for i, d := range ds {
			if d != again[i] {
				t.Fatalf("not deterministic: %+v then %+v", d, again[i])
			}
			p := file.Pipelines[i]
			if d.Run && (ev.Kind == scm.KindPing || ev.Deleted) {
				t.Fatalf("a ping or deletion runs %s: %+v", p.Name.Value, d)
			}
			if d.Run && (d.Trigger < 0 || d.On == "" || d.Pos != p.Triggers[d.Trigger].Pos) {
				t.Fatalf("a run without its trigger: %+v", d)
			}
			if d.Trigger >= len(p.Triggers) || (d.Trigger < 0 && d.Pos != p.Pos) || d.Pos.IsZero() {
				t.Fatalf("bad trigger or position: %+v", d)
			}
			if line := Format(".stepline.yml", d); d.Reason == "" || strings.ContainsAny(line, "\r\n") {
				t.Fatalf("explanation is not one line: %q", line)
			}
		}
	})
}
