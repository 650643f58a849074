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

func TestObjectTriggers(t *testing.T) {
	t.Parallel()
	zips := `{on: object, bucket: drops, keys: {include: ["releases/**/*.zip"], exclude: ["**/tmp/**"]}}`
	runCases(t, []matchCase{
		{name: "an object of the bucket with an included key runs", triggers: []string{zips},
			ev: object("drops", "releases/1.0/app.zip"), run: true, at: "#0",
			reason: `bucket "drops"; object key "releases/1.0/app.zip" matches "releases/**/*.zip"`},
		{name: "an excluded key does not run", triggers: []string{zips},
			ev: object("drops", "releases/tmp/app.zip"), at: `"**/tmp/**"`,
			reason: `object key "releases/tmp/app.zip" is excluded by "**/tmp/**"`},
		{name: "a key not included does not run", triggers: []string{zips},
			ev: object("drops", "releases/notes.txt"), at: `"releases/**/*.zip"`,
			reason: `object key "releases/notes.txt" is not included by [releases/**/*.zip]`},
		{name: "keys are matched as paths: one star stays in its folder", triggers: []string{`{on: object, bucket: drops, keys: ["in/*"]}`},
			ev: object("drops", "in/a/b"), at: `"in/*"`,
			reason: `object key "in/a/b" is not included by [in/*]`},
		{name: "an object of another bucket does not run", triggers: []string{zips},
			ev: object("other", "releases/1.0/app.zip"), at: "drops",
			reason: `bucket "other" is not "drops"`},
		{name: "an object trigger without keys runs for every key", triggers: []string{`{on: object, bucket: drops}`},
			ev: object("drops", "anything at all"), run: true, at: "#0",
			reason: `bucket "drops"; object key "anything at all" (no keys filter)`},
		{name: "a failing key filter explains better than another bucket", triggers: []string{`{on: object, bucket: other}`, zips},
			ev: object("drops", "x.txt"), at: `"releases/**/*.zip"`, trigger: 1,
			reason: `object key "x.txt" is not included by [releases/**/*.zip]`},
		{name: "an object trigger does not listen to image pushes", triggers: []string{zips},
			ev: image("drops", "latest"), trigger: -1,
			reason: "no trigger listens to image pushes (the pipeline's triggers: object)"},
		{name: "an image trigger does not listen to object creations", triggers: []string{`{on: image, repository: drops}`},
			ev: object("drops", "x"), trigger: -1,
			reason: "no trigger listens to object creations (the pipeline's triggers: image)"},
		{name: "a push trigger does not listen to object creations", triggers: []string{`{on: push}`},
			ev: object("drops", "x"), trigger: -1,
			reason: "no trigger listens to object creations (the pipeline's triggers: push)"},
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
