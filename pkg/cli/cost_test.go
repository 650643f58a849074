package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCostPricesTheExamplePipeline(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	code := Main(context.Background(), []string{"cost", "-f", "../../examples/ecs-service/.stepline.yml", "--minutes", "Staging/Service=12", "--json"}, IO{Out: &out, Err: &errOut})
	require.Equal(t, ExitOK, code, errOut.String())
	var all []struct {
		Pipeline     string  `json:"pipeline"`
		Transitions  int     `json:"transitions"`
		CodePipeline float64 `json:"codepipeline_v2_usd"`
		Cheaper      float64 `json:"times_cheaper"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &all))
	require.Len(t, all, 1)
	assert.Equal(t, 18, all[0].Transitions)
	// Source 1, Image 5, Staging 12, the approval nothing, Production 10.
	assert.InDelta(t, (1+5+12+10)*0.002, all[0].CodePipeline, 1e-9)
	assert.Greater(t, all[0].Cheaper, 30.0)
}

// cost prices what the state machine can run: a pipeline with a local deploy is named, with
// the actions that keep it off AWS, and not priced; a file with nothing to price fails.
func TestCostPricesOnlyWhatRunsOnAWS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "two.yml")
	require.NoError(t, os.WriteFile(file, []byte(`version: 1
pipelines:
  - name: cloud
    stages:
      - name: Deploy
        actions:
          - {name: Site, provider: s3, bucket: site, inputs: [source]}
  - name: laptop
    stages:
      - name: Deploy
        actions:
          - {name: Site, provider: local, path: site, inputs: [source]}
`), 0o644))
	var out, errOut bytes.Buffer
	code := Main(context.Background(), []string{"cost", "-f", file}, IO{Out: &out, Err: &errOut})
	require.Equal(t, ExitOK, code, errOut.String())
	assert.Contains(t, out.String(), "pipeline cloud, one run:")
	assert.NotContains(t, out.String(), "laptop")
	assert.Contains(t, errOut.String(), "pipeline laptop is not priced: it cannot run on AWS (Deploy/Site (local) run only with stepline run)")

	out.Reset()
	errOut.Reset()
	code = Main(context.Background(), []string{"cost", "-f", "../../examples/hello/.stepline.yml"}, IO{Out: &out, Err: &errOut})
	assert.Equal(t, ExitFailed, code)
	assert.Contains(t, errOut.String(), "pipeline hello is not priced")
	assert.Contains(t, errOut.String(), "has no pipeline that runs on AWS")
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
