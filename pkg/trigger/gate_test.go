package trigger

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/scm"
	"github.com/stepline/stepline/pkg/scm/bitbucketserver"
)

// everything listens to every branch push, tag, pull request and image of api, so that only
// the rules about the event itself can stop a run.
var everything = []string{
	"{on: push}",
	"{on: push, tags: [\"**\"]}",
	"{on: pull_request, events: [opened, updated, closed, merged]}",
	"{on: image, repository: api}",
}

func message(ev scm.Event, msg string) scm.Event {
	return with(ev, func(e *scm.Event) { e.Commits = []scm.Commit{{ID: e.Head(), Message: msg}} })
}

func TestEventRules(t *testing.T) {
	t.Parallel()
	runCases(t, []matchCase{
		{name: "a ping starts nothing", triggers: everything,
			ev: scm.Event{Provider: scm.GitHub, Kind: scm.KindPing}, trigger: -1,
			reason: "a ping starts nothing"},
		{name: "an unknown event kind starts nothing", triggers: everything,
			ev: with(push("main"), func(e *scm.Event) { e.Kind = "release" }), trigger: -1,
			reason: `event kind "release" starts nothing`},
		{name: "a deleted branch starts nothing", triggers: everything,
			ev: with(push("feature/x"), func(e *scm.Event) {
				e.Deleted, e.After, e.Commits = true, scm.ZeroSHA, nil
			}), trigger: -1,
			reason: `branch "feature/x" was deleted: a deletion starts nothing`},
		{name: "a deleted tag starts nothing", triggers: everything,
			ev: with(tagPush("v1.0"), func(e *scm.Event) {
				e.Created, e.Deleted, e.Before, e.After = false, true, headSHA, scm.ZeroSHA
			}), trigger: -1,
			reason: `tag "v1.0" was deleted: a deletion starts nothing`},
		{name: "a deletion flag wins even when a head commit is named", triggers: everything,
			ev: with(push("main"), func(e *scm.Event) { e.Deleted = true }), trigger: -1,
			reason: `branch "main" was deleted: a deletion starts nothing`},
		{name: "a created branch runs", triggers: everything,
			ev: with(push("feature/new"), func(e *scm.Event) {
				e.Created, e.Before, e.ChangedFiles, e.FilesComplete = true, scm.ZeroSHA, nil, false
			}), run: true, at: "#0",
			reason: `branch "feature/new" (no branches filter)`},
		{name: "an event without a head commit starts nothing", triggers: everything,
			ev: with(push("feature/x"), func(e *scm.Event) { e.After, e.Commits = "", nil }), trigger: -1,
			reason: `branch "feature/x" names no head commit to build`},
		{name: "an all-zero head counts as no head commit", triggers: everything,
			ev: with(push("feature/x"), func(e *scm.Event) { e.After = scm.ZeroSHA }), trigger: -1,
			reason: `branch "feature/x" names no head commit to build`},
		{name: "a pull request without a head commit starts nothing", triggers: everything,
			ev: with(pr("opened", "f", "main"), func(e *scm.Event) { e.After, e.PullRequest.HeadSHA = "", "" }), trigger: -1,
			reason: `pull request #7 names no head commit to build`},
		{name: "an image needs no commit", triggers: everything,
			ev: image("api", "latest"), run: true, trigger: 3, at: "#3",
			reason: `image repository "api"; image tag "latest" (no tags filter)`},
		{name: "a deleted image starts nothing", triggers: everything,
			ev: with(image("api", "latest"), func(e *scm.Event) { e.Deleted = true }), trigger: -1,
			reason: `image "api:latest" was deleted: a deletion starts nothing`},
	})
}

