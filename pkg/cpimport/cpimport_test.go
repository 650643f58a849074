package cpimport

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/pipeline"
)

// thirdParty is get-pipeline output whose Build stage holds a Jenkins action (line 20) that a
// CodeBuild action needs the output of.
const thirdParty = `{
  "pipeline": {
    "name": "web",
    "pipelineType": "V2",
    "stages": [
      {
        "name": "Source",
        "actions": [
          {
            "name": "Source",
            "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "CodeCommit", "version": "1"},
            "configuration": {"RepositoryName": "web", "BranchName": "main"},
            "outputArtifacts": [{"name": "Src"}]
          }
        ]
      },
      {
        "name": "Build",
        "actions": [
          {
            "name": "Jenkins",
            "actionTypeId": {"category": "Build", "owner": "ThirdParty", "provider": "Jenkins", "version": "1"},
            "configuration": {"ProjectName": "web"},
            "inputArtifacts": [{"name": "Src"}],
            "outputArtifacts": [{"name": "War"}]
          },
          {
            "name": "Lint",
            "actionTypeId": {"category": "Test", "owner": "AWS", "provider": "CodeBuild", "version": "1"},
            "configuration": {"ProjectName": "web-lint"},
            "inputArtifacts": [{"name": "Src"}]
          }
        ]
      },
      {
        "name": "Package",
        "actions": [
          {
            "name": "Bundle",
            "actionTypeId": {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"},
            "configuration": {"ProjectName": "web-bundle"},
            "inputArtifacts": [{"name": "War"}]
          }
        ]
      }
    ]
  },
  "metadata": {"pipelineArn": "arn:aws:codepipeline:us-east-1:111122223333:web"}
}
`

func findings(res *Result, rule string) []string {
	var out []string
	for _, f := range res.Findings {
		if f.Rule == rule {
			out = append(out, f.String())
		}
	}
	return out
}

// An action with no stepline provider is reported at its line and column with its JSON path,
// and written as a comment saying why, where it stood; the file still validates.
func TestAnUnmappableActionIsReportedAtItsLineAndWrittenAsAComment(t *testing.T) {
	t.Parallel()
	res, err := Import("web.json", []byte(thirdParty))
	require.NoError(t, err)
	assert.Contains(t, findings(res, RuleNotImported),
		"web.json:20:11: $.pipeline.stages[1].actions[0]: third-party Build action Jenkins has no stepline provider: run its work from a codebuild action [not-imported]")
	out := string(res.YAML)
	assert.Contains(t, out, "          # not imported (web.json:20:11): third-party Build action Jenkins has no stepline provider")
	assert.Contains(t, out, "          # - name: Jenkins\n")
	assert.Contains(t, out, "          - name: Lint\n            provider: codebuild\n")
	_, err = pipeline.Parse(".stepline.yml", res.YAML)
	require.NoError(t, err)
}

// An action stepline validate would refuse, here a build reading the artifact of the Jenkins
// action that was not imported, is commented out with validate's reason, and so is the stage
// it leaves empty; the original action is then listed as not imported for cost.
func TestAnActionSteplineValidateRefusesIsCommentedOutWithTheReason(t *testing.T) {
	t.Parallel()
	res, err := Import("web.json", []byte(thirdParty))
	require.NoError(t, err)
	assert.Contains(t, findings(res, RuleNotImported),
		`web.json:38:11: $.pipeline.stages[2].actions[0]: stepline validate: input "War" is not produced by any action [not-imported]`)
	out := string(res.YAML)
	assert.Contains(t, out, "      # not imported (web.json:35:7): nothing in it could be imported\n      # - name: Package\n")
	assert.Contains(t, out, "          # - name: Bundle\n")
	require.Len(t, res.Origins, 1)
	var bundle OriginAction
	for _, a := range res.Origins[0].Actions {
		if a.Name == "Package/Bundle" {
			bundle = a
		}
	}
	assert.Equal(t, OriginAction{Name: "Package/Bundle", Category: "Build", Owner: "AWS", Provider: "CodeBuild"}, bundle)
}

// The file keeps where it came from under x-codepipeline, and ReadOrigins reads back what
// Import returned.
func TestTheImportedFileKeepsItsOrigins(t *testing.T) {
	t.Parallel()
	for _, path := range inputs(t) {
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		res, err := Import(path, data)
		require.NoError(t, err)
		back, err := ReadOrigins(res.YAML)
		require.NoError(t, err)
		assert.Equal(t, res.Origins, back, path)
	}
	none, err := ReadOrigins([]byte("version: 1\npipelines: []\n"))
	require.NoError(t, err)
	assert.Empty(t, none)
}

