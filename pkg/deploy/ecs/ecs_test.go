package ecs

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/deploy"
	"github.com/stepline/stepline/pkg/deploy/deploytest"
)

// The sample events follow the examples of
// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_service_deployment_events.html;
// each survives a round trip through events.CloudWatchEvent and means what the page says.
func TestMatchReadsTheDocumentedDeploymentEvents(t *testing.T) {
	t.Parallel()
	p := New(nil, nil)
	cases := map[string]struct {
		key string
		out deploy.Outcome
		ok  bool
	}{
		"deployment-in-progress.json": {},
		"rollback-in-progress.json":   {},
		"deployment-completed.json": {key: "ecs-svc/123", ok: true,
			out: deploy.Outcome{Done: true, Succeeded: true, Message: "ECS deployment ecs-svc/123 completed"}},
		"deployment-failed.json": {key: "ecs-svc/123", ok: true,
			out: deploy.Outcome{Done: true, RolledBack: true, Message: "ECS deployment ecs-svc/123 failed: ECS deployment circuit breaker: task failed to start.; the circuit breaker rolls the service back to its last completed deployment"}},
	}
	files, err := filepath.Glob(filepath.Join("..", "..", "..", "events", "ecs", "*.json"))
	require.NoError(t, err)
	require.Len(t, files, len(cases), "every sample event has a case here")
	for _, path := range files {
		file := filepath.Base(path)
		want, ok := cases[file]
		require.True(t, ok, "no case for %s", file)
		e := deploytest.Event(t, path)
		assert.Equal(t, "aws.ecs", e.Source, file)
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
		"another detail-type":           {"ECS Service Action", `{"eventName":"SERVICE_DEPLOYMENT_COMPLETED","deploymentId":"ecs-svc/1"}`},
		"a detail that is not JSON":     {DetailType, `{"eventName":`},
		"a detail of the wrong shape":   {DetailType, `["SERVICE_DEPLOYMENT_COMPLETED"]`},
		"no deployment id":              {DetailType, `{"eventName":"SERVICE_DEPLOYMENT_COMPLETED"}`},
		"an event name ECS may add":     {DetailType, `{"eventName":"SERVICE_DEPLOYMENT_PAUSED","deploymentId":"ecs-svc/1"}`},
		"a deployment id of wrong type": {DetailType, `{"eventName":"SERVICE_DEPLOYMENT_COMPLETED","deploymentId":7}`},
	} {
		key, out, ok := p.Match(c.detailType, json.RawMessage(c.detail))
		assert.False(t, ok, name)
		assert.Empty(t, key, name)
		assert.Equal(t, deploy.Outcome{}, out, name)
	}
}

// A failure that is not the circuit breaker's (an alarm, say) is a failure without a rollback
// claim; the same event twice gives the same key, so its second delivery is a no-op upstream.
func TestMatchTellsACircuitBreakerRollbackFromAPlainFailure(t *testing.T) {
	t.Parallel()
	p := New(nil, nil)
	detail := json.RawMessage(`{"eventType":"ERROR","eventName":"SERVICE_DEPLOYMENT_FAILED","deploymentId":"ecs-svc/9","reason":"Deployment failed: alarm api-5xx in ALARM state."}`)
	key, out, ok := p.Match(DetailType, detail)
	require.True(t, ok)
	assert.Equal(t, "ecs-svc/9", key)
	assert.False(t, out.RolledBack)
	assert.False(t, out.Succeeded)
	assert.Contains(t, out.Message, "alarm api-5xx")
	key2, out2, ok2 := p.Match(DetailType, detail)
	assert.Equal(t, []any{key, out, ok}, []any{key2, out2, ok2})
}

func TestParseImageDefinitions(t *testing.T) {
	t.Parallel()
	got, err := ParseImageDefinitions([]byte(`[{"name":"sample-app","imageUri":"11111EXAMPLE.dkr.ecr.us-west-2.amazonaws.com/ecs-repo:latest"}]`))
	require.NoError(t, err)
	assert.Equal(t, []ImageDefinition{{Name: "sample-app", ImageURI: "11111EXAMPLE.dkr.ecr.us-west-2.amazonaws.com/ecs-repo:latest"}}, got)
	for name, c := range map[string]struct{ in, msg string }{
		"not JSON":          {`[{`, "expected [{"},
		"an object":         {`{"name":"a","imageUri":"b"}`, "expected [{"},
		"empty":             {`[]`, "names no container"},
		"no image":          {`[{"name":"a"}]`, "entry 0: both name and imageUri"},
		"no name":           {`[{"imageUri":"b"}]`, "entry 0: both name and imageUri"},
		"a container twice": {`[{"name":"a","imageUri":"b"},{"name":"a","imageUri":"c"}]`, `container "a" twice`},
		"too large":         {`[` + string(make([]byte, 101<<10)) + `]`, "100 KB"},
	} {
		_, err := ParseImageDefinitions([]byte(c.in))
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), c.msg, name)
	}
}

