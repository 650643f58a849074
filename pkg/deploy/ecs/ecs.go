// Package ecs deploys container images to an Amazon ECS service (provider: ecs): it registers a
// new revision of the service's current task definition with only the containers named in
// the action's imagedefinitions.json given their new image, points the service at it with the
// deployment circuit breaker and rollback on, and waits for ECS's "ECS Deployment State
// Change" event of that deployment (or, on a laptop, for DescribeServices to say so).
// strategy: blue_green asks ECS for its native BLUE_GREEN deployment strategy with the
// action's bake time; the service's load balancer must already carry the alternate target
// group and listener rule that strategy shifts traffic with.
package ecs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/stepline/stepline/pkg/deploy"
)

// Name is the provider's name in a pipeline file and in a Wait.
const Name = "ecs"

// The strategies an action's strategy key chooses between.
const (
	StrategyRolling   = "rolling"
	StrategyBlueGreen = "blue_green"
)

// DefaultBakeTime is how long a blue/green deployment keeps the old (blue) tasks after the
// traffic moved, when the action says nothing: ECS requires a bake time for BLUE_GREEN.
const DefaultBakeTime = 5 * time.Minute

// ServiceClient is the part of the ECS API that reads and updates services; *awsecs.Client
// is one. The calls are documented in the ECS API reference:
// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeServices.html and
// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_UpdateService.html.
type ServiceClient interface {
	DescribeServices(ctx context.Context, in *awsecs.DescribeServicesInput, optFns ...func(*awsecs.Options)) (*awsecs.DescribeServicesOutput, error)
	UpdateService(ctx context.Context, in *awsecs.UpdateServiceInput, optFns ...func(*awsecs.Options)) (*awsecs.UpdateServiceOutput, error)
}

// TaskDefinitionClient is the part of the ECS API that reads and registers task definitions;
// *awsecs.Client is one
// (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeTaskDefinition.html,
// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RegisterTaskDefinition.html).
type TaskDefinitionClient interface {
	DescribeTaskDefinition(ctx context.Context, in *awsecs.DescribeTaskDefinitionInput, optFns ...func(*awsecs.Options)) (*awsecs.DescribeTaskDefinitionOutput, error)
	RegisterTaskDefinition(ctx context.Context, in *awsecs.RegisterTaskDefinitionInput, optFns ...func(*awsecs.Options)) (*awsecs.RegisterTaskDefinitionOutput, error)
}

var (
	_ ServiceClient        = (*awsecs.Client)(nil)
	_ TaskDefinitionClient = (*awsecs.Client)(nil)
)

// Provider is the ecs deploy provider.
type Provider struct {
	services ServiceClient
	tasks    TaskDefinitionClient
	now      func() time.Time
}

var (
	_ deploy.Provider     = (*Provider)(nil)
	_ deploy.EventMatcher = (*Provider)(nil)
)

// Option changes a Provider.
type Option func(*Provider)

// WithClock sets the clock Wait.Started is read from (tests).
func WithClock(now func() time.Time) Option { return func(p *Provider) { p.now = now } }

// New returns the provider; one *awsecs.Client serves as both clients.
func New(services ServiceClient, tasks TaskDefinitionClient, opts ...Option) *Provider {
	p := &Provider{services: services, tasks: tasks, now: time.Now}
	for _, o := range opts {
		o(p)
	}
	return p
}

// ImageDefinition is one entry of imagedefinitions.json, CodePipeline's input to its ECS
// standard deploy action:
// https://docs.aws.amazon.com/codepipeline/latest/userguide/file-reference.html#pipelines-create-image-definitions
type ImageDefinition struct {
	Name     string `json:"name"`
	ImageURI string `json:"imageUri"`
}

// maxImageDefinitions is CodePipeline's limit for the file (100 KB).
const maxImageDefinitions = 100 << 10

