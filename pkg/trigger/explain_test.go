package trigger

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/scm"
)

// explainSrc is the documented example's trigger block, for lines a reader can check by eye.
const explainSrc = `version: 1
pipelines:
  - name: api
    triggers:
      - on: push
        branches: {include: [main, "release/**"], exclude: ["release/old*"]}
        paths: {include: ["services/api/**"]}
    environments:
      - branches: [main]
        name: prod
    stages: [{name: B, actions: [{name: B, provider: codebuild}]}]
  - name: web
    triggers:
      - {on: push, branches: [main]}
    environments:
      - {branches: ["**"], name: "br-#{source.branch_slug}"}
    stages: [{name: B, actions: [{name: B, provider: codebuild}]}]
`

func TestExplain(t *testing.T) {
	t.Parallel()
	f := parse(t, explainSrc)
	cases := []struct {
		name string
		ev   scm.Event
		want string
	}{
		{"a run names the trigger, every passing filter and the environment",
			push("main", "services/api/x.go"),
			`api: runs — push trigger #1 (.stepline.yml:5:9): branch "main" matches "main"; path "services/api/x.go" matches "services/api/**"; environment prod
web: runs — push trigger #1 (.stepline.yml:14:9): branch "main" matches "main"; environment br-#{source.branch_slug}
`},
		{"a miss names the exact pattern and its position",
			push("release/old-1", "services/api/x.go"),
			`api: does not run — push trigger #1 (.stepline.yml:6:61): branch "release/old-1" is excluded by "release/old*"
web: does not run — push trigger #1 (.stepline.yml:14:31): branch "release/old-1" is not included by [main]
`},
		{"a rule about the event points at the pipeline",
			scm.Event{Kind: scm.KindPing},
			`api: does not run — .stepline.yml:3:5: a ping starts nothing
web: does not run — .stepline.yml:12:5: a ping starts nothing
`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var b bytes.Buffer
			require.NoError(t, Explain(&b, ".stepline.yml", MatchFile(f, c.ev)))
			assert.Equal(t, c.want, b.String())
		})
	}
}

func TestFormatWithoutPosition(t *testing.T) {
	t.Parallel()
	d := Decision{Pipeline: "api", Trigger: -1, Reason: "a ping starts nothing"}
	assert.Equal(t, "api: does not run — .stepline.yml: a ping starts nothing", Format(".stepline.yml", d))
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestExplainReportsWriteErrors(t *testing.T) {
	t.Parallel()
	err := Explain(failingWriter{}, "f", []Decision{{Pipeline: "api"}})
	assert.ErrorContains(t, err, "explain api: disk full")
}

func TestDecisionJSON(t *testing.T) {
	t.Parallel()
	ds := MatchFile(parse(t, explainSrc), push("main", "services/api/x.go"))
	data, err := json.Marshal(ds[0])
	require.NoError(t, err)
	assert.JSONEq(t, `{"pipeline":"api","run":true,"trigger":0,"on":"push","pos":{"line":5,"col":9},
		"reason":"branch \"main\" matches \"main\"; path \"services/api/x.go\" matches \"services/api/**\"",
		"environment":"prod"}`, string(data))
	var back Decision
	require.NoError(t, json.Unmarshal(data, &back))
	assert.Equal(t, ds[0], back)

	miss, err := json.Marshal(Match(parse(t, explainSrc).Pipelines[0], scm.Event{Kind: scm.KindPing}))
	require.NoError(t, err)
	assert.JSONEq(t, `{"pipeline":"api","run":false,"trigger":-1,"pos":{"line":3,"col":5},"reason":"a ping starts nothing"}`, string(miss))
}
