package cost

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/pipeline"
)

func definitionOf(t *testing.T, path string) *pipeline.File {
	t.Helper()
	src, err := os.ReadFile(path)
	require.NoError(t, err)
	f, err := pipeline.Parse(path, src)
	require.NoError(t, err)
	return f
}

// examples/ecs-service is the example that runs on AWS (examples/hello deploys to local
// directories, which only stepline run does).
const awsExample = "../../examples/ecs-service/.stepline.yml"

func TestTheExamplePipelineIsCheapOnStepline(t *testing.T) {
	t.Parallel()
	f := definitionOf(t, awsExample)
	p, err := f.Pipeline("")
	require.NoError(t, err)
	e, err := Of(p.Definition(), nil)
	require.NoError(t, err)
	assert.LessOrEqual(t, e.Transitions, 25, "issue 4's target")
	assert.GreaterOrEqual(t, e.Cheaper, 30.0, "at least 30 times cheaper than CodePipeline V2")
	assert.InDelta(t, e.StepFunctions+e.Lambda, e.Total, 1e-12)
}

func TestMinutesOverrideByStageAndActionOrByAction(t *testing.T) {
	t.Parallel()
	f := definitionOf(t, awsExample)
	p, _ := f.Pipeline("")
	base, err := Of(p.Definition(), nil)
	require.NoError(t, err)
	longer, err := Of(p.Definition(), map[string]float64{"Staging/Service": 12.5, "Image": 0.2})
	require.NoError(t, err)
	// Staging/Service: 10 → 13 billed minutes (Production/Service keeps 10); Image: 5 → 1.
	assert.InDelta(t, base.CodePipeline+(13-10+1-5)*CodePipelineMinuteUSD, longer.CodePipeline, 1e-12)
	assert.Equal(t, base.Transitions, longer.Transitions, "durations do not change transitions")
}

func TestAnOverrideOfAnActionThatDoesNotExistIsAnError(t *testing.T) {
	t.Parallel()
	f := definitionOf(t, awsExample)
	p, _ := f.Pipeline("")
	_, err := Of(p.Definition(), map[string]float64{"Build/Tset": 3})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Build/Tset")
}

func TestApprovalsAreNotChargedByCodePipeline(t *testing.T) {
	t.Parallel()
	f := definitionOf(t, awsExample)
	p, _ := f.Pipeline("")
	e, err := Of(p.Definition(), nil)
	require.NoError(t, err)
	found := false
	for _, a := range e.Actions {
		if a.Name == "Approve/Promote" {
			found = true
			assert.Zero(t, a.CodePipelineMinutes)
		}
	}
	assert.True(t, found)
}

// A pipeline the state machine cannot run (a local deploy) has no price on AWS: it used to be
// priced as if its local deploys were AWS deploys.
func TestAPipelineThatCannotRunOnAWSIsNotPriced(t *testing.T) {
	t.Parallel()
	f := definitionOf(t, "../../examples/hello/.stepline.yml")
	p, _ := f.Pipeline("")
	_, err := Of(p.Definition(), nil)
	assert.ErrorContains(t, err, "pipeline hello cannot run on AWS: Deploy-Staging/Release: provider local deploys to a directory")
}
