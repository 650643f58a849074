package main

import (
	"os"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/infra/stepline"
)

// TestMain stops the jsii kernel once every test has run.
func TestMain(m *testing.M) {
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}

func TestPropsFromContextReadsCommandLineStringsAndCdkJsonValues(t *testing.T) {
	app := awscdk.NewApp(&awscdk.AppProps{Context: &map[string]any{
		"name":                  "demo",
		"notificationEmail":     "ops@example.com",
		"allowedRepositories":   "github:acme/*, bitbucket:team/api",
		"logRetentionDays":      "14",
		"artifactRetentionDays": 7, // a number, as cdk.json would hold it
	}})
	props, stackName, err := propsFromContext(app)
	require.NoError(t, err)
	assert.Equal(t, stepline.Props{
		Name:                  "demo",
		NotificationEmail:     "ops@example.com",
		AllowedRepositories:   []string{"github:acme/*", "bitbucket:team/api"},
		LogRetentionDays:      14,
		ArtifactRetentionDays: 7,
	}, props)
	assert.Equal(t, "demo", stackName)
}

func TestPropsFromContextDefaultsTheStackName(t *testing.T) {
	_, stackName, err := propsFromContext(awscdk.NewApp(nil))
	require.NoError(t, err)
	assert.Equal(t, stepline.DefaultName, stackName)
}

func TestPropsFromContextRefusesDaysThatAreNotNumbers(t *testing.T) {
	app := awscdk.NewApp(&awscdk.AppProps{Context: &map[string]any{"logRetentionDays": "two weeks"}})
	_, _, err := propsFromContext(app)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "logRetentionDays")
}
