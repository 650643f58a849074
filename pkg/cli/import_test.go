package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const importData = "../cpimport/testdata/"

// Each definition of cpimport's testdata imports to a file that stepline validate finds clean
// and stepline cost prices, next to the CodePipeline price of the pipeline it came from: V2
// by the action minute (with each action's stepline minutes, approvals free), V1 by the month.
func TestImportedDefinitionsRoundTripThroughValidateAndCost(t *testing.T) {
	t.Parallel()
	for input, want := range map[string]struct {
		typ     string
		minutes int
	}{
		// Source 1, Image 5, UnitTests 5, Staging 10, the approval 0, Production 10.
		"v2-github-ecs.json": {"V2", 31},
		// The CodeCommit source 1, the ECR source (a trigger, priced as a source) 1, the
		// blue/green deploy 10, the Lambda invoke 1.
		"v2-ecr-bluegreen.json": {"V2", 13},
		// Source 1, Hugo 5, the S3 upload 1, the Lambda invoke 1.
		"cfn-static-site.yml": {"V2", 8},
		// The S3 source (a trigger) 1, the stack 5, the Step Functions invoke (not imported:
		// an Invoke's 1), the approval 0, the stack deletion 5.
		"cfn-sam-pipeline.json":        {"V2", 12},
		"v1-codecommit-changeset.json": {"V1", 0},
		"v1-third-party.json":          {"V1", 0},
	} {
		t.Run(input, func(t *testing.T) {
			t.Parallel()
			file := filepath.Join(t.TempDir(), ".stepline.yml")
			res := call("import", importData+input, "-o", file)
			require.Equal(t, ExitOK, res.code, res.err)
			assert.Empty(t, res.out)
			assert.Contains(t, res.err, "imported ")

			res = call("validate", "-f", file)
			require.Equal(t, ExitOK, res.code, res.out+res.err)
			assert.Contains(t, res.out, file+": valid (1 pipeline")

			res = call("cost", "-f", file, "--json")
			require.Equal(t, ExitOK, res.code, res.err)
			var all []struct {
				Total    float64 `json:"total_usd"`
				Original *struct {
					Type         string  `json:"type"`
					Minutes      int     `json:"minutes"`
					PerRunUSD    float64 `json:"per_run_usd"`
					PerMonthUSD  float64 `json:"per_month_usd"`
					SteplineRuns float64 `json:"stepline_runs_per_month_price"`
				} `json:"codepipeline_original"`
			}
			require.NoError(t, json.Unmarshal([]byte(res.out), &all))
			require.Len(t, all, 1)
			o := all[0].Original
			require.NotNil(t, o, "cost does not price the imported pipeline's original")
			assert.Equal(t, want.typ, o.Type)
			assert.Equal(t, want.minutes, o.Minutes)
			if want.typ == "V2" {
				assert.InDelta(t, float64(want.minutes)*0.002, o.PerRunUSD, 1e-9)
			} else {
				assert.InDelta(t, 1.00, o.PerMonthUSD, 1e-9)
				assert.InDelta(t, 1.00/all[0].Total, o.SteplineRuns, 1e-6)
			}
		})
	}
}

func TestCostPrintsTheOriginalNextToStepline(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, in := range []string{"v2-github-ecs.json", "v1-codecommit-changeset.json"} {
		file := filepath.Join(dir, in+".yml")
		require.Equal(t, ExitOK, call("import", importData+in, "-o", file).code)
		res := call("cost", "-f", file)
		require.Equal(t, ExitOK, res.code, res.err)
		if in == "v2-github-ecs.json" {
			assert.Regexp(t, `imported from CodePipeline V2 pipeline orders-api: 31 action minutes, \$0\.062000 a run  \(\d+× stepline\)`, res.out)
		} else {
			assert.Regexp(t, `imported from CodePipeline V1 pipeline billing-sam: \$1\.00 a month with a run, whatever the number of runs  \(the price of \d+ stepline runs\)`, res.out)
		}
	}
	// A file that was not imported prices stepline alone.
	res := call("cost", "-f", "../../examples/ecs-service/.stepline.yml")
	require.Equal(t, ExitOK, res.code, res.err)
	assert.NotContains(t, res.out, "imported from")
}

// What could not be imported is listed on standard error with its line, column and JSON path;
// the file goes to standard output when no -o is given.
func TestImportListsWhatItCouldNotImportWithItsLine(t *testing.T) {
	t.Parallel()
	res := call("import", importData+"v1-third-party.json")
	require.Equal(t, ExitOK, res.code, res.err)
	assert.Contains(t, res.err, importData+"v1-third-party.json:42:21: $.pipeline.stages[1].actions[0]: third-party Build action Jenkins has no stepline provider: run its work from a codebuild action [not-imported]\n")
	assert.Contains(t, res.err, "imported legacy-web to standard output: 3 of 7 actions; 5 not imported, 2 changed")
	assert.Contains(t, res.out, "# not imported ("+importData+"v1-third-party.json:42:21): third-party Build action Jenkins")
	assert.Contains(t, res.out, "version: 1\n")
}

func TestImportNeverOverwritesAFile(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), ".stepline.yml")
	require.NoError(t, os.WriteFile(file, []byte("mine\n"), 0o644))
	res := call("import", importData+"v2-github-ecs.json", "-o", file)
	assert.Equal(t, ExitUsage, res.code)
	assert.Contains(t, res.err, "exists: stepline import does not overwrite files")
	got, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Equal(t, "mine\n", string(got))
}

func TestImportRefusesWhatIsNotACodePipeline(t *testing.T) {
	t.Parallel()
	res := call("import", "../../examples/ecs-service/.stepline.yml")
	assert.Equal(t, ExitUsage, res.code)
	assert.Contains(t, res.err, "no CodePipeline definition")

	res = call("import", filepath.Join(t.TempDir(), "missing.json"))
	assert.Equal(t, ExitUsage, res.code)

	nothing := filepath.Join(t.TempDir(), "jenkins.json")
	require.NoError(t, os.WriteFile(nothing, []byte(`{"pipeline": {"name": "x", "stages": [
  {"name": "Build", "actions": [{"name": "J", "actionTypeId": {"category": "Build", "owner": "ThirdParty", "provider": "Jenkins", "version": "1"}}]}]}}`), 0o644))
	res = call("import", nothing)
	assert.Equal(t, ExitFailed, res.code)
	assert.Contains(t, res.err, "jenkins.json:2:33: $.pipeline.stages[0].actions[0]: third-party Build action Jenkins")
	assert.Contains(t, res.err, "nothing could be imported")
}
