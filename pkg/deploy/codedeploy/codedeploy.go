// Package codedeploy deploys to an Amazon ECS service through CodeDeploy's blue/green
// deployments (provider: codedeploy), as CodePipeline's "Amazon ECS and CodeDeploy blue/green"
// action (CodeDeployToECS) does:
// https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-ECSbluegreen.html.
// The action's taskdef.json has image placeholders (<IMAGE1_NAME>) that the ImageURI of an
// imageDetail.json fills; the filled task definition is registered, the AppSpec's
// TaskDefinition is set to the new revision's ARN, and CodeDeploy gets the AppSpec as content.
// The deploy finishes on CodeDeploy's "CodeDeploy Deployment State-change Notification" event
// (or, on a laptop, when GetDeployment says so).
package codedeploy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscd "github.com/aws/aws-sdk-go-v2/service/codedeploy"
	cdtypes "github.com/aws/aws-sdk-go-v2/service/codedeploy/types"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"gopkg.in/yaml.v3"

	"github.com/stepline/stepline/pkg/deploy"
)

// Name is the provider's name in a pipeline file and in a Wait.
const Name = "codedeploy"

// DefaultPlaceholder is the image placeholder CodePipeline's console proposes for the
// action's Image1ContainerName; the task definition template writes it as <IMAGE1_NAME>.
const DefaultPlaceholder = "IMAGE1_NAME"

// DeploymentClient is the part of the CodeDeploy API the provider calls; *awscd.Client is one
// (https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_CreateDeployment.html,
// https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_GetDeployment.html).
type DeploymentClient interface {
	CreateDeployment(ctx context.Context, in *awscd.CreateDeploymentInput, optFns ...func(*awscd.Options)) (*awscd.CreateDeploymentOutput, error)
	GetDeployment(ctx context.Context, in *awscd.GetDeploymentInput, optFns ...func(*awscd.Options)) (*awscd.GetDeploymentOutput, error)
}

// TaskDefinitionRegisterer registers the filled task definition; *awsecs.Client is one
// (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RegisterTaskDefinition.html).
type TaskDefinitionRegisterer interface {
	RegisterTaskDefinition(ctx context.Context, in *awsecs.RegisterTaskDefinitionInput, optFns ...func(*awsecs.Options)) (*awsecs.RegisterTaskDefinitionOutput, error)
}

var (
	_ DeploymentClient         = (*awscd.Client)(nil)
	_ TaskDefinitionRegisterer = (*awsecs.Client)(nil)
)

// Provider is the codedeploy deploy provider.
type Provider struct {
	deployments DeploymentClient
	tasks       TaskDefinitionRegisterer
	now         func() time.Time
}

var (
	_ deploy.Provider     = (*Provider)(nil)
	_ deploy.EventMatcher = (*Provider)(nil)
)

// Option changes a Provider.
type Option func(*Provider)

// WithClock sets the clock Wait.Started is read from (tests).
func WithClock(now func() time.Time) Option { return func(p *Provider) { p.now = now } }

// New returns the provider.
func New(deployments DeploymentClient, tasks TaskDefinitionRegisterer, opts ...Option) *Provider {
	p := &Provider{deployments: deployments, tasks: tasks, now: time.Now}
	for _, o := range opts {
		o(p)
	}
	return p
}

