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

// An imported pipeline's original is priced as CodePipeline bills it: V2 by the minute of
// every action but approvals and custom actions, each with the minutes of the stepline action
// it became (or of its category), V1 by the active month.
func TestTheOriginalOfAnImportedPipelineIsPricedAsCodePipelineBillsIt(t *testing.T) {
	t.Parallel()
	e := Estimate{Total: 0.001, Actions: []Action{
		{Name: "Source/Source", Minutes: 0.25}, {Name: "Build/Image", Minutes: 7.5}, {Name: "Deploy/Service", Minutes: 10},
	}}
	original := Original{Name: "api", Type: "V2", Actions: []OriginalAction{
		{Name: "Source/Repo", Category: "Source", Owner: "AWS", Stepline: "Source/Source"},
		{Name: "Source/Image", Category: "Source", Owner: "AWS", Stepline: "trigger"},
		{Name: "Build/Image", Category: "Build", Owner: "AWS", Stepline: "Build/Image"},
		{Name: "Build/Jenkins", Category: "Build", Owner: "ThirdParty"},
		{Name: "Test/Grid", Category: "Test", Owner: "Custom"},
		{Name: "Deploy/Approve", Category: "Approval", Owner: "AWS", Stepline: "Deploy/Approve"},
		{Name: "Deploy/Service", Category: "Deploy", Owner: "AWS", Stepline: "Deploy/Service"},
	}}
	got := e.Priced(original)
	// 1 + 1 + 8 + 5 (a build's default) + 10; the approval and the custom action are free.
	assert.Equal(t, 25, got.Minutes)
	assert.InDelta(t, 25*CodePipelineMinuteUSD, got.PerRunUSD, 1e-12)
	assert.InDelta(t, got.PerRunUSD/e.Total, got.Times, 1e-9)

	original.Type = "V1"
	got = e.Priced(original)
	assert.Equal(t, 0, got.Minutes)
	assert.InDelta(t, 1.00, got.PerMonthUSD, 1e-12)
	assert.InDelta(t, 1000, got.SteplineRuns, 1e-9)
}
