package ecs

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
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
		Family:                  aws.String(service),
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
