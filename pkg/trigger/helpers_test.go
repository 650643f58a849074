package trigger

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/pipeline"
	"github.com/stepline/stepline/pkg/scm"
)

const (
	headSHA   = "1111111111111111111111111111111111111111"
	parentSHA = "2222222222222222222222222222222222222222"
)

// pipelineYAML builds a file whose one pipeline, api, has the given triggers, one flow mapping
// per line from line 5, column 9 (trigger i is at 5+i:9), and the environments prod for main
// and "br-#{source.branch_slug}" for every other branch. The pipeline is at 3:5.
func pipelineYAML(triggers ...string) string {
	var b strings.Builder
	b.WriteString("version: 1\npipelines:\n  - name: api\n")
	if len(triggers) > 0 {
		b.WriteString("    triggers:\n")
		for _, t := range triggers {
			b.WriteString("      - " + t + "\n")
		}
	}
	b.WriteString(`    environments:
      - {branches: [main], name: prod}
      - {branches: ["**"], name: "br-#{source.branch_slug}"}
    stages:
      - name: Build
        actions:
          - {name: Build, provider: codebuild, inputs: [source]}
`)
	return b.String()
}

// parse parses src through pipeline.Parse, so that positions are the parser's own.
func parse(t testing.TB, src string) *pipeline.File {
	t.Helper()
	f, err := pipeline.Parse(".stepline.yml", []byte(src))
	require.NoError(t, err, "%s", src)
	return f
}

// posOf returns the position of the first occurrence of needle in src (ASCII only).
func posOf(t testing.TB, src, needle string) pipeline.Pos {
	t.Helper()
	i := strings.Index(src, needle)
	require.GreaterOrEqual(t, i, 0, "%q is not in the file", needle)
	line := strings.Count(src[:i], "\n") + 1
	col := i - strings.LastIndex(src[:i], "\n")
	return pipeline.Pos{Line: line, Col: col}
}

var pipelinePos = pipeline.Pos{Line: 3, Col: 5}

func triggerPos(i int) pipeline.Pos { return pipeline.Pos{Line: 5 + i, Col: 9} }

// matchCase is one event against one pipeline built from triggers.
type matchCase struct {
	name     string
	triggers []string
	ev       scm.Event
	run      bool
	// trigger is the expected Decision.Trigger.
	trigger int
	// at says where Decision.Pos must point: "" the pipeline, "#N" trigger N, else the first
	// occurrence of this text in the file.
	at     string
	reason string
}

func runCases(t *testing.T, cases []matchCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			src := pipelineYAML(c.triggers...)
			d := Match(parse(t, src).Pipelines[0], c.ev)
			assert.Equal(t, c.run, d.Run, "run; reason: %s", d.Reason)
			assert.Equal(t, c.trigger, d.Trigger, "trigger")
			assert.Equal(t, c.reason, d.Reason)
			var want pipeline.Pos
			switch {
			case c.at == "":
				want = pipelinePos
			case strings.HasPrefix(c.at, "#") && len(c.at) == 2:
				want = triggerPos(int(c.at[1] - '0'))
			default:
				want = posOf(t, src, c.at)
			}
			assert.Equal(t, want, d.Pos, "position")
		})
	}
}

// push is a push of one commit to branch, changing files (a complete list).
func push(branch string, files ...string) scm.Event {
	return scm.Event{
		Provider:      scm.GitHub,
		Kind:          scm.KindPush,
		Delivery:      "d-1",
		Repository:    scm.Repository{FullName: "acme/api", DefaultBranch: "main"},
		Ref:           scm.BranchRef(branch),
		Branch:        branch,
		Before:        parentSHA,
		After:         headSHA,
		Commits:       []scm.Commit{{ID: headSHA, Message: "Change things"}},
		ChangedFiles:  files,
		FilesComplete: true,
		Sender:        "octocat",
	}
}

// tagPush is a new tag; providers list no files for it.
func tagPush(tag string) scm.Event {
	return scm.Event{
		Provider:   scm.GitHub,
		Kind:       scm.KindTag,
		Repository: scm.Repository{FullName: "acme/api", DefaultBranch: "main"},
		Ref:        scm.TagRef(tag),
		Tag:        tag,
		Before:     scm.ZeroSHA,
		After:      headSHA,
		Created:    true,
	}
}

// pr is a pull request event from source into target, changing files (a complete list).
func pr(action, source, target string, files ...string) scm.Event {
	return scm.Event{
		Provider:      scm.GitHub,
		Kind:          scm.KindPullRequest,
		Repository:    scm.Repository{FullName: "acme/api", DefaultBranch: "main"},
		Ref:           scm.BranchRef(source),
		Branch:        source,
		After:         headSHA,
		ChangedFiles:  files,
		FilesComplete: true,
		PullRequest: &scm.PullRequest{
			Number: 7, Action: action, SourceBranch: source, TargetBranch: target, HeadSHA: headSHA,
		},
	}
}

// image is an ECR image push of repo:tag.
func image(repo, tag string) scm.Event {
	return scm.Event{Provider: scm.ECR, Kind: scm.KindImage, Repository: scm.Repository{FullName: repo}, Tag: tag}
}

// object is an S3 object creation of bucket/key.
func object(bucket, key string) scm.Event {
	return scm.Event{Provider: scm.S3, Kind: scm.KindObject, Object: &scm.Object{Bucket: bucket, Key: key, Size: 1}}
}

// with returns ev changed by f.
func with(ev scm.Event, f func(*scm.Event)) scm.Event {
	f(&ev)
	return ev
}
