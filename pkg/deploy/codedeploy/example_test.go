package codedeploy

import (
	"context"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/deploy"
	"github.com/stepline/stepline/pkg/deploy/deploytest"
)

// examples/ecs-service's appspec.yaml and taskdef.json, with the imageDetail.json its
// buildspec's printf writes, deploy through CodeDeploy on moto: the registered revision runs
// the built image.
func TestExampleServiceFilesDeployThroughCodeDeploy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cd, ecs := newGroup(t, "example-app", "example-group")
	image := "123456789012.dkr.ecr.us-east-1.amazonaws.com/ecs-service:abc1234"
	files := deploytest.BuildspecFiles(t, "../../../examples/ecs-service/buildspec.yml", map[string]string{"IMAGE_URI": image})
	for _, name := range []string{"appspec.yaml", "taskdef.json"} {
		b, err := os.ReadFile("../../../examples/ecs-service/" + name)
		require.NoError(t, err)
		files[name] = string(b)
	}
	art := deploytest.NewArtifact(t, deploy.Location{Bucket: "artifacts", Key: "image.zip"}, files)
	w, err := New(cd, ecs).Start(ctx, deploy.Request{Run: "ecs-service-1", Stage: "Production", Action: "BlueGreen",
		Config: map[string]any{"application": "example-app", "deployment_group": "example-group", "appspec": "image::appspec.yaml",
			"task_definition": "image::taskdef.json", "image_details": "image::imageDetail.json", "image_placeholder": DefaultPlaceholder},
		Inputs: map[string]deploy.Artifact{"image": art}})
	require.NoError(t, err)
	d := getDeployment(t, w.Key)
	assert.Contains(t, d.Revision.AppSpecContent.Content, "arn:aws:ecs:us-east-1:123456789012:task-definition/ecs-service:")
	td, err := ecs.DescribeTaskDefinition(ctx, &awsecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("ecs-service")})
	require.NoError(t, err)
	assert.Equal(t, image, aws.ToString(td.TaskDefinition.ContainerDefinitions[0].Image))
}