func TestSkipMarkers(t *testing.T) {
	t.Parallel()
	var cases []matchCase
	for _, m := range []struct{ written, canonical string }{
		{"[skip ci]", "[skip ci]"},
		{"[ci skip]", "[ci skip]"},
		{"[no ci]", "[no ci]"},
		{"[skip stepline]", "[skip stepline]"},
		{"[stepline skip]", "[stepline skip]"},
		{"[SKIP CI]", "[skip ci]"},
		{"[Ci Skip]", "[ci skip]"},
		{"[No CI]", "[no ci]"},
		{"[Skip Stepline]", "[skip stepline]"},
		{"[STEPLINE SKIP]", "[stepline skip]"},
	} {
		cases = append(cases, matchCase{
			name:     "the marker " + m.written + " in the head commit message skips the push",
			triggers: everything, trigger: -1,
			ev:     message(push("main"), "Fix typo "+m.written+"\n\nMore words."),
			reason: `head commit message contains "` + m.canonical + `"`,
		})
	}
	trailer := `head commit message ends with the trailer "skip-checks: true"`
	cases = append(cases,
		matchCase{name: "the skip-checks trailer with a space skips", triggers: everything, trigger: -1,
			ev: message(push("main"), "Fix typo\n\n\nskip-checks: true"), reason: trailer},
		matchCase{name: "the skip-checks trailer without a space skips", triggers: everything, trigger: -1,
			ev: message(push("main"), "Fix typo\n\nSigned-off-by: A <a@example.com>\nskip-checks:true\n"), reason: trailer},
		matchCase{name: "the skip-checks trailer that is not the last line does not skip", triggers: everything,
			ev:  message(push("main"), "Fix typo\n\nskip-checks: true\nSigned-off-by: A <a@example.com>"),
			run: true, at: "#0", reason: `branch "main" (no branches filter)`},
		matchCase{name: "skip-checks false does not skip", triggers: everything,
			ev:  message(push("main"), "Fix typo\n\nskip-checks: false"),
			run: true, at: "#0", reason: `branch "main" (no branches filter)`},
		matchCase{name: "a marker without brackets does not skip", triggers: everything,
			ev:  message(push("main"), "skip ci for now"),
			run: true, at: "#0", reason: `branch "main" (no branches filter)`},
		matchCase{name: "a marker in a commit other than the head does not skip", triggers: everything,
			ev: with(push("main"), func(e *scm.Event) {
				e.Commits = []scm.Commit{{ID: parentSHA, Message: "WIP [skip ci]"}, {ID: headSHA, Message: "Finish"}}
			}),
			run: true, at: "#0", reason: `branch "main" (no branches filter)`},
		matchCase{name: "a marker in the head commit of a pull request skips it", triggers: everything, trigger: -1,
			ev:     message(pr("updated", "f", "main"), "WIP [ci skip]"),
			reason: `head commit message contains "[ci skip]"`},
		matchCase{name: "a pull request whose event carries no commits cannot be skipped", triggers: everything,
			ev: pr("updated", "f", "main"), run: true, trigger: 2, at: "#2",
			reason: `action "updated" is one of [opened, updated, closed, merged]; target branch "main" (no branches filter)`},
		matchCase{name: "a marker on the tagged commit skips the tag push", triggers: everything, trigger: -1,
			ev:     message(tagPush("v1"), "Release [skip ci]"),
			reason: `head commit message contains "[skip ci]"`},
	)
	runCases(t, cases)
}

func TestSkipMarkerIgnoresEmptyMessages(t *testing.T) {
	t.Parallel()
	for _, msg := range []string{"", "\n", "   ", "skip-checks:", "skip-checks: truee"} {
		assert.Empty(t, skipMarker(msg), "%q", msg)
	}
	assert.NotEmpty(t, skipMarker(strings.Repeat("x", 1000)+"[no ci]"))
}

// TestADataCenterPushSaysSkipInItsHeadCommit feeds the trigger what the Data Center parser
// makes of a documented 9.x/10.x push whose head commit says [skip ci]: the payload's commits
// reach the skip markers as GitHub's and Bitbucket Cloud's do.
func TestADataCenterPushSaysSkipInItsHeadCommit(t *testing.T) {
	t.Parallel()
	body, err := os.ReadFile("../scm/bitbucketserver/testdata/extra/dc10-repo-refs-changed-skip-ci.json")
	require.NoError(t, err)
	evs, err := bitbucketserver.Parse("repo:refs_changed", "d-1", body)
	require.NoError(t, err)
	require.Len(t, evs, 1)
	d := Match(parse(t, pipelineYAML(everything...)).Pipelines[0], evs[0])
	assert.False(t, d.Run)
	assert.Equal(t, `head commit message contains "[skip ci]"`, d.Reason)
}