func FuzzParseImageDefinitions(f *testing.F) {
	f.Add([]byte(`[{"name":"app","imageUri":"r/app:1"}]`))
	f.Add([]byte(`[{"name":"app","imageUri":"r/app:1"},{"name":"app"}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		defs, err := ParseImageDefinitions(b)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, d := range defs {
			if d.Name == "" || d.ImageURI == "" || seen[d.Name] {
				t.Fatalf("accepted %q", b)
			}
			seen[d.Name] = true
		}
	})
}

func TestNewRevisionRefusesAContainerTheTaskDefinitionLacks(t *testing.T) {
	t.Parallel()
	td := &types.TaskDefinition{TaskDefinitionArn: aws.String("arn:aws:ecs:us-east-1:123456789012:task-definition/api:3"), Family: aws.String("api"),
		ContainerDefinitions: []types.ContainerDefinition{{Name: aws.String("app"), Image: aws.String("a:1")}, {Name: aws.String("envoy"), Image: aws.String("e:1")}}}
	_, err := NewRevision(td, nil, []ImageDefinition{{Name: "web", ImageURI: "w:2"}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `container "web" is not in task definition arn:aws:ecs:us-east-1:123456789012:task-definition/api:3; its containers are app, envoy`)
	in, err := NewRevision(td, nil, []ImageDefinition{{Name: "envoy", ImageURI: "e:2"}})
	require.NoError(t, err)
	assert.Equal(t, "a:1", aws.ToString(in.ContainerDefinitions[0].Image))
	assert.Equal(t, "e:2", aws.ToString(in.ContainerDefinitions[1].Image))
	assert.Equal(t, "e:1", aws.ToString(td.ContainerDefinitions[1].Image), "the described task definition is not changed")
}

func TestDeploymentConfiguration(t *testing.T) {
	t.Parallel()
	current := &types.DeploymentConfiguration{MinimumHealthyPercent: aws.Int32(100), MaximumPercent: aws.Int32(200),
		Alarms:                   &types.DeploymentAlarms{AlarmNames: []string{"api-5xx"}, Enable: true, Rollback: true},
		DeploymentCircuitBreaker: &types.DeploymentCircuitBreaker{Enable: false},
		Strategy:                 types.DeploymentStrategyLinear,
		LinearConfiguration:      &types.LinearConfiguration{StepPercent: aws.Float64(10)}}
	breaker := &types.DeploymentCircuitBreaker{Enable: true, Rollback: true}

	rolling := DeploymentConfiguration(current, StrategyRolling, time.Hour)
	assert.Equal(t, &types.DeploymentConfiguration{MinimumHealthyPercent: aws.Int32(100), MaximumPercent: aws.Int32(200),
		Alarms: current.Alarms, DeploymentCircuitBreaker: breaker, Strategy: types.DeploymentStrategyRolling}, rolling)
	assert.False(t, current.DeploymentCircuitBreaker.Enable, "the described configuration is not changed")
	assert.NotNil(t, current.LinearConfiguration, "the described configuration is not changed")

	for bake, minutes := range map[time.Duration]int32{0: 5, 90 * time.Second: 2, time.Hour: 60, 48 * time.Hour: 1440} {
		bg := DeploymentConfiguration(current, StrategyBlueGreen, bake)
		assert.Nil(t, bg.LinearConfiguration)
		assert.Equal(t, types.DeploymentStrategyBlueGreen, bg.Strategy)
		assert.Equal(t, minutes, aws.ToInt32(bg.BakeTimeInMinutes), bake)
		assert.Equal(t, breaker, bg.DeploymentCircuitBreaker)
	}
}

func TestServiceOf(t *testing.T) {
	t.Parallel()
	cluster, service, err := serviceOf("arn:aws:ecs:us-west-2:111122223333:service/default/servicetest")
	require.NoError(t, err)
	assert.Equal(t, []string{"default", "servicetest"}, []string{cluster, service})
	for _, bad := range []string{"", "arn:aws:ecs:us-west-2:111122223333:service/servicetest", "arn:aws:ecs:us-west-2:111122223333:cluster/default", "arn:aws:ecs:r:1:service/a/b/c"} {
		_, _, err := serviceOf(bad)
		assert.Error(t, err, bad)
	}
}

func FuzzMatch(f *testing.F) {
	for _, file := range []string{"deployment-completed.json", "deployment-failed.json", "rollback-in-progress.json"} {
		e := deploytest.Event(f, filepath.Join("..", "..", "..", "events", "ecs", file))
		f.Add([]byte(e.Detail))
	}
	p := New(nil, nil)
	f.Fuzz(func(t *testing.T, detail []byte) {
		key, out, ok := p.Match(DetailType, detail)
		if ok && (key == "" || !out.Done || (out.Succeeded && out.RolledBack)) {
			t.Fatalf("%q → %q %+v", detail, key, out)
		}
		if !ok && (key != "" || out.Done || out.Message != "") {
			t.Fatalf("%q finishes nothing but says %q %+v", detail, key, out)
		}
	})
}
