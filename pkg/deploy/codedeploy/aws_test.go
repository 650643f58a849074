package codedeploy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awscd "github.com/aws/aws-sdk-go-v2/service/codedeploy"
	cdtypes "github.com/aws/aws-sdk-go-v2/service/codedeploy/types"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/stepline/stepline/pkg/awstest"
	"github.com/stepline/stepline/pkg/deploy"
	"github.com/stepline/stepline/pkg/deploy/deploytest"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// newGroup creates a CodeDeploy application with an ECS deployment group on moto.
func newGroup(t *testing.T, app, group string) (*awscd.Client, *awsecs.Client) {
	t.Helper()
	ctx := context.Background()
	cfg := awstest.StartMoto(t).Config()
	cd, ecs := awscd.NewFromConfig(cfg), awsecs.NewFromConfig(cfg)
	_, err := cd.CreateApplication(ctx, &awscd.CreateApplicationInput{ApplicationName: aws.String(app), ComputePlatform: cdtypes.ComputePlatformEcs})
	require.NoError(t, err)
	_, err = cd.CreateDeploymentGroup(ctx, &awscd.CreateDeploymentGroupInput{
		ApplicationName: aws.String(app), DeploymentGroupName: aws.String(group),
		ServiceRoleArn:       aws.String("arn:aws:iam::123456789012:role/codedeploy-ecs"),
		DeploymentConfigName: aws.String("CodeDeployDefault.ECSAllAtOnce"),
		DeploymentStyle:      &cdtypes.DeploymentStyle{DeploymentType: cdtypes.DeploymentTypeBlueGreen, DeploymentOption: cdtypes.DeploymentOptionWithTrafficControl},
		EcsServices:          []cdtypes.ECSService{{ClusterName: aws.String("hello"), ServiceName: aws.String("svc-hello-aws")}},
	})
	require.NoError(t, err)
	return cd, ecs
}