// ParseImageDefinitions reads imagedefinitions.json: a non-empty array, every entry with a
// container name and an image, no container twice.
func ParseImageDefinitions(b []byte) ([]ImageDefinition, error) {
	if len(b) > maxImageDefinitions {
		return nil, fmt.Errorf("imagedefinitions.json is %d bytes, more than CodePipeline's 100 KB", len(b))
	}
	var defs []ImageDefinition
	if err := json.Unmarshal(b, &defs); err != nil {
		return nil, fmt.Errorf(`imagedefinitions.json: expected [{"name": "container", "imageUri": "image"}]: %w`, err)
	}
	if len(defs) == 0 {
		return nil, errors.New("imagedefinitions.json names no container")
	}
	seen := map[string]bool{}
	for i, d := range defs {
		if d.Name == "" || d.ImageURI == "" {
			return nil, fmt.Errorf("imagedefinitions.json entry %d: both name and imageUri are needed", i)
		}
		if seen[d.Name] {
			return nil, fmt.Errorf("imagedefinitions.json names container %q twice", d.Name)
		}
		seen[d.Name] = true
	}
	return defs, nil
}

// NewRevision returns the RegisterTaskDefinition request for a copy of td with the images of
// the named containers replaced; every field RegisterTaskDefinition accepts is kept. A name
// that is no container of td fails, listing the containers td has.
func NewRevision(td *types.TaskDefinition, tags []types.Tag, images []ImageDefinition) (*awsecs.RegisterTaskDefinitionInput, error) {
	containers := slices.Clone(td.ContainerDefinitions)
	names := make([]string, len(containers))
	for i, c := range containers {
		names[i] = aws.ToString(c.Name)
	}
	for _, img := range images {
		i := slices.Index(names, img.Name)
		if i < 0 {
			return nil, fmt.Errorf("container %q is not in task definition %s; its containers are %s",
				img.Name, aws.ToString(td.TaskDefinitionArn), strings.Join(names, ", "))
		}
		containers[i].Image = aws.String(img.ImageURI)
	}
	return &awsecs.RegisterTaskDefinitionInput{
		Family:                        td.Family,
		ContainerDefinitions:          containers,
		Cpu:                           td.Cpu,
		Memory:                        td.Memory,
		EnableFaultInjection:          td.EnableFaultInjection,
		EphemeralStorage:              td.EphemeralStorage,
		ExecutionRoleArn:              td.ExecutionRoleArn,
		TaskRoleArn:                   td.TaskRoleArn,
		InferenceAccelerators:         td.InferenceAccelerators,
		IpcMode:                       td.IpcMode,
		PidMode:                       td.PidMode,
		NetworkMode:                   td.NetworkMode,
		PlacementConstraints:          td.PlacementConstraints,
		ProxyConfiguration:            td.ProxyConfiguration,
		RequiresCompatibilities:       td.RequiresCompatibilities,
		RuntimePlatform:               td.RuntimePlatform,
		TrustedExecutionConfiguration: td.TrustedExecutionConfiguration,
		Volumes:                       td.Volumes,
		Tags:                          tags,
	}, nil
}

// DeploymentConfiguration returns the service's deployment configuration for the update: what
// the service has (percentages, alarms, lifecycle hooks) with the circuit breaker and its
// rollback on, and the strategy the action names: ROLLING, or BLUE_GREEN with the bake time in
// whole minutes (at least one, at most a day).
// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeploymentConfiguration.html
func DeploymentConfiguration(current *types.DeploymentConfiguration, strategy string, bake time.Duration) *types.DeploymentConfiguration {
	var c types.DeploymentConfiguration
	if current != nil {
		c = *current
	}
	c.DeploymentCircuitBreaker = &types.DeploymentCircuitBreaker{Enable: true, Rollback: true}
	// ECS takes these only with the LINEAR and CANARY strategies a service may have had.
	c.LinearConfiguration, c.CanaryConfiguration = nil, nil
	switch strategy {
	case StrategyBlueGreen:
		c.Strategy = types.DeploymentStrategyBlueGreen
		if bake <= 0 {
			bake = DefaultBakeTime
		}
		c.BakeTimeInMinutes = aws.Int32(int32(min(math.Ceil(bake.Minutes()), 1440)))
	default:
		c.Strategy = types.DeploymentStrategyRolling
		c.BakeTimeInMinutes = nil
	}
	return &c
}

