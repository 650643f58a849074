package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCostPricesTheExamplePipeline(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	code := Main(context.Background(), []string{"cost", "-f", "../../examples/hello/.stepline.yml", "--minutes", "Build/Test=12", "--json"}, IO{Out: &out, Err: &errOut})
	require.Equal(t, ExitOK, code, errOut.String())
	var all []struct {
		Pipeline     string  `json:"pipeline"`
		Transitions  int     `json:"transitions"`
		CodePipeline float64 `json:"codepipeline_v2_usd"`
		Cheaper      float64 `json:"times_cheaper"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &all))
	require.Len(t, all, 1)
	assert.Equal(t, 25, all[0].Transitions)
	assert.InDelta(t, (1+5+12+5+1+1)*0.002, all[0].CodePipeline, 1e-9)
	assert.Greater(t, all[0].Cheaper, 30.0)
}

func TestCostRefusesAMalformedDuration(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	code := Main(context.Background(), []string{"cost", "-f", "../../examples/hello/.stepline.yml", "--minutes", "Test=soon"}, IO{Out: &out, Err: &errOut})
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut.String(), "ACTION=N")
}

func TestRunOnAWSNeedsABucketAndAProject(t *testing.T) {
	t.Parallel()
	r := newRepo(t, map[string]string{".stepline.yml": "version: 1\npipelines:\n  - name: a\n    stages:\n      - name: B\n        actions:\n          - {name: B, provider: codebuild}\n"})
	res := r.stepline("", "run", "--aws", "--bucket", "artifacts")
	assert.Equal(t, ExitUsage, res.code)
	assert.Contains(t, res.err, "--aws needs --bucket (for artifacts) and --project")
}