// The same pipeline written as get-pipeline JSON and as a CloudFormation YAML resource
// imports to the same stages.
func TestJSONAndCloudFormationYAMLImportAlike(t *testing.T) {
	t.Parallel()
	yml := `Parameters:
  Repo: {Type: String, Default: web}
Resources:
  Pipeline:
    Type: AWS::CodePipeline::Pipeline
    Properties:
      Name: web
      PipelineType: V2
      Stages:
        - Name: Source
          Actions:
            - Name: Source
              ActionTypeId: {Category: Source, Owner: AWS, Provider: CodeCommit, Version: "1"}
              Configuration: {RepositoryName: !Ref Repo, BranchName: main}
              OutputArtifacts: [{Name: Src}]
        - Name: Build
          Actions:
            - Name: Jenkins
              ActionTypeId: {Category: Build, Owner: ThirdParty, Provider: Jenkins, Version: "1"}
              Configuration: {ProjectName: web}
              InputArtifacts: [{Name: Src}]
              OutputArtifacts: [{Name: War}]
            - Name: Lint
              ActionTypeId: {Category: Test, Owner: AWS, Provider: CodeBuild, Version: "1"}
              Configuration: {ProjectName: web-lint}
              InputArtifacts: [{Name: Src}]
        - Name: Package
          Actions:
            - Name: Bundle
              ActionTypeId: {Category: Build, Owner: AWS, Provider: CodeBuild, Version: "1"}
              Configuration: {ProjectName: web-bundle}
              InputArtifacts: [{Name: War}]
`
	fromJSON, err := Import("web.json", []byte(thirdParty))
	require.NoError(t, err)
	fromYAML, err := Import("web.yml", []byte(yml))
	require.NoError(t, err)
	stages := func(r *Result) string {
		s := string(r.YAML)
		return s[strings.Index(s, "    stages:"):]
	}
	positions := strings.NewReplacer("web.json:20:11", "web.yml:18:15", "web.json:35:7", "web.yml:27:11", "web.json:38:11", "web.yml:29:15")
	assert.Equal(t, positions.Replace(stages(fromJSON)), stages(fromYAML))
	assert.Contains(t, findings(fromYAML, RuleNotImported),
		"web.yml:18:15: $.Resources.Pipeline.Properties.Stages[1].Actions[0]: third-party Build action Jenkins has no stepline provider: run its work from a codebuild action [not-imported]")
}

func TestWhatIsNotACodePipelineDefinitionIsRefused(t *testing.T) {
	t.Parallel()
	for name, in := range map[string]string{
		"a pipeline file":               "version: 1\npipelines: []\n",
		"a template without a pipeline": `{"Resources": {"B": {"Type": "AWS::S3::Bucket"}}}`,
		"a list":                        "[1, 2]",
	} {
		_, err := Import("in", []byte(in))
		assert.True(t, errors.Is(err, ErrNotCodePipeline), "%s: %v", name, err)
	}
	_, err := Import("in", []byte("{\"pipeline\": "))
	assert.ErrorContains(t, err, "cannot read the file as JSON or YAML")
	_, err = Import("in", nil)
	assert.ErrorContains(t, err, "empty")
}

// A pipeline none of whose actions maps cannot be written (stepline needs a stage), so the
// import fails with the findings saying why.
func TestAPipelineWithNothingToImportFails(t *testing.T) {
	t.Parallel()
	in := `{"pipeline": {"name": "x", "stages": [
  {"name": "Source", "actions": [{"name": "S", "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "CodeCommit", "version": "1"},
    "configuration": {"RepositoryName": "x", "BranchName": "main"}, "outputArtifacts": [{"name": "A"}]}]},
  {"name": "Build", "actions": [{"name": "J", "actionTypeId": {"category": "Build", "owner": "ThirdParty", "provider": "Jenkins", "version": "1"}}]}]}}`
	res, err := Import("x.json", []byte(in))
	require.ErrorIs(t, err, ErrNothingImported)
	assert.Len(t, findings(res, RuleNotImported), 1)
	assert.Nil(t, res.YAML)
}
