package codedeploy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	cdtypes "github.com/aws/aws-sdk-go-v2/service/codedeploy/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/stepline/stepline/pkg/deploy"
	"github.com/stepline/stepline/pkg/deploy/deploytest"
)

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

// Seed 002's taskdef.json is the ECS console's JSON of a task definition with <IMAGE> for the
// image: filled from imageDetail.json it is a RegisterTaskDefinition request carrying every
// field the template sets, and the console-only fields (arn, revision, status) are dropped.
func TestFillTaskDefinitionReadsSeed002(t *testing.T) {
	t.Parallel()
	image, err := ImageURI(read(t, "imageDetail.json"))
	require.NoError(t, err)
	assert.Equal(t, "911362649988.dkr.ecr.ap-northeast-2.amazonaws.com/ecr-hello-aws@sha256:EXAMPLE11223344556677889900bfea42ea2d3b8a1ee8329ba7e68694950afd3", image)
	in, err := FillTaskDefinition(read(t, "taskdef.json"), "IMAGE", image)
	require.NoError(t, err)
	assert.Equal(t, "task-hello-aws", aws.ToString(in.Family))
	assert.Equal(t, "256", aws.ToString(in.Cpu))
	assert.Equal(t, "512", aws.ToString(in.Memory))
	assert.Equal(t, types.NetworkModeAwsvpc, in.NetworkMode)
	assert.Equal(t, []types.Compatibility{types.CompatibilityFargate}, in.RequiresCompatibilities)
	assert.Equal(t, "arn:aws:iam::911362649988:role/ecsTaskExecutionRole", aws.ToString(in.ExecutionRoleArn))
	require.Len(t, in.ContainerDefinitions, 1)
	c := in.ContainerDefinitions[0]
	assert.Equal(t, "hello-aws", aws.ToString(c.Name))
	assert.Equal(t, image, aws.ToString(c.Image))
	assert.Equal(t, int32(8080), aws.ToInt32(c.PortMappings[0].ContainerPort))
	assert.Equal(t, types.LogDriverAwslogs, c.LogConfiguration.LogDriver)
	assert.Equal(t, "/ecs/task-hello-aws", c.LogConfiguration.Options["awslogs-group"])
}

func TestFillTaskDefinitionRefusesWhatCannotBeRegistered(t *testing.T) {
	t.Parallel()
	tmpl := read(t, "taskdef.json")
	for name, c := range map[string]struct {
		tmpl             string
		placeholder, uri string
		msg              string
	}{
		"another placeholder":         {string(tmpl), "IMAGE1_NAME", "r/app:1", "taskdef.json has no placeholder <IMAGE1_NAME> for the image r/app:1"},
		"a placeholder left unfilled": {string(tmpl), "IMAGE", "", "has the placeholder <IMAGE> but the action names no image_details"},
		"not JSON":                    {`{"family":`, "IMAGE", "", "taskdef.json: unexpected end of JSON input"},
		"no containers":               {`{"family":"f"}`, "IMAGE", "", "needs a family and container definitions"},
	} {
		_, err := FillTaskDefinition([]byte(c.tmpl), c.placeholder, c.uri)
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), c.msg, name)
	}
	// An image with characters JSON escapes still makes valid JSON.
	in, err := FillTaskDefinition([]byte(`{"family":"f","containerDefinitions":[{"name":"a","image":"<IMAGE1_NAME>"}]}`), DefaultPlaceholder, `r/a"b`)
	require.NoError(t, err)
	assert.Equal(t, `r/a"b`, aws.ToString(in.ContainerDefinitions[0].Image))
}

func TestImageURIRefusesFilesWithoutOne(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{`{}`, `{"ImageURI":""}`, `[]`, `{"ImageURI":`} {
		_, err := ImageURI([]byte(bad))
		assert.Error(t, err, bad)
	}
}

