package ecs

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/awstest"
	"github.com/stepline/stepline/pkg/deploy"
	"github.com/stepline/stepline/pkg/deploy/deploytest"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// newService creates a cluster and a service on moto running a two-container task definition
// with fields beyond the containers, and returns the client and the first revision's ARN.
func newService(t *testing.T, cluster, service string, desired int32) (*awsecs.Client, string) {
	t.Helper()
	ctx := context.Background()
	c := awsecs.NewFromConfig(awstest.StartMoto(t).Config())
	_, err := c.CreateCluster(ctx, &awsecs.CreateClusterInput{ClusterName: aws.String(cluster)})
	require.NoError(t, err)
	td, err := c.RegisterTaskDefinition(ctx, &awsecs.RegisterTaskDefinitionInput{
		Family:                  aws.String(cluster), // task definitions are account-wide; clusters are per test
		Cpu:                     aws.String("256"),
		Memory:                  aws.String("512"),
		NetworkMode:             types.NetworkModeAwsvpc,
		RequiresCompatibilities: []types.Compatibility{types.CompatibilityFargate},
		ExecutionRoleArn:        aws.String("arn:aws:iam::123456789012:role/exec"),
		TaskRoleArn:             aws.String("arn:aws:iam::123456789012:role/task"),
		ContainerDefinitions: []types.ContainerDefinition{
			{Name: aws.String("app"), Image: aws.String("123456789012.dkr.ecr.us-east-1.amazonaws.com/app:old"), Essential: aws.Bool(true),
				PortMappings: []types.PortMapping{{ContainerPort: aws.Int32(8080)}},
				Environment:  []types.KeyValuePair{{Name: aws.String("MODE"), Value: aws.String("prod")}}},
			{Name: aws.String("envoy"), Image: aws.String("public.ecr.aws/appmesh/aws-appmesh-envoy:v1"), Essential: aws.Bool(false)},
		},
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("api")}},
	})
	require.NoError(t, err)
	arn := aws.ToString(td.TaskDefinition.TaskDefinitionArn)
	_, err = c.CreateService(ctx, &awsecs.CreateServiceInput{
		Cluster: aws.String(cluster), ServiceName: aws.String(service), TaskDefinition: aws.String(arn), DesiredCount: aws.Int32(desired),
	})
	require.NoError(t, err)
	// moto keeps a service's deployment configuration from UpdateService only.
	_, err = c.UpdateService(ctx, &awsecs.UpdateServiceInput{Cluster: aws.String(cluster), Service: aws.String(service),
		DeploymentConfiguration: &types.DeploymentConfiguration{MinimumHealthyPercent: aws.Int32(50), MaximumPercent: aws.Int32(200)}})
	require.NoError(t, err)
	return c, arn
}