// ImageURI reads imageDetail.json, the file an ECR source action writes and a blue/green
// build writes ({"ImageURI": "..."}):
// https://docs.aws.amazon.com/codepipeline/latest/userguide/file-reference.html#file-reference-ecs-bluegreen
func ImageURI(b []byte) (string, error) {
	var d struct {
		ImageURI string `json:"ImageURI"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return "", fmt.Errorf(`imageDetail.json: expected {"ImageURI": "..."}: %w`, err)
	}
	if d.ImageURI == "" {
		return "", errors.New(`imageDetail.json has no ImageURI`)
	}
	return d.ImageURI, nil
}

// FillTaskDefinition replaces <placeholder> in the task definition template with image and
// decodes the result as a RegisterTaskDefinition request. The template is what the ECS
// console shows for a task definition, so the fields RegisterTaskDefinition does not take
// (taskDefinitionArn, revision, status, registeredAt, ...) are ignored.
func FillTaskDefinition(template []byte, placeholder, image string) (*awsecs.RegisterTaskDefinitionInput, error) {
	mark := []byte("<" + placeholder + ">")
	if image != "" {
		if !bytes.Contains(template, mark) {
			return nil, fmt.Errorf("taskdef.json has no placeholder %s for the image %s", mark, image)
		}
		// The image goes in as a JSON string's content, so quote it the way JSON does.
		quoted, _ := json.Marshal(image)
		template = bytes.ReplaceAll(template, mark, quoted[1:len(quoted)-1])
	} else if bytes.Contains(template, mark) {
		return nil, fmt.Errorf("taskdef.json has the placeholder %s but the action names no image_details to fill it", mark)
	}
	var in awsecs.RegisterTaskDefinitionInput
	if err := json.Unmarshal(template, &in); err != nil {
		return nil, fmt.Errorf("taskdef.json: %w", err)
	}
	if aws.ToString(in.Family) == "" || len(in.ContainerDefinitions) == 0 {
		return nil, errors.New("taskdef.json: a task definition needs a family and container definitions")
	}
	return &in, nil
}

// SetTaskDefinition sets the TaskDefinition property of every ECS service resource of an
// AppSpec (YAML or JSON, https://docs.aws.amazon.com/codedeploy/latest/userguide/reference-appspec-file-structure-resources.html)
// to arn, whatever it held (<TASK_DEFINITION> in CodePipeline's templates), and returns the
// AppSpec as YAML.
func SetTaskDefinition(appspec []byte, arn string) (string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(appspec, &doc); err != nil {
		return "", fmt.Errorf("appspec: %w", err)
	}
	set := 0
	if root := value(&doc, ""); root != nil {
		if res := value(root, "Resources"); res != nil && res.Kind == yaml.SequenceNode {
			for _, r := range res.Content {
				if r.Kind != yaml.MappingNode || len(r.Content) < 2 {
					continue
				}
				// Each resource is a one-key map: its name → {Type, Properties}.
				props := value(value(r.Content[1], "Properties"), "TaskDefinition")
				if props == nil || props.Kind != yaml.ScalarNode {
					continue
				}
				props.Value, props.Tag, props.Style = arn, "!!str", 0
				set++
			}
		}
	}
	if set == 0 {
		return "", errors.New("appspec has no Resources[].<name>.Properties.TaskDefinition to set")
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		return "", fmt.Errorf("appspec: %w", err)
	}
	return string(out), nil
}

// value returns the value of key in mapping n (the document's root for key "").
func value(n *yaml.Node, key string) *yaml.Node {
	if n == nil {
		return nil
	}
	if key == "" {
		if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
			return n.Content[0]
		}
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// Start registers the filled task definition and creates the CodeDeploy deployment.
func (p *Provider) Start(ctx context.Context, req deploy.Request) (deploy.Wait, error) {
	app, group := req.String("application"), req.String("deployment_group")
	if app == "" || group == "" {
		return deploy.Wait{}, errors.New("codedeploy: application and deployment_group are required")
	}
	placeholder := req.String("image_placeholder")
	if placeholder == "" {
		placeholder = DefaultPlaceholder
	}
	var image string
	if req.String("image_details") != "" {
		raw, err := req.ReadFile(ctx, "image_details")
		if err != nil {
			return deploy.Wait{}, fmt.Errorf("codedeploy: %w", err)
		}
		if image, err = ImageURI(raw); err != nil {
			return deploy.Wait{}, fmt.Errorf("codedeploy: %w", err)
		}
	}
	tmpl, err := req.ReadFile(ctx, "task_definition")
	if err != nil {
		return deploy.Wait{}, fmt.Errorf("codedeploy: %w", err)
	}
	spec, err := req.ReadFile(ctx, "appspec")
	if err != nil {
		return deploy.Wait{}, fmt.Errorf("codedeploy: %w", err)
	}
	in, err := FillTaskDefinition(tmpl, placeholder, image)
	if err != nil {
		return deploy.Wait{}, fmt.Errorf("codedeploy: %w", err)
	}
	reg, err := p.tasks.RegisterTaskDefinition(ctx, in)
	if err != nil {
		return deploy.Wait{}, fmt.Errorf("codedeploy: register task definition %s: %w", aws.ToString(in.Family), err)
	}
	arn := aws.ToString(reg.TaskDefinition.TaskDefinitionArn)
	content, err := SetTaskDefinition(spec, arn)
	if err != nil {
		return deploy.Wait{}, fmt.Errorf("codedeploy: %w", err)
	}
	sum := sha256.Sum256([]byte(content))
	out, err := p.deployments.CreateDeployment(ctx, &awscd.CreateDeploymentInput{
		ApplicationName:     aws.String(app),
		DeploymentGroupName: aws.String(group),
		Description:         aws.String(clip(fmt.Sprintf("stepline %s %s/%s: %s", req.Run, req.Stage, req.Action, arn), 100)),
		Revision: &cdtypes.RevisionLocation{
			RevisionType: cdtypes.RevisionLocationTypeAppSpecContent,
			AppSpecContent: &cdtypes.AppSpecContent{
				Content: aws.String(content),
				Sha256:  aws.String(hex.EncodeToString(sum[:])),
			},
		},
	})
	if err != nil {
		return deploy.Wait{}, fmt.Errorf("codedeploy: create deployment of %s to %s/%s: %w", arn, app, group, err)
	}
	id := aws.ToString(out.DeploymentId)
	return deploy.Wait{
		Provider: Name,
		Key:      id,
		Resource: groupARN(arn, app, group),
		What:     fmt.Sprintf("CodeDeploy deployment %s of %s to deployment group %s/%s to succeed", id, arn, app, group),
		Started:  p.now(),
	}, nil
}

// groupARN is the deployment group's ARN, in the region and account of the task definition
// just registered (arn:aws:ecs:REGION:ACCOUNT:task-definition/...): the event's resources
// name it, and IAM scopes on it.
func groupARN(taskDefinition, app, group string) string {
	parts := strings.SplitN(taskDefinition, ":", 6)
	if len(parts) < 6 {
		return ""
	}
	return fmt.Sprintf("arn:%s:codedeploy:%s:%s:deploymentgroup:%s/%s", parts[1], parts[3], parts[4], app, group)
}

// Poll reads the deployment's status from GetDeployment.
func (p *Provider) Poll(ctx context.Context, w deploy.Wait) (deploy.Outcome, error) {
	if w.Done {
		return w.Outcome, nil
	}
	out, err := p.deployments.GetDeployment(ctx, &awscd.GetDeploymentInput{DeploymentId: aws.String(w.Key)})
	if err != nil {
		return deploy.Outcome{}, fmt.Errorf("codedeploy: get deployment %s: %w", w.Key, err)
	}
	return Status(out.DeploymentInfo), nil
}

// Status is what GetDeployment's answer means: Succeeded, Failed and Stopped are final; a
// rollback CodeDeploy started for a failed deployment is reported with its id.
func Status(d *cdtypes.DeploymentInfo) deploy.Outcome {
	if d == nil {
		return deploy.Outcome{}
	}
	where := deployment(aws.ToString(d.DeploymentId), aws.ToString(d.ApplicationName), aws.ToString(d.DeploymentGroupName))
	var o deploy.Outcome
	switch d.Status {
	case cdtypes.DeploymentStatusSucceeded:
		return deploy.Outcome{Done: true, Succeeded: true, Message: where + " succeeded"}
	case cdtypes.DeploymentStatusFailed:
		o = deploy.Outcome{Done: true, Message: where + " failed"}
	case cdtypes.DeploymentStatusStopped:
		o = deploy.Outcome{Done: true, Message: where + " was stopped"}
	default:
		return deploy.Outcome{}
	}
	if e := d.ErrorInformation; e != nil && aws.ToString(e.Message) != "" {
		o.Message += fmt.Sprintf(": %s (%s)", aws.ToString(e.Message), e.Code)
	}
	if r := d.RollbackInfo; r != nil && aws.ToString(r.RollbackDeploymentId) != "" {
		o.RolledBack = true
		o.Message += fmt.Sprintf("; CodeDeploy rolls back with deployment %s", aws.ToString(r.RollbackDeploymentId))
		if m := aws.ToString(r.RollbackMessage); m != "" {
			o.Message += ": " + m
		}
	}
	return o
}

// DetailType is the detail-type of CodeDeploy's deployment events (source aws.codedeploy):
// https://docs.aws.amazon.com/codedeploy/latest/userguide/monitoring-cloudwatch-events.html
const DetailType = "CodeDeploy Deployment State-change Notification"

// Match reads a "CodeDeploy Deployment State-change Notification": SUCCESS, FAILURE and STOP
// finish the deployment named by deploymentId; START, READY (a blue/green deployment waiting
// to reroute traffic) and any other state finish nothing. The event does not say whether
// CodeDeploy rolls a failed deployment back; Poll (GetDeployment) does.
func (p *Provider) Match(detailType string, detail json.RawMessage) (string, deploy.Outcome, bool) {
	if detailType != DetailType {
		return "", deploy.Outcome{}, false
	}
	var d struct {
		DeploymentID    string `json:"deploymentId"`
		State           string `json:"state"`
		Application     string `json:"application"`
		DeploymentGroup string `json:"deploymentGroup"`
	}
	if err := json.Unmarshal(detail, &d); err != nil || d.DeploymentID == "" {
		return "", deploy.Outcome{}, false
	}
	where := deployment(d.DeploymentID, d.Application, d.DeploymentGroup)
	switch d.State {
	case "SUCCESS":
		return d.DeploymentID, deploy.Outcome{Done: true, Succeeded: true, Message: where + " succeeded"}, true
	case "FAILURE":
		return d.DeploymentID, deploy.Outcome{Done: true, Message: where + " failed"}, true
	case "STOP":
		return d.DeploymentID, deploy.Outcome{Done: true, Message: where + " was stopped"}, true
	}
	return "", deploy.Outcome{}, false
}

// deployment names a deployment the same way in an event's outcome and in Poll's.
func deployment(id, app, group string) string {
	return fmt.Sprintf("CodeDeploy deployment %s to %s/%s", id, app, group)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