// The AppSpec of seed 002 gets the registered ARN where it said <TASK_DEFINITION>; the rest
// of it is unchanged, and a JSON AppSpec works too.
func TestSetTaskDefinitionFillsTheAppSpec(t *testing.T) {
	t.Parallel()
	arn := "arn:aws:ecs:ap-northeast-2:911362649988:task-definition/task-hello-aws:2"
	for name, spec := range map[string][]byte{
		"seed 002's appspec.yaml": read(t, "appspec.yaml"),
		"a JSON AppSpec":          []byte(`{"version":0.0,"Resources":[{"TargetService":{"Type":"AWS::ECS::Service","Properties":{"TaskDefinition":"<TASK_DEFINITION>","LoadBalancerInfo":{"ContainerName":"hello-aws","ContainerPort":8080}}}}]}`),
	} {
		out, err := SetTaskDefinition(spec, arn)
		require.NoError(t, err, name)
		var got struct {
			Resources []map[string]struct {
				Type       string `yaml:"Type"`
				Properties struct {
					TaskDefinition   string `yaml:"TaskDefinition"`
					LoadBalancerInfo struct {
						ContainerName string `yaml:"ContainerName"`
						ContainerPort int    `yaml:"ContainerPort"`
					} `yaml:"LoadBalancerInfo"`
				} `yaml:"Properties"`
			} `yaml:"Resources"`
		}
		require.NoError(t, yaml.Unmarshal([]byte(out), &got), name)
		svc := got.Resources[0]["TargetService"]
		assert.Equal(t, "AWS::ECS::Service", svc.Type, name)
		assert.Equal(t, arn, svc.Properties.TaskDefinition, name)
		assert.Equal(t, "hello-aws", svc.Properties.LoadBalancerInfo.ContainerName, name)
		assert.Equal(t, 8080, svc.Properties.LoadBalancerInfo.ContainerPort, name)
	}
	for _, bad := range []string{"version: 0.0\n", "Resources: {}\n", "Resources:\n  - TargetService:\n      Type: AWS::ECS::Service\n", ":\n\t-"} {
		_, err := SetTaskDefinition([]byte(bad), arn)
		assert.Error(t, err, bad)
	}
}

func FuzzSetTaskDefinition(f *testing.F) {
	f.Add([]byte("version: 0.0\nResources:\n  - TargetService:\n      Properties:\n        TaskDefinition: <TASK_DEFINITION>\n"))
	f.Add([]byte(`{"Resources":[{"S":{"Properties":{"TaskDefinition":1}}}]}`))
	f.Fuzz(func(t *testing.T, spec []byte) {
		out, err := SetTaskDefinition(spec, "arn:aws:ecs:r:1:task-definition/f:2")
		if err != nil {
			return
		}
		var again yaml.Node
		if err := yaml.Unmarshal([]byte(out), &again); err != nil {
			t.Fatalf("the filled AppSpec is not YAML: %v\n%s", err, out)
		}
	})
}

// The sample events follow https://docs.aws.amazon.com/codedeploy/latest/userguide/monitoring-cloudwatch-events.html.
func TestMatchReadsTheDocumentedDeploymentEvents(t *testing.T) {
	t.Parallel()
	p := New(nil, nil)
	where := "CodeDeploy deployment d-123456789 to myApplication/myDeploymentGroup"
	cases := map[string]struct {
		key string
		out deploy.Outcome
		ok  bool
	}{
		"deployment-start.json":   {},
		"deployment-ready.json":   {},
		"deployment-success.json": {"d-123456789", deploy.Outcome{Done: true, Succeeded: true, Message: where + " succeeded"}, true},
		"deployment-failure.json": {"d-123456789", deploy.Outcome{Done: true, Message: where + " failed"}, true},
		"deployment-stop.json":    {"d-123456789", deploy.Outcome{Done: true, Message: where + " was stopped"}, true},
	}
	files, err := filepath.Glob(filepath.Join("..", "..", "..", "events", "codedeploy", "*.json"))
	require.NoError(t, err)
	require.Len(t, files, len(cases), "every sample event has a case here")
	for _, path := range files {
		file := filepath.Base(path)
		want, ok := cases[file]
		require.True(t, ok, "no case for %s", file)
		e := deploytest.Event(t, path)
		assert.Equal(t, "aws.codedeploy", e.Source, file)
		key, out, ok := p.Match(e.DetailType, e.Detail)
		assert.Equal(t, want.ok, ok, file)
		assert.Equal(t, want.key, key, file)
		assert.Equal(t, want.out, out, file)
	}
}