// A rolling deploy against moto: a new revision of the service's task definition carries the
// new image for "app" only, keeps every other field, and the service points at it with the
// circuit breaker and rollback on; the Wait names the service's PRIMARY deployment.
func TestStartRegistersARevisionAndUpdatesTheService(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, first := newService(t, "start-rolling", "api", 1)
	now := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	p := New(c, c, WithClock(func() time.Time { return now }))
	bin := deploytest.NewArtifact(t, deploy.Location{Bucket: "b", Key: "k"}, map[string]string{
		"imagedefinitions.json": `[{"name":"app","imageUri":"123456789012.dkr.ecr.us-east-1.amazonaws.com/app:abc123"}]`,
	})
	w, err := p.Start(ctx, deploy.Request{Run: "api-7", Stage: "Deploy", Action: "Service",
		Config: map[string]any{"cluster": "start-rolling", "service": "api", "image_definitions": "bin::imagedefinitions.json", "strategy": "rolling"},
		Inputs: map[string]deploy.Artifact{"bin": bin}})
	require.NoError(t, err)

	svc, err := c.DescribeServices(ctx, &awsecs.DescribeServicesInput{Cluster: aws.String("start-rolling"), Services: []string{"api"}})
	require.NoError(t, err)
	require.Len(t, svc.Services, 1)
	s := svc.Services[0]
	newArn := aws.ToString(s.TaskDefinition)
	assert.NotEqual(t, first, newArn)
	assert.Equal(t, Name, w.Provider)
	assert.Equal(t, aws.ToString(s.ServiceArn), w.Resource)
	assert.Equal(t, now, w.Started)
	assert.Contains(t, w.What, w.Key)
	// moto keeps the service's one deployment through an update (ECS starts a new PRIMARY
	// one), so the test can check only that the Wait names the PRIMARY deployment.
	var primaryID string
	for _, d := range s.Deployments {
		if aws.ToString(d.Status) == "PRIMARY" {
			primaryID = aws.ToString(d.Id)
		}
	}
	assert.Equal(t, primaryID, w.Key)
	assert.Regexp(t, `^ecs-svc/`, w.Key)
	require.NotNil(t, s.DeploymentConfiguration)
	assert.Equal(t, &types.DeploymentCircuitBreaker{Enable: true, Rollback: true}, s.DeploymentConfiguration.DeploymentCircuitBreaker)
	assert.Equal(t, int32(50), aws.ToInt32(s.DeploymentConfiguration.MinimumHealthyPercent), "the service's own settings are kept")

	td, err := c.DescribeTaskDefinition(ctx, &awsecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(newArn), Include: []types.TaskDefinitionField{types.TaskDefinitionFieldTags}})
	require.NoError(t, err)
	got := td.TaskDefinition
	assert.Equal(t, int32(2), got.Revision)
	require.Len(t, got.ContainerDefinitions, 2)
	assert.Equal(t, "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:abc123", aws.ToString(got.ContainerDefinitions[0].Image))
	assert.Equal(t, "public.ecr.aws/appmesh/aws-appmesh-envoy:v1", aws.ToString(got.ContainerDefinitions[1].Image))
	assert.Equal(t, "MODE", aws.ToString(got.ContainerDefinitions[0].Environment[0].Name))
	assert.Equal(t, "256", aws.ToString(got.Cpu))
	assert.Equal(t, "512", aws.ToString(got.Memory))
	assert.Equal(t, types.NetworkModeAwsvpc, got.NetworkMode)
	assert.Equal(t, "arn:aws:iam::123456789012:role/exec", aws.ToString(got.ExecutionRoleArn))
	assert.Equal(t, "arn:aws:iam::123456789012:role/task", aws.ToString(got.TaskRoleArn))
	assert.Equal(t, []types.Compatibility{types.CompatibilityFargate}, got.RequiresCompatibilities)
	assert.Equal(t, []types.Tag{{Key: aws.String("team"), Value: aws.String("api")}}, td.Tags)

	assert.Equal(t, types.DeploymentStrategyRolling, s.DeploymentConfiguration.Strategy)

	// moto reports a service whose tasks are not running yet as IN_PROGRESS.
	out, err := p.Poll(ctx, w)
	require.NoError(t, err)
	assert.Equal(t, deploy.Outcome{}, out)
}

func request(cluster, service string, files map[string]string, t *testing.T, extra map[string]any) deploy.Request {
	cfg := map[string]any{"cluster": cluster, "service": service, "image_definitions": "bin::imagedefinitions.json"}
	for k, v := range extra {
		cfg[k] = v
	}
	return deploy.Request{Run: "api-7", Stage: "Deploy", Action: "Service", Config: cfg,
		Inputs: map[string]deploy.Artifact{"bin": deploytest.NewArtifact(t, deploy.Location{Bucket: "b", Key: "k"}, files)}}
}

// strategy: blue_green sends ECS's native BLUE_GREEN strategy and the bake time in minutes;
// moto stores the deployment configuration as sent, so reading it back shows the request.
func TestStartBlueGreenAsksForECSBlueGreenWithTheBakeTime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, _ := newService(t, "start-bluegreen", "api", 1)
	_, err := New(c, c).Start(ctx, request("start-bluegreen", "api", map[string]string{
		"imagedefinitions.json": `[{"name":"app","imageUri":"r/app:2"}]`}, t, map[string]any{"strategy": "blue_green", "bake_time": "10m0s"}))
	require.NoError(t, err)
	svc, err := c.DescribeServices(ctx, &awsecs.DescribeServicesInput{Cluster: aws.String("start-bluegreen"), Services: []string{"api"}})
	require.NoError(t, err)
	dc := svc.Services[0].DeploymentConfiguration
	require.NotNil(t, dc)
	assert.Equal(t, types.DeploymentStrategyBlueGreen, dc.Strategy)
	assert.Equal(t, int32(10), aws.ToInt32(dc.BakeTimeInMinutes))
	assert.Equal(t, &types.DeploymentCircuitBreaker{Enable: true, Rollback: true}, dc.DeploymentCircuitBreaker)
}

