package stepline

import (
	"encoding/json"
	"regexp"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"
)

// Route keys of the HTTP API.
const (
	routeWebhook      = "POST /webhooks/{provider}/{hook}"
	routeApprovalGet  = "GET /approvals/{run}/{task}"
	routeApprovalPost = "POST /approvals/{run}/{task}"
)

// Throttling of the $default stage, requests per second and burst.
const (
	defaultRateLimit  = 50
	defaultBurstLimit = 100
	webhookRateLimit  = 20
	webhookBurstLimit = 40
)

// accessLogFormat is the stage's JSON access log line; the request id ties it to the
// function's own log lines.
var accessLogFormat = func() string {
	b, err := json.Marshal(map[string]string{
		"requestId":        "$context.requestId",
		"ip":               "$context.identity.sourceIp",
		"requestTime":      "$context.requestTime",
		"httpMethod":       "$context.httpMethod",
		"routeKey":         "$context.routeKey",
		"path":             "$context.path",
		"status":           "$context.status",
		"responseLength":   "$context.responseLength",
		"responseLatency":  "$context.responseLatency",
		"integrationError": "$context.integrationErrorMessage",
	})
	if err != nil {
		panic(err)
	}
	return string(b)
}()

// api creates the HTTP API alone: the wait function needs its URL, and the routes need the
// functions, so the routes come later (routes).
func (s *Stepline) api() {
	s.HttpApi = awsapigatewayv2.NewCfnApi(s.Construct, jsii.String("HttpApi"), &awsapigatewayv2.CfnApiProps{
		Name:         jsii.String(s.Props.Name),
		ProtocolType: jsii.String("HTTP"),
		Description:  jsii.String("stepline webhooks and approval links"),
	})
	s.HttpApi.OverrideLogicalId(jsii.String("HttpApi"))
}

// routes wires the webhook and callback functions to the API and creates the auto-deployed
// $default stage with access logs and throttling.
func (s *Stepline) routes() {
	webhook := s.integration("WebhookIntegration", s.Functions["webhook"])
	callback := s.integration("CallbackIntegration", s.Functions["callback"])
	webhookRoute := s.route("WebhookRoute", routeWebhook, webhook, "WebhookFunctionWebhookPermission", s.Functions["webhook"])
	s.route("ApprovalGetRoute", routeApprovalGet, callback, "CallbackFunctionApprovalGetPermission", s.Functions["callback"])
	s.route("ApprovalPostRoute", routeApprovalPost, callback, "CallbackFunctionApprovalPostPermission", s.Functions["callback"])

	logs := s.logGroup("ApiAccessLogGroup", "/aws/vendedlogs/apigateway/"+s.Props.Name)
	stage := awsapigatewayv2.NewCfnStage(s.Construct, jsii.String("HttpApiApiGatewayDefaultStage"), &awsapigatewayv2.CfnStageProps{
		ApiId:      s.HttpApi.Ref(),
		StageName:  jsii.String("$default"),
		AutoDeploy: jsii.Bool(true),
		AccessLogSettings: &awsapigatewayv2.CfnStage_AccessLogSettingsProperty{
			DestinationArn: logs.AttrArn(),
			Format:         jsii.String(accessLogFormat),
		},
		DefaultRouteSettings: &awsapigatewayv2.CfnStage_RouteSettingsProperty{
			ThrottlingRateLimit:  jsii.Number(defaultRateLimit),
			ThrottlingBurstLimit: jsii.Number(defaultBurstLimit),
		},
		// Webhooks get a lower limit of their own: a flood of deliveries must not take the
		// approval links down with it.
		RouteSettings: map[string]any{
			routeWebhook: map[string]any{
				"ThrottlingRateLimit":  float64(webhookRateLimit),
				"ThrottlingBurstLimit": float64(webhookBurstLimit),
			},
		},
	})
	stage.OverrideLogicalId(jsii.String("HttpApiApiGatewayDefaultStage"))
	// Route settings may only name a route that exists.
	stage.AddResourceDependency(webhookRoute, jsii.String("route settings may only name an existing route"))
}

// integration creates the Lambda proxy integration of fn.
func (s *Stepline) integration(id string, fn awslambda.CfnFunction) awsapigatewayv2.CfnIntegration {
	integration := awsapigatewayv2.NewCfnIntegration(s.Construct, jsii.String(id), &awsapigatewayv2.CfnIntegrationProps{
		ApiId:                s.HttpApi.Ref(),
		IntegrationType:      jsii.String("AWS_PROXY"),
		IntegrationUri:       fn.AttrArn(),
		PayloadFormatVersion: jsii.String("2.0"),
	})
	integration.OverrideLogicalId(jsii.String(id))
	return integration
}

// route creates the route key to integration and the permission that lets API Gateway
// invoke fn for that route only. The permission's id is the one SAM gives the function's
// HttpApi event, so the two templates keep the same logical ids.
func (s *Stepline) route(id, key string, integration awsapigatewayv2.CfnIntegration, permissionID string, fn awslambda.CfnFunction) awsapigatewayv2.CfnRoute {
	r := awsapigatewayv2.NewCfnRoute(s.Construct, jsii.String(id), &awsapigatewayv2.CfnRouteProps{
		ApiId:    s.HttpApi.Ref(),
		RouteKey: jsii.String(key),
		Target:   awscdk.Fn_Join(jsii.String("/"), &[]*string{jsii.String("integrations"), integration.Ref()}),
	})
	r.OverrideLogicalId(jsii.String(id))

	method, path, _ := strings.Cut(key, " ")
	permission := awslambda.NewCfnPermission(s.Construct, jsii.String(permissionID), &awslambda.CfnPermissionProps{
		Action:       jsii.String("lambda:InvokeFunction"),
		FunctionName: fn.AttrArn(),
		Principal:    jsii.String("apigateway.amazonaws.com"),
		// execute-api ARNs end in stage/method/path; path parameters match any segment.
		SourceArn: awscdk.Fn_Sub(
			jsii.String("arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${Api}/*/"+method+pathParameter.ReplaceAllString(path, "*")),
			&map[string]*string{"Api": s.HttpApi.Ref()}),
	})
	permission.OverrideLogicalId(jsii.String(permissionID))
	return r
}

// pathParameter matches a {parameter} of a route key's path.
var pathParameter = regexp.MustCompile(`\{[^}]+\}`)