// Seed 002's files deployed against moto: the task definition is registered with the image
// of imageDetail.json, and CodeDeploy holds a deployment whose AppSpec content names that
// revision, with the content's SHA-256.
func TestStartRegistersTheTaskDefinitionAndCreatesTheDeployment(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cd, ecs := newGroup(t, "start-app", "start-group")
	now := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	p := New(cd, ecs, WithClock(func() time.Time { return now }))
	src := deploytest.NewArtifact(t, deploy.Location{Bucket: "b", Key: "src"}, map[string]string{
		"appspec.yaml": string(read(t, "appspec.yaml")), "taskdef.json": string(read(t, "taskdef.json"))})
	img := deploytest.NewArtifact(t, deploy.Location{Bucket: "b", Key: "img"}, map[string]string{"imageDetail.json": string(read(t, "imageDetail.json"))})
	w, err := p.Start(ctx, deploy.Request{Run: "hello-3", Stage: "Deploy", Action: "BlueGreen",
		Config: map[string]any{"application": "start-app", "deployment_group": "start-group",
			"appspec": "src::appspec.yaml", "task_definition": "src::taskdef.json",
			"image_details": "img::imageDetail.json", "image_placeholder": "IMAGE"},
		Inputs: map[string]deploy.Artifact{"src": src, "img": img}})
	require.NoError(t, err)
	assert.Equal(t, Name, w.Provider)
	assert.Equal(t, now, w.Started)
	assert.Equal(t, "arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:start-app/start-group", w.Resource)

	// moto's GetDeployment sends its times as strings, which the SDK refuses to decode, so
	// the test reads the same answer as JSON.
	d := getDeployment(t, w.Key)
	assert.Equal(t, "start-app", d.ApplicationName)
	assert.Equal(t, "start-group", d.DeploymentGroupName)
	assert.Equal(t, "AppSpecContent", d.Revision.RevisionType)
	content := d.Revision.AppSpecContent.Content
	sum := sha256.Sum256([]byte(content))
	assert.Equal(t, hex.EncodeToString(sum[:]), d.Revision.AppSpecContent.Sha256)
	var spec struct {
		Resources []map[string]struct {
			Properties struct {
				TaskDefinition string `yaml:"TaskDefinition"`
			} `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(content), &spec))
	arn := spec.Resources[0]["TargetService"].Properties.TaskDefinition
	assert.Regexp(t, `^arn:aws:ecs:us-east-1:123456789012:task-definition/task-hello-aws:\d+$`, arn)
	assert.Contains(t, w.What, arn)

	td, err := ecs.DescribeTaskDefinition(ctx, &awsecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(arn)})
	require.NoError(t, err)
	assert.Equal(t, "911362649988.dkr.ecr.ap-northeast-2.amazonaws.com/ecr-hello-aws@sha256:EXAMPLE11223344556677889900bfea42ea2d3b8a1ee8329ba7e68694950afd3",
		aws.ToString(td.TaskDefinition.ContainerDefinitions[0].Image))
	assert.Equal(t, "arn:aws:iam::911362649988:role/ecsTaskExecutionRole", aws.ToString(td.TaskDefinition.ExecutionRoleArn))
}

// getDeployment calls moto's GetDeployment without the SDK's decoder.
func getDeployment(t *testing.T, id string) (d struct {
	ApplicationName     string `json:"applicationName"`
	DeploymentGroupName string `json:"deploymentGroupName"`
	Revision            struct {
		RevisionType   string `json:"revisionType"`
		AppSpecContent struct {
			Content string `json:"content"`
			Sha256  string `json:"sha256"`
		} `json:"appSpecContent"`
	} `json:"revision"`
}) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, awstest.StartMoto(t).Endpoint+"/", strings.NewReader(`{"deploymentId":"`+id+`"}`))
	require.NoError(t, err)
	req.Header.Set("X-Amz-Target", "CodeDeploy_20141006.GetDeployment")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=testing/20261207/us-east-1/codedeploy/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var out struct {
		DeploymentInfo json.RawMessage `json:"deploymentInfo"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	require.NoError(t, json.Unmarshal(out.DeploymentInfo, &d))
	return d
}

// moto cannot progress a deployment, so a local server answers GetDeployment as CodeDeploy
// does (https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_GetDeployment.html) to the
// real client: in progress, succeeded, and failed with the rollback CodeDeploy started.
func TestPollReadsGetDeployment(t *testing.T) {
	t.Parallel()
	answers := map[string]string{
		"d-RUNNING": `{"deploymentInfo":{"deploymentId":"d-RUNNING","status":"InProgress","createTime":1.7653e9}}`,
		"d-DONE":    `{"deploymentInfo":{"deploymentId":"d-DONE","applicationName":"api","deploymentGroupName":"prod","status":"Succeeded","createTime":1.7653e9,"completeTime":1.7654e9}}`,
		"d-FAILED": `{"deploymentInfo":{"deploymentId":"d-FAILED","applicationName":"api","deploymentGroupName":"prod","status":"Failed","createTime":1.7653e9,
			"errorInformation":{"code":"ECS_UPDATE_ERROR","message":"The ECS service cannot be updated"},
			"rollbackInfo":{"rollbackDeploymentId":"d-ROLLBACK","rollbackMessage":"Automatic rollback triggered"}}}`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			DeploymentID string `json:"deploymentId"`
		}
		body, ok := "", false
		if r.Header.Get("X-Amz-Target") == "CodeDeploy_20141006.GetDeployment" && json.NewDecoder(r.Body).Decode(&in) == nil {
			body, ok = answers[in.DeploymentID]
		}
		if !ok {
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_, _ = io.WriteString(w, body)
	}))
	defer srv.Close()
	cd := awscd.NewFromConfig(aws.Config{Region: awstest.Region, BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")})
	p := New(cd, nil)
	for id, want := range map[string]deploy.Outcome{
		"d-RUNNING": {},
		"d-DONE":    {Done: true, Succeeded: true, Message: "CodeDeploy deployment d-DONE to api/prod succeeded"},
		"d-FAILED": {Done: true, RolledBack: true,
			Message: "CodeDeploy deployment d-FAILED to api/prod failed: The ECS service cannot be updated (ECS_UPDATE_ERROR); CodeDeploy rolls back with deployment d-ROLLBACK: Automatic rollback triggered"},
	} {
		got, err := p.Poll(context.Background(), deploy.Wait{Provider: Name, Key: id})
		require.NoError(t, err, id)
		assert.Equal(t, want, got, id)
	}
	// Polling and the event agree on a success.
	polled, err := p.Poll(context.Background(), deploy.Wait{Provider: Name, Key: "d-DONE"})
	require.NoError(t, err)
	_, matched, ok := p.Match(DetailType, json.RawMessage(`{"deploymentId":"d-DONE","state":"SUCCESS","application":"api","deploymentGroup":"prod"}`))
	require.True(t, ok)
	assert.Equal(t, matched, polled)

	_, err = p.Poll(context.Background(), deploy.Wait{Provider: Name, Key: "d-UNKNOWN"})
	assert.ErrorContains(t, err, "codedeploy: get deployment d-UNKNOWN")
}

// A deployment group CodeDeploy does not know fails with the service's word, after the task
// definition was registered (CodePipeline's action does the same).
func TestStartFailsForAnUnknownDeploymentGroup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cd, ecs := newGroup(t, "unknown-app", "real-group")
	src := deploytest.NewArtifact(t, deploy.Location{}, map[string]string{
		"appspec.yaml": string(read(t, "appspec.yaml")), "taskdef.json": `{"family":"unknown-group","containerDefinitions":[{"name":"a","image":"r/a:1","memory":128}]}`})
	_, err := New(cd, ecs).Start(ctx, deploy.Request{Stage: "Deploy", Action: "BG",
		Config: map[string]any{"application": "unknown-app", "deployment_group": "nope", "appspec": "src::appspec.yaml", "task_definition": "src::taskdef.json"},
		Inputs: map[string]deploy.Artifact{"src": src}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "create deployment of arn:aws:ecs:us-east-1:123456789012:task-definition/unknown-group:1 to unknown-app/nope")
	var notFound *cdtypes.DeploymentGroupDoesNotExistException
	assert.ErrorAs(t, err, &notFound)
}