// Start registers the new task definition revision and updates the service.
func (p *Provider) Start(ctx context.Context, req deploy.Request) (deploy.Wait, error) {
	cluster, service, strategy := req.String("cluster"), req.String("service"), req.String("strategy")
	if cluster == "" || service == "" {
		return deploy.Wait{}, errors.New("ecs: cluster and service are required")
	}
	if strategy == "" {
		strategy = StrategyRolling
	}
	if strategy != StrategyRolling && strategy != StrategyBlueGreen {
		return deploy.Wait{}, fmt.Errorf("ecs: strategy %q: expected %s or %s", strategy, StrategyRolling, StrategyBlueGreen)
	}
	bake, err := req.Duration("bake_time")
	if err != nil {
		return deploy.Wait{}, fmt.Errorf("ecs: %w", err)
	}
	raw, err := req.ReadFile(ctx, "image_definitions")
	if err != nil {
		return deploy.Wait{}, fmt.Errorf("ecs: %w", err)
	}
	images, err := ParseImageDefinitions(raw)
	if err != nil {
		return deploy.Wait{}, fmt.Errorf("ecs: %w", err)
	}
	svc, err := p.service(ctx, cluster, service)
	if err != nil {
		return deploy.Wait{}, err
	}
	if svc.DeploymentController != nil && svc.DeploymentController.Type != types.DeploymentControllerTypeEcs {
		return deploy.Wait{}, fmt.Errorf("ecs: service %s in cluster %s is deployed by %s, not by ECS: use provider codedeploy for a CODE_DEPLOY service",
			service, cluster, svc.DeploymentController.Type)
	}
	td, err := p.tasks.DescribeTaskDefinition(ctx, &awsecs.DescribeTaskDefinitionInput{
		TaskDefinition: svc.TaskDefinition,
		Include:        []types.TaskDefinitionField{types.TaskDefinitionFieldTags},
	})
	if err != nil {
		return deploy.Wait{}, fmt.Errorf("ecs: describe task definition %s: %w", aws.ToString(svc.TaskDefinition), err)
	}
	in, err := NewRevision(td.TaskDefinition, td.Tags, images)
	if err != nil {
		return deploy.Wait{}, fmt.Errorf("ecs: service %s: %w", service, err)
	}
	reg, err := p.tasks.RegisterTaskDefinition(ctx, in)
	if err != nil {
		return deploy.Wait{}, fmt.Errorf("ecs: register task definition %s: %w", aws.ToString(in.Family), err)
	}
	arn := aws.ToString(reg.TaskDefinition.TaskDefinitionArn)
	up, err := p.services.UpdateService(ctx, &awsecs.UpdateServiceInput{
		Cluster:                 aws.String(cluster),
		Service:                 aws.String(service),
		TaskDefinition:          aws.String(arn),
		DeploymentConfiguration: DeploymentConfiguration(svc.DeploymentConfiguration, strategy, bake),
	})
	if err != nil {
		return deploy.Wait{}, fmt.Errorf("ecs: update service %s in cluster %s to %s: %w", service, cluster, arn, err)
	}
	id := primary(up.Service)
	if id == "" {
		return deploy.Wait{}, fmt.Errorf("ecs: service %s in cluster %s lists no PRIMARY deployment after the update", service, cluster)
	}
	return deploy.Wait{
		Provider: Name,
		Key:      id,
		Resource: aws.ToString(up.Service.ServiceArn),
		What:     fmt.Sprintf("ECS deployment %s of service %s (cluster %s, task definition %s) to complete", id, service, cluster, arn),
		Started:  p.now(),
	}, nil
}

// service describes one service; a missing or inactive one is an error naming it.
func (p *Provider) service(ctx context.Context, cluster, service string) (*types.Service, error) {
	out, err := p.services.DescribeServices(ctx, &awsecs.DescribeServicesInput{
		Cluster:  aws.String(cluster),
		Services: []string{service},
	})
	if err != nil {
		return nil, fmt.Errorf("ecs: describe service %s in cluster %s: %w", service, cluster, err)
	}
	for _, s := range out.Services {
		if aws.ToString(s.Status) == "ACTIVE" {
			return &s, nil
		}
	}
	reason := "not found"
	if len(out.Failures) > 0 {
		reason = strings.ToLower(aws.ToString(out.Failures[0].Reason))
	} else if len(out.Services) > 0 {
		reason = "status " + aws.ToString(out.Services[0].Status)
	}
	return nil, fmt.Errorf("ecs: service %s in cluster %s: %s", service, cluster, reason)
}

