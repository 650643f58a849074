package statemachine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/pipeline"
	"github.com/stepline/stepline/pkg/statemachine/asltest"
)

// stateLimit is Step Functions' quota on a state's input and output: 256 KiB of UTF-8
// (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html); a state over it
// fails with States.DataLimitExceeded, which no Catch catches.
const stateLimit = 262_144

// widestWave is a pipeline whose one stage starts pipeline.MaxWave builds at once, each as
// a monorepo's service build is written: its own buildspec, an output, a namespace, a
// timeout and a handful of environment variables (which CodeBuild echoes in its Build).
func widestWave() string {
	var b strings.Builder
	b.WriteString("version: 1\npipelines:\n  - name: monorepo-services\n    stages:\n      - name: Test\n        actions:\n")
	for i := range pipeline.MaxWave {
		fmt.Fprintf(&b, "          - {name: Service%02d, provider: codebuild, buildspec: services/service-%02d/buildspec.yml, inputs: [source], "+
			"outputs: [svc%02d], namespace: svc%02d, timeout: 45m, env: {SERVICE: service-%02d, GOFLAGS: -mod=readonly, "+
			"AWS_REGION: us-east-1, CACHE_BUCKET: acme-build-cache, TEST_SHARD: \"%d\"}}\n", i, i, i, i, i, i)
	}
	return b.String()
}

// largestState is the largest state input or output the interpreter logged, in bytes of
// compact JSON as Step Functions counts them, and the state it belongs to.
func largestState(t *testing.T, ex asltest.Execution) (int, string) {
	t.Helper()
	size, at := 0, ""
	for _, ev := range ex.Events {
		st, _ := ev["state"].(map[string]any)
		for _, key := range []string{"input", "output"} {
			v, ok := st[key]
			if !ok {
				continue
			}
			var b bytes.Buffer
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false)
			require.NoError(t, enc.Encode(v))
			if n := b.Len() - 1; n > size {
				size, at = n, fmt.Sprintf("%s %s", st["name"], key)
			}
		}
	}
	return size, at
}

// TestTheWidestWaveStaysUnderHalfTheStateLimit runs the widest wave the pipeline file allows
// through the real ASL file, with CodeBuild answering real-shaped Build objects (buildOf):
// every build succeeding, every build failing (the Build as the error's cause, untrimmed), and
// half of each. The largest state passed between states stays under half of the 256 KB limit.
func TestTheWidestWaveStaysUnderHalfTheStateLimit(t *testing.T) {
	for _, c := range []struct {
		name   string
		failed func(n int) bool
		status engine.Status
	}{
		{"every build succeeds", func(int) bool { return false }, engine.Succeeded},
		{"every build fails", func(int) bool { return true }, engine.Failed},
		{"every other build fails", func(n int) bool { return n%2 == 1 }, engine.Failed},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t, widestWave())
			h := w.handlers()
			build := func(in json.RawMessage) (any, error) {
				var req startBuild
				require.NoError(t, json.Unmarshal(in, &req))
				var n int
				_, err := fmt.Sscanf(req.Buildspec, "services/service-%02d/buildspec.yml", &n)
				require.NoError(t, err)
				b := buildOf(t, in, n, c.failed(n))
				if c.failed(n) {
					cause, err := json.Marshal(map[string]any{"Build": b})
					require.NoError(t, err)
					return nil, asltest.NamedError{Name: "States.TaskFailed", Msg: string(cause)}
				}
				return map[string]any{"Build": b}, nil
			}
			h["CodeBuild"], h["MapCodeBuild"] = build, build
			ex := asltest.Interpret(t, w.start("mono-1", 1), h)

			rec, err := w.db.GetRun(context.Background(), "mono-1")
			require.NoError(t, err)
			require.Equal(t, c.status, rec.State.Status, "%s: %s", ex.Error, ex.Cause)
			started := 0
			for _, name := range ex.Entered {
				if name == "MapCodeBuild" {
					started++
				}
			}
			require.Equal(t, pipeline.MaxWave, started, "one wave of the widest width")
			for _, a := range rec.State.Stages[1].Actions {
				if a.Status == engine.Failed {
					assert.Regexp(t, `^build stepline-build:[0-9a-f-]+ ended FAILED$`, a.Message, "Advance reads the failed build from its cause")
				}
			}
			if c.status == engine.Succeeded {
				assert.Equal(t, "1.4.3", rec.State.Namespace("svc03")["VERSION"], "Advance reads the exported variables")
			}

			size, at := largestState(t, ex)
			t.Logf("%d builds, %s: the largest state is %s, %d bytes (%.0f%% of the limit)", pipeline.MaxWave, c.name, at, size, 100*float64(size)/stateLimit)
			assert.Less(t, size, stateLimit/2, "the largest state (%s) is under half of Step Functions' 256 KB", at)
			assert.Greater(t, size, pipeline.MaxWave*4_000, "not vacuous: the wave's builds are in the measured state")
		})
	}
}
