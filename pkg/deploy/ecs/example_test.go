package ecs

import (
	"context"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/awstest"
	"github.com/stepline/stepline/pkg/deploy"
	"github.com/stepline/stepline/pkg/deploy/deploytest"
	"github.com/stepline/stepline/pkg/pipeline"
)

// examples/ecs-service end to end at the provider: its buildspec's own printf lines write
// imagedefinitions.json, and each ecs action of its .stepline.yml, with the configuration the
// pipeline compiles to, moves a moto service (staging rolling, production blue/green) to the
// built image.
func TestExampleServiceDeploysTheImageItsBuildWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	raw, err := os.ReadFile("../../../examples/ecs-service/.stepline.yml")
	require.NoError(t, err)
	file, err := pipeline.Parse(".stepline.yml", raw)
	require.NoError(t, err)
	image := "123456789012.dkr.ecr.us-east-1.amazonaws.com/ecs-service:abc1234"
	files := deploytest.BuildspecFiles(t, "../../../examples/ecs-service/buildspec.yml", map[string]string{"IMAGE_URI": image})
	require.Contains(t, files, "imagedefinitions.json")
	artifact := deploytest.NewArtifact(t, deploy.Location{Bucket: "artifacts", Key: "image.zip"}, files)

	c := awsecs.NewFromConfig(awstest.StartMoto(t).Config())
	deployed := map[string]string{}
	for _, st := range file.Pipelines[0].Definition().Stages {
		for _, a := range st.Actions {
			if a.Provider != Name {
				continue
			}
			cluster, service := a.Config["cluster"].(string), a.Config["service"].(string)
			_, err := c.CreateCluster(ctx, &awsecs.CreateClusterInput{ClusterName: aws.String(cluster)})
			require.NoError(t, err)
			td, err := c.RegisterTaskDefinition(ctx, &awsecs.RegisterTaskDefinitionInput{Family: aws.String("example-" + cluster),
				ContainerDefinitions: []types.ContainerDefinition{{Name: aws.String("ecs-service"), Image: aws.String("old"), Memory: aws.Int32(128)}}})
			require.NoError(t, err)
			_, err = c.CreateService(ctx, &awsecs.CreateServiceInput{Cluster: aws.String(cluster), ServiceName: aws.String(service),
				TaskDefinition: td.TaskDefinition.TaskDefinitionArn, DesiredCount: aws.Int32(1)})
			require.NoError(t, err)

			_, err = New(c, c).Start(ctx, deploy.Request{Run: "ecs-service-1", Stage: st.Name, Action: a.Name, Config: a.Config,
				Inputs: map[string]deploy.Artifact{"image": artifact}})
			require.NoError(t, err, st.Name)

			svc, err := c.DescribeServices(ctx, &awsecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: []string{service}})
			require.NoError(t, err)
			now, err := c.DescribeTaskDefinition(ctx, &awsecs.DescribeTaskDefinitionInput{TaskDefinition: svc.Services[0].TaskDefinition})
			require.NoError(t, err)
			assert.Equal(t, image, aws.ToString(now.TaskDefinition.ContainerDefinitions[0].Image), st.Name)
			deployed[st.Name] = string(svc.Services[0].DeploymentConfiguration.Strategy)
		}
	}
	assert.Equal(t, map[string]string{"Staging": "ROLLING", "Production": "BLUE_GREEN"}, deployed)
}