func TestMatchFinishesNothingForOtherOrBrokenEvents(t *testing.T) {
	t.Parallel()
	p := New(nil, nil)
	for name, c := range map[string]struct{ detailType, detail string }{
		"an instance event":             {"CodeDeploy Instance State-change Notification", `{"deploymentId":"d-1","state":"SUCCESS"}`},
		"a detail that is not JSON":     {DetailType, `{"state":`},
		"no deployment id":              {DetailType, `{"state":"SUCCESS"}`},
		"a state CodeDeploy may add":    {DetailType, `{"deploymentId":"d-1","state":"BAKING"}`},
		"a deployment id of wrong type": {DetailType, `{"deploymentId":1,"state":"SUCCESS"}`},
	} {
		key, out, ok := p.Match(c.detailType, json.RawMessage(c.detail))
		assert.False(t, ok, name)
		assert.Empty(t, key, name)
		assert.Equal(t, deploy.Outcome{}, out, name)
	}
}

func TestStatusReportsCodeDeploysRollback(t *testing.T) {
	t.Parallel()
	assert.Equal(t, deploy.Outcome{}, Status(&cdtypes.DeploymentInfo{DeploymentId: aws.String("d-1"), Status: cdtypes.DeploymentStatusReady}))
	assert.Equal(t, deploy.Outcome{}, Status(nil))
	got := Status(&cdtypes.DeploymentInfo{DeploymentId: aws.String("d-1"), ApplicationName: aws.String("api"), DeploymentGroupName: aws.String("prod"), Status: cdtypes.DeploymentStatusFailed,
		ErrorInformation: &cdtypes.ErrorInformation{Code: cdtypes.ErrorCodeEcsUpdateError, Message: aws.String("The ECS service cannot be updated")},
		RollbackInfo:     &cdtypes.RollbackInfo{RollbackDeploymentId: aws.String("d-2"), RollbackMessage: aws.String("Automatic rollback triggered")}})
	assert.Equal(t, deploy.Outcome{Done: true, RolledBack: true,
		Message: "CodeDeploy deployment d-1 to api/prod failed: The ECS service cannot be updated (ECS_UPDATE_ERROR); CodeDeploy rolls back with deployment d-2: Automatic rollback triggered"}, got)
	assert.Equal(t, deploy.Outcome{Done: true, Message: "CodeDeploy deployment d-1 to api/prod was stopped"},
		Status(&cdtypes.DeploymentInfo{DeploymentId: aws.String("d-1"), ApplicationName: aws.String("api"), DeploymentGroupName: aws.String("prod"), Status: cdtypes.DeploymentStatusStopped}))
}

func TestGroupARN(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "arn:aws:codedeploy:ap-northeast-2:911362649988:deploymentgroup:app/grp",
		groupARN("arn:aws:ecs:ap-northeast-2:911362649988:task-definition/task-hello-aws:2", "app", "grp"))
	assert.Empty(t, groupARN("task-hello-aws:2", "app", "grp"))
}

func FuzzMatch(f *testing.F) {
	for _, file := range []string{"deployment-success.json", "deployment-failure.json", "deployment-ready.json"} {
		e := deploytest.Event(f, filepath.Join("..", "..", "..", "events", "codedeploy", file))
		f.Add([]byte(e.Detail))
	}
	p := New(nil, nil)
	f.Fuzz(func(t *testing.T, detail []byte) {
		key, out, ok := p.Match(DetailType, detail)
		if ok && (key == "" || !out.Done) {
			t.Fatalf("%q → %q %+v", detail, key, out)
		}
		if !ok && (key != "" || out.Done || out.Message != "") {
			t.Fatalf("%q finishes nothing but says %q %+v", detail, key, out)
		}
	})
}