// A deploy that cannot be done changes nothing on the service: no new revision is registered
// and the service keeps its task definition.
func TestStartRefusesWithoutTouchingTheService(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, first := newService(t, "start-refused", "api", 1)
	_, err := c.CreateService(ctx, &awsecs.CreateServiceInput{Cluster: aws.String("start-refused"), ServiceName: aws.String("bg"),
		TaskDefinition: aws.String(first), DesiredCount: aws.Int32(1), DeploymentController: &types.DeploymentController{Type: types.DeploymentControllerTypeCodeDeploy}})
	require.NoError(t, err)
	p := New(c, c)
	good := map[string]string{"imagedefinitions.json": `[{"name":"app","imageUri":"r/app:2"}]`}
	for name, c := range map[string]struct {
		req deploy.Request
		msg string
	}{
		"an unknown container": {request("start-refused", "api", map[string]string{"imagedefinitions.json": `[{"name":"web","imageUri":"r/web:2"}]`}, t, nil),
			`container "web" is not in task definition ` + first + `; its containers are app, envoy`},
		"a service CodeDeploy deploys": {request("start-refused", "bg", good, t, nil), "deployed by CODE_DEPLOY, not by ECS: use provider codedeploy"},
		"a missing service":            {request("start-refused", "nope", good, t, nil), "service nope in cluster start-refused: missing"},
		"a missing file":               {request("start-refused", "api", map[string]string{"other.json": "{}"}, t, nil), "image_definitions: read imagedefinitions.json from artifact bin"},
		"an input that is not there":   {request("start-refused", "api", good, t, map[string]any{"image_definitions": "src::imagedefinitions.json"}), `"src" is not an input artifact of action Deploy/Service`},
		"an unknown strategy":          {request("start-refused", "api", good, t, map[string]any{"strategy": "canary"}), `strategy "canary"`},
	} {
		_, err := p.Start(ctx, c.req)
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), c.msg, name)
	}
	revs, err := c.ListTaskDefinitions(ctx, &awsecs.ListTaskDefinitionsInput{FamilyPrefix: aws.String("start-refused")})
	require.NoError(t, err)
	assert.Equal(t, []string{first}, revs.TaskDefinitionArns)
}

// A service whose deployment has reached its desired count is COMPLETED in moto, and Poll
// says the deploy succeeded; a Wait already done is answered without a call.
func TestPollReadsACompletedRollout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, _ := newService(t, "poll-completed", "idle", 0)
	p := New(c, c)
	w, err := p.Start(ctx, request("poll-completed", "idle", map[string]string{"imagedefinitions.json": `[{"name":"app","imageUri":"r/app:2"}]`}, t, nil))
	require.NoError(t, err)
	out, err := p.Poll(ctx, w)
	require.NoError(t, err)
	assert.Equal(t, deploy.Outcome{Done: true, Succeeded: true, Message: "ECS deployment " + w.Key + " completed"}, out)
	// Polling and the event agree.
	_, matched, ok := p.Match(DetailType, json.RawMessage(`{"eventName":"SERVICE_DEPLOYMENT_COMPLETED","deploymentId":"`+w.Key+`"}`))
	require.True(t, ok)
	assert.Equal(t, matched, out)

	gone := w
	gone.Key = "ecs-svc/0"
	out, err = p.Poll(ctx, gone)
	require.NoError(t, err)
	assert.True(t, out.Done)
	assert.False(t, out.Succeeded)
	assert.Contains(t, out.Message, "no longer among the deployments of service idle")

	done := deploy.Wait{Done: true, Outcome: deploy.Outcome{Done: true, Succeeded: true, Message: "nothing to do"}}
	out, err = New(nil, nil).Poll(ctx, done)
	require.NoError(t, err)
	assert.Equal(t, done.Outcome, out)
}

// moto never fails a rollout, so a local server answers DescribeServices as ECS does for a
// deployment the circuit breaker failed (fields from
// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Deployment.html), to the real client.
func TestPollReadsAFailedRolloutAsARollback(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Amz-Target") != "AmazonEC2ContainerServiceV20141113.DescribeServices" {
			http.Error(w, "unexpected call", http.StatusBadRequest)
			return
		}
		var in struct {
			Cluster  string   `json:"cluster"`
			Services []string `json:"services"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Cluster != "prod" || len(in.Services) != 1 || in.Services[0] != "api" {
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_, _ = io.WriteString(w, `{"services":[{"serviceArn":"arn:aws:ecs:us-east-1:123456789012:service/prod/api","serviceName":"api","status":"ACTIVE",
			"deployments":[
			 {"id":"ecs-svc/222","status":"PRIMARY","rolloutState":"IN_PROGRESS","rolloutStateReason":"ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/111."},
			 {"id":"ecs-svc/333","status":"ACTIVE","rolloutState":"FAILED","rolloutStateReason":"ECS deployment circuit breaker: tasks failed to start."}]}],"failures":[]}`)
	}))
	defer srv.Close()
	c := awsecs.NewFromConfig(aws.Config{Region: awstest.Region, BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")})
	out, err := New(c, c).Poll(context.Background(), deploy.Wait{Provider: Name, Key: "ecs-svc/333", Resource: "arn:aws:ecs:us-east-1:123456789012:service/prod/api"})
	require.NoError(t, err)
	assert.Equal(t, deploy.Outcome{Done: true, RolledBack: true,
		Message: "ECS deployment ecs-svc/333 failed: ECS deployment circuit breaker: tasks failed to start.; the circuit breaker rolls the service back to its last completed deployment"}, out)
}