// primary is the id of the service's PRIMARY deployment: the one the update started.
func primary(s *types.Service) string {
	if s == nil {
		return ""
	}
	for _, d := range s.Deployments {
		if aws.ToString(d.Status) == "PRIMARY" {
			return aws.ToString(d.Id)
		}
	}
	return ""
}

// Poll reads the deployment's rollout state from DescribeServices.
func (p *Provider) Poll(ctx context.Context, w deploy.Wait) (deploy.Outcome, error) {
	if w.Done {
		return w.Outcome, nil
	}
	cluster, service, err := serviceOf(w.Resource)
	if err != nil {
		return deploy.Outcome{}, err
	}
	svc, err := p.service(ctx, cluster, service)
	if err != nil {
		return deploy.Outcome{}, err
	}
	for _, d := range svc.Deployments {
		if aws.ToString(d.Id) != w.Key {
			continue
		}
		switch d.RolloutState {
		case types.DeploymentRolloutStateCompleted:
			return outcome(eventCompleted, w.Key, aws.ToString(d.RolloutStateReason)), nil
		case types.DeploymentRolloutStateFailed:
			return outcome(eventFailed, w.Key, aws.ToString(d.RolloutStateReason)), nil
		}
		return deploy.Outcome{}, nil
	}
	// ECS drops a deployment from the list once another replaced it: after the circuit
	// breaker's rollback finished, or when a newer deploy overtook this one.
	return deploy.Outcome{Done: true, Message: fmt.Sprintf("ECS deployment %s is no longer among the deployments of service %s: it was replaced or rolled back", w.Key, service)}, nil
}

// serviceOf splits a service ARN (arn:aws:ecs:region:account:service/cluster/name) into its
// cluster and service names.
func serviceOf(arn string) (cluster, service string, err error) {
	_, res, _ := strings.Cut(arn, ":service/")
	cluster, service, ok := strings.Cut(res, "/")
	if !ok || cluster == "" || service == "" || strings.Contains(service, "/") {
		return "", "", fmt.Errorf("ecs: %q is not a service ARN of the form arn:aws:ecs:region:account:service/cluster/name", arn)
	}
	return cluster, service, nil
}

// The event names of "ECS Deployment State Change":
// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_service_deployment_events.html
const (
	// DetailType is the detail-type of the events that finish an ECS deployment (source aws.ecs).
	DetailType     = "ECS Deployment State Change"
	eventCompleted = "SERVICE_DEPLOYMENT_COMPLETED"
	eventFailed    = "SERVICE_DEPLOYMENT_FAILED"
)

// circuitBreaker starts the reason of a deployment the circuit breaker failed; stepline always
// turns the breaker's rollback on, so such a failure rolls the service back.
const circuitBreaker = "ECS deployment circuit breaker"

// Match reads an "ECS Deployment State Change" event: COMPLETED and FAILED finish the
// deployment named by deploymentId; IN_PROGRESS (of the deployment or of a rollback) and any
// other event finish nothing.
func (p *Provider) Match(detailType string, detail json.RawMessage) (string, deploy.Outcome, bool) {
	if detailType != DetailType {
		return "", deploy.Outcome{}, false
	}
	var d struct {
		EventName    string `json:"eventName"`
		DeploymentID string `json:"deploymentId"`
		Reason       string `json:"reason"`
	}
	if err := json.Unmarshal(detail, &d); err != nil || d.DeploymentID == "" {
		return "", deploy.Outcome{}, false
	}
	if d.EventName != eventCompleted && d.EventName != eventFailed {
		return "", deploy.Outcome{}, false
	}
	return d.DeploymentID, outcome(d.EventName, d.DeploymentID, d.Reason), true
}

// outcome is what a finished deployment means, from an event or from DescribeServices.
func outcome(event, id, reason string) deploy.Outcome {
	if event == eventCompleted {
		return deploy.Outcome{Done: true, Succeeded: true, Message: fmt.Sprintf("ECS deployment %s completed", id)}
	}
	o := deploy.Outcome{Done: true, Message: fmt.Sprintf("ECS deployment %s failed: %s", id, reasonOr(reason))}
	if strings.HasPrefix(reason, circuitBreaker) {
		o.RolledBack = true
		o.Message += "; the circuit breaker rolls the service back to its last completed deployment"
	}
	return o
}

func reasonOr(reason string) string {
	if reason == "" {
		return "ECS gave no reason"
	}
	return reason
}
