package trigger

import (
	"testing"

	"github.com/stepline/stepline/pkg/scm"
)

func TestPullRequestTriggers(t *testing.T) {
	t.Parallel()
	defaults := `{on: pull_request, branches: [main]}`
	closing := `{on: pull_request, events: [closed, merged]}`
	withPaths := `{on: pull_request, branches: [main], paths: {include: ["api/**"], exclude: ["**/*.md"]}}`
	runCases(t, []matchCase{
		{name: "an opened pull request runs by default", triggers: []string{defaults},
			ev: pr("opened", "feature/x", "main"), run: true, at: "#0",
			reason: `action "opened" is one of [opened, updated]; target branch "main" matches "main"`},
		{name: "an updated pull request runs by default", triggers: []string{defaults},
			ev: pr("updated", "feature/x", "main"), run: true, at: "#0",
			reason: `action "updated" is one of [opened, updated]; target branch "main" matches "main"`},
		{name: "a closed pull request does not run by default", triggers: []string{defaults},
			ev: pr("closed", "feature/x", "main"), at: "#0",
			reason: `pull request action "closed" is not one of [opened, updated] (the default events)`},
		{name: "a merged pull request does not run by default", triggers: []string{defaults},
			ev: pr("merged", "feature/x", "main"), at: "#0",
			reason: `pull request action "merged" is not one of [opened, updated] (the default events)`},
		{name: "a listed merged event runs", triggers: []string{closing},
			ev: pr("merged", "feature/x", "main"), run: true, at: "#0",
			reason: `action "merged" is one of [closed, merged]; target branch "main" (no branches filter)`},
		{name: "an event not listed points at the events", triggers: []string{closing},
			ev: pr("opened", "feature/x", "main"), at: "closed,",
			reason: `pull request action "opened" is not one of [closed, merged]`},
		{name: "the target branch is filtered", triggers: []string{defaults},
			ev: pr("opened", "main", "develop"), at: "main]}",
			reason: `target branch "develop" is not included by [main]`},
		{name: "the source branch does not matter", triggers: []string{defaults},
			ev: pr("opened", "release/whatever", "main"), run: true, at: "#0",
			reason: `action "opened" is one of [opened, updated]; target branch "main" matches "main"`},
		{name: "a pull request touching included paths runs", triggers: []string{withPaths},
			ev: pr("opened", "f", "main", "README.md", "api/x.go"), run: true, at: "#0",
			reason: `action "opened" is one of [opened, updated]; target branch "main" matches "main"; path "api/x.go" matches "api/**"`},
		{name: "a pull request touching only excluded paths does not run", triggers: []string{withPaths},
			ev: pr("opened", "f", "main", "api/README.md"), at: `"**/*.md"`,
			reason: `path "api/README.md" is excluded by "**/*.md"`},
		{name: "a pull request with an incomplete file list runs", triggers: []string{withPaths},
			ev: with(pr("opened", "f", "main"), func(e *scm.Event) { e.FilesComplete = false }), run: true, at: "#0",
			reason: `action "opened" is one of [opened, updated]; target branch "main" matches "main"; file list incomplete: paths filter assumed to match`},
		{name: "a push trigger does not listen to pull requests", triggers: []string{`{on: push}`},
			ev: pr("opened", "f", "main"), trigger: -1,
			reason: "no trigger listens to pull requests (the pipeline's triggers: push)"},
		{name: "a pull request trigger does not listen to pushes", triggers: []string{defaults},
			ev: push("main"), trigger: -1,
			reason: "no trigger listens to branch pushes (the pipeline's triggers: pull_request)"},
	})
}

func TestImageTriggers(t *testing.T) {
	t.Parallel()
	latest := `{on: image, repository: team/api, tags: {include: [latest, "v*"], exclude: ["*-dev"]}}`
	runCases(t, []matchCase{
		{name: "an image of the repository with an included tag runs", triggers: []string{latest},
			ev: image("team/api", "latest"), run: true, at: "#0",
			reason: `image repository "team/api"; image tag "latest" matches "latest"`},
		{name: "an excluded image tag does not run", triggers: []string{latest},
			ev: image("team/api", "v1-dev"), at: `"*-dev"`,
			reason: `image tag "v1-dev" is excluded by "*-dev"`},
		{name: "an image tag not included does not run", triggers: []string{latest},
			ev: image("team/api", "sha-abc"), at: "latest,",
			reason: `image tag "sha-abc" is not included by [latest, v*]`},
		{name: "an image of another repository does not run", triggers: []string{latest},
			ev: image("team/web", "latest"), at: "team/api",
			reason: `image repository "team/web" is not "team/api"`},
		{name: "the repository is a name, not a glob", triggers: []string{`{on: image, repository: "team/*"}`},
			ev: image("team/api", "latest"), at: `"team/*"`,
			reason: `image repository "team/api" is not "team/*"`},
		{name: "an untagged image does not pass a tags filter, even a catch-all one", triggers: []string{`{on: image, repository: api, tags: ["**"]}`},
			ev: image("api", ""), at: `["**"]`,
			reason: `the image was pushed without a tag, and the trigger filters tags`},
		{name: "an untagged image does not pass an exclude-only tags filter", triggers: []string{`{on: image, repository: api, tags: {exclude: ["*-dev"]}}`},
			ev: image("api", ""), at: `{exclude`,
			reason: `the image was pushed without a tag, and the trigger filters tags`},
		{name: "an untagged image runs a trigger without tags", triggers: []string{`{on: image, repository: api}`},
			ev: image("api", ""), run: true, at: "#0",
			reason: `image repository "api"; image tag "" (no tags filter)`},
		{name: "an image trigger without tags runs for every tag", triggers: []string{`{on: image, repository: api}`},
			ev: image("api", "anything"), run: true, at: "#0",
			reason: `image repository "api"; image tag "anything" (no tags filter)`},
		{name: "a push trigger does not listen to images", triggers: []string{`{on: push, tags: ["**"]}`},
			ev: image("api", "latest"), trigger: -1,
			reason: "no trigger listens to image pushes (the pipeline's triggers: push)"},
	})
}

func TestScheduleTriggers(t *testing.T) {
	t.Parallel()
	nightly := `{on: schedule, cron: "cron(0 3 * * ? *)", branch: main}`
	runCases(t, []matchCase{
		{name: "a schedule trigger does not listen to branch pushes", triggers: []string{nightly},
			ev: push("main"), trigger: -1,
			reason: "no trigger listens to branch pushes (the pipeline's triggers: schedule)"},
		{name: "a schedule trigger does not listen to pull requests", triggers: []string{nightly},
			ev: pr("opened", "f", "main"), trigger: -1,
			reason: "no trigger listens to pull requests (the pipeline's triggers: schedule)"},
		{name: "a schedule trigger does not stop a push trigger after it", triggers: []string{nightly, `{on: push}`},
			ev: push("main"), run: true, trigger: 1, at: "#1",
			reason: `branch "main" (no branches filter)`},
	})
}
