package stepline_test

import (
	"archive/zip"
	"encoding/json"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/infra/stepline"
	"github.com/stepline/stepline/pkg/iamcheck"
	"github.com/stepline/stepline/pkg/webhook"
)

// The parity test: template.yml (after the SAM transform, offline) and the CDK construct
// describe the same stack. Both are read as CloudFormation and reduced to what a deployment
// means: the functions (which zip, runtime, architecture, environment variable names), what
// invokes them (EventBridge rules, HTTP routes, Lambda permissions), the state machine's file
// and substitutions, and the IAM actions of every role. Resource shapes that only differ in
// form (SAM writes routes into the API's OpenAPI body, CDK as Route resources) are compared
// after normalising.

const repoRoot = "../.."

// samTemplate transforms template.yml with scripts/sam-transform.py, which fails loudly when
// python3 or aws-sam-translator is missing.
func samTemplate(t *testing.T) map[string]any {
	t.Helper()
	out := filepath.Join(t.TempDir(), "sam.json")
	cmd := exec.Command("python3", filepath.Join(repoRoot, "scripts", "sam-transform.py"), filepath.Join(repoRoot, "template.yml"), out)
	msg, err := cmd.CombinedOutput()
	require.NoError(t, err, "the SAM transform (python3 and aws-sam-translator are preinstalled in the image): %s", msg)
	raw, err := os.ReadFile(out)
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(raw, &doc))
	return doc
}

// markedZips writes one zip per function whose bootstrap names the function, so the CDK
// template's assets can be traced back to the zip each function was given.
func markedZips(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, fn := range stepline.FunctionNames() {
		f, err := os.Create(filepath.Join(dir, fn+".zip"))
		require.NoError(t, err)
		zw := zip.NewWriter(f)
		w, err := zw.Create("bootstrap")
		require.NoError(t, err)
		_, err = io.WriteString(w, "stepline-function:"+fn)
		require.NoError(t, err)
		require.NoError(t, zw.Close())
		require.NoError(t, f.Close())
	}
	return dir
}

// cdkTemplate synthesizes the construct against marked zips and returns the template and the
// cloud assembly directory holding the staged assets.
func cdkTemplate(t *testing.T) (map[string]any, string) {
	t.Helper()
	out := t.TempDir()
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(out), AnalyticsReporting: jsii.Bool(false)})
	// With every deploy target and an ECR repository named, so the stack holds everything SAM's conditions may add.
	stack := stepline.NewStack(app, "Parity", &stepline.StackProps{Props: withDeployTargets(stepline.Props{FunctionsDir: markedZips(t), EcrRepositories: []string{"api"}})})
	app.Synth(nil)
	raw, err := json.Marshal(assertions.Template_FromStack(stack, nil).ToJSON())
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(raw, &doc))
	return doc, out
}

// cdkZipOf names the function whose marked zip the CDK template deploys for a function's Code.
func cdkZipOf(t *testing.T, assembly string, code map[string]any) string {
	t.Helper()
	key, _ := code["S3Key"].(string)
	require.NotEmpty(t, key, "the CDK function's code is an S3 asset: %v", code)
	hash := strings.TrimSuffix(key, ".zip")
	zr, err := zip.OpenReader(filepath.Join(assembly, "asset."+hash+".zip"))
	require.NoError(t, err, "the staged asset of %s", key)
	defer zr.Close()
	for _, f := range zr.File {
		if f.Name == "bootstrap" {
			r, err := f.Open()
			require.NoError(t, err)
			b, err := io.ReadAll(r)
			require.NoError(t, err)
			return strings.TrimPrefix(string(b), "stepline-function:") + ".zip"
		}
	}
	t.Fatalf("asset %s has no bootstrap", key)
	return ""
}

// samZipOf names the zip a transformed SAM function deploys (its CodeUri, as sam-transform.py
// keeps it in the placeholder key).
func samZipOf(code map[string]any) string {
	key, _ := code["S3Key"].(string)
	return filepath.Base(key)
}

// logicalID reads the logical id out of a Ref, a GetAtt, or a Sub naming ${Id.Arn}.
func logicalID(v any) string {
	switch v := v.(type) {
	case map[string]any:
		if r, ok := v["Ref"].(string); ok {
			return r
		}
		if g, ok := v["Fn::GetAtt"].([]any); ok && len(g) > 0 {
			s, _ := g[0].(string)
			return s
		}
		if s, ok := v["Fn::Sub"].(string); ok {
			if m := subArnRE.FindStringSubmatch(s); m != nil {
				return m[1]
			}
		}
	case string:
		return v
	}
	return ""
}

var subArnRE = regexp.MustCompile(`\$\{([A-Za-z0-9]+)\.Arn\}`)

func envNames(props map[string]any) []string {
	env, _ := props["Environment"].(map[string]any)
	vars, _ := env["Variables"].(map[string]any)
	var names []string
	for k := range vars {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

func TestSamAndCdkDeployTheSameFunctions(t *testing.T) {
	sam := samTemplate(t)
	cdk, assembly := cdkTemplate(t)
	samFns, cdkFns := resources(sam, "AWS::Lambda::Function"), resources(cdk, "AWS::Lambda::Function")
	require.ElementsMatch(t, keys(samFns), keys(cdkFns), "the same functions, by logical id")

	// Every function in the repository is deployed by both.
	dirs, err := filepath.Glob(filepath.Join(repoRoot, "functions", "*", "main.go"))
	require.NoError(t, err)
	var want []string
	for _, d := range dirs {
		want = append(want, filepath.Base(filepath.Dir(d))+".zip")
	}
	var deployed []string
	for id, s := range samFns {
		c := cdkFns[id]
		zipName := samZipOf(s["Code"].(map[string]any))
		deployed = append(deployed, zipName)
		assert.Equal(t, zipName, cdkZipOf(t, assembly, c["Code"].(map[string]any)), "%s: the same handler zip", id)
		for _, k := range []string{"Handler", "Runtime", "Architectures", "MemorySize", "Timeout", "LoggingConfig"} {
			assert.Equal(t, norm(s[k]), norm(c[k]), "%s: %s", id, k)
		}
		assert.Equal(t, envNames(s), envNames(c), "%s: environment variable names", id)
		assert.Equal(t, named(s["FunctionName"]), named(c["FunctionName"]), "%s: name", id)
		assert.Equal(t, logicalID(s["Role"]), logicalID(c["Role"]), "%s: role", id)
	}
	assert.ElementsMatch(t, want, deployed, "every functions/*/main.go is deployed, and nothing else")
}

// norm turns CloudFormation scalars into comparable values: numbers may be written as
// strings in one template and as numbers in the other.
func norm(v any) any {
	switch v := v.(type) {
	case float64:
		return strings.TrimSuffix(strings.TrimRight(jsonString(v), "0"), ".")
	case string:
		return v
	case map[string]any, []any:
		return jsonString(v)
	}
	return v
}

// named resolves a physical name: SAM writes !Sub "${Name}-x" with the Name parameter, CDK
// the literal with the prop; both default to "stepline".
func named(v any) string {
	if m, ok := v.(map[string]any); ok {
		if sub, ok := m["Fn::Sub"].(string); ok {
			return strings.ReplaceAll(sub, "${Name}", "stepline")
		}
	}
	if s, ok := v.(string); ok {
		return s
	}
	return jsonString(v)
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func keys[M ~map[string]V, V any](m M) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// invokers lists what invokes what: rule → targets with the rule's bus and pattern, HTTP
// route → function, Lambda permissions (principal → function), and queue → function with the
// event source mapping's settings.
func invokers(t *testing.T, doc map[string]any) []string {
	t.Helper()
	raw, err := json.Marshal(doc)
	require.NoError(t, err)
	tmpl, err := iamcheck.ParseTemplate(raw)
	require.NoError(t, err)
	tmpl.SetParameters(deployTargets)
	var out []string
	for id, r := range resources(doc, "AWS::Events::Rule") {
		r["EventPattern"] = resolved(t, tmpl, r["EventPattern"])
		bus := logicalID(r["EventBusName"])
		if bus == "" {
			bus = "default"
		}
		for _, tg := range r["Targets"].([]any) {
			target := tg.(map[string]any)
			dlq, _ := target["DeadLetterConfig"].(map[string]any)
			out = append(out, "rule "+id+" on "+bus+" "+jsonString(r["EventPattern"])+" -> "+logicalID(target["Arn"])+" dlq "+logicalID(dlq["Arn"]))
		}
	}
	// CDK: Route resources pointing at integrations.
	integrations := resources(doc, "AWS::ApiGatewayV2::Integration")
	for _, r := range resources(doc, "AWS::ApiGatewayV2::Route") {
		target, _ := r["Target"].(map[string]any)
		integ := ""
		if j, ok := target["Fn::Join"].([]any); ok {
			for _, part := range j[1].([]any) {
				if id := logicalID(part); id != "" {
					integ = id
				}
			}
		}
		out = append(out, "route "+r["RouteKey"].(string)+" -> "+logicalID(integrations[integ]["IntegrationUri"]))
	}
	// SAM: the routes in the API's OpenAPI body.
	for _, api := range resources(doc, "AWS::ApiGatewayV2::Api") {
		body, _ := api["Body"].(map[string]any)
		paths, _ := body["paths"].(map[string]any)
		for path, p := range paths {
			for method, op := range p.(map[string]any) {
				integ, _ := op.(map[string]any)["x-amazon-apigateway-integration"].(map[string]any)
				out = append(out, "route "+strings.ToUpper(method)+" "+path+" -> "+logicalID(integ["uri"]))
			}
		}
	}
	perms := map[string]bool{}
	for _, p := range resources(doc, "AWS::Lambda::Permission") {
		perms["permission "+p["Principal"].(string)+" -> "+logicalID(p["FunctionName"])] = true
	}
	out = append(out, keys(perms)...)
	for _, c := range resources(doc, "AWS::Lambda::EventInvokeConfig") {
		dest, _ := c["DestinationConfig"].(map[string]any)
		onFailure, _ := dest["OnFailure"].(map[string]any)
		out = append(out, "async "+logicalID(c["FunctionName"])+" "+named(c["Qualifier"])+" retries "+jsonString(c["MaximumRetryAttempts"])+
			" max age "+jsonString(c["MaximumEventAgeInSeconds"])+" failures -> "+logicalID(onFailure["Destination"]))
	}
	for id, m := range resources(doc, "AWS::Lambda::EventSourceMapping") {
		out = append(out, "mapping "+id+" "+logicalID(m["EventSourceArn"])+" -> "+logicalID(m["FunctionName"])+
			" batch "+jsonString(m["BatchSize"])+" window "+jsonString(m["MaximumBatchingWindowInSeconds"])+
			" responses "+jsonString(m["FunctionResponseTypes"]))
	}
	// The queues' settings: retries and redrive decide what is lost.
	for id, q := range resources(doc, "AWS::SQS::Queue") {
		out = append(out, "queue "+id+" "+named(q["QueueName"])+" visibility "+jsonString(q["VisibilityTimeout"])+
			" retention "+jsonString(q["MessageRetentionPeriod"])+" redrive "+jsonString(redrive(q["RedrivePolicy"])))
	}
	sort.Strings(out)
	return out
}

func TestSamAndCdkWireTheSameEventSources(t *testing.T) {
	sam := samTemplate(t)
	cdk, _ := cdkTemplate(t)
	s, c := invokers(t, sam), invokers(t, cdk)
	assert.Equal(t, s, c)
	// Not vacuous: the routes and rules are there.
	for _, want := range []string{"route POST /webhooks/{provider}/{hook} -> WebhookFunction", "route GET /approvals/{run}/{task} -> CallbackFunction",
		"route POST /approvals/{run}/{task} -> CallbackFunction"} {
		assert.Contains(t, c, want)
	}
	assert.NotEmpty(t, slices.DeleteFunc(slices.Clone(c), func(s string) bool { return !strings.HasPrefix(s, "rule SourceEventRule") }))
	assert.Contains(t, c, "mapping TriggerFunctionQueueMapping TriggerQueue -> TriggerFunction batch 10 window 1 responses [\"ReportBatchItemFailures\"]")
	assert.Contains(t, c, "mapping NotifyFunctionQueueMapping NotifyQueue -> NotifyFunction batch 10 window 1 responses [\"ReportBatchItemFailures\"]")
	assert.NotEmpty(t, slices.DeleteFunc(slices.Clone(c), func(s string) bool { return !strings.HasPrefix(s, "rule NotificationRule") }))
	assert.Contains(t, c, "permission events.amazonaws.com -> AdvanceFunction", "ExecutionEndedRule may invoke the advance function")
	assert.Contains(t, c, "async AdvanceFunction $LATEST retries 2 max age 21600 failures -> DeadLetterQueue")
	assert.NotEmpty(t, slices.DeleteFunc(slices.Clone(c), func(s string) bool { return !strings.HasPrefix(s, "rule ExecutionEndedRule on default ") }))
}

// redrive keeps a RedrivePolicy's target by logical id and its receive count as a number.
func redrive(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	return map[string]any{"deadLetterTargetArn": logicalID(m["deadLetterTargetArn"]), "maxReceiveCount": m["maxReceiveCount"]}
}

// TestSamAllowedRepositoriesPatternIsParseAllowed checks the AllowedPattern of SAM's
// AllowedRepositories parameter against webhook.ParseAllowed, which the webhook function
// runs at start: whatever the pattern lets through must parse (or the function would exit at
// every start), and the usual lists must pass. CloudFormation matches AllowedPattern as Java
// does, against the whole value; the pattern uses only what Java and Go agree on.
func TestSamAllowedRepositoriesPatternIsParseAllowed(t *testing.T) {
	sam := samTemplate(t)
	param := sam["Parameters"].(map[string]any)["AllowedRepositories"].(map[string]any)
	pattern, _ := param["AllowedPattern"].(string)
	require.NotEmpty(t, pattern)
	re := regexp.MustCompile(`^(?:` + pattern + `)$`)
	for _, ok := range []string{"", " ", ",", "github:acme/*", "github:acme/*,bitbucket:acme/api", " github:acme/* , bitbucket-server:OPS/deploy,",
		"github:acme/api-?", "github:a/[a-z]*", "github:a/[^x-z\\]]", "github:a/b\\*", "bitbucket:Team.Name/Repo_1", "github:*/*"} {
		assert.True(t, re.MatchString(ok), "the pattern refuses %q", ok)
		_, err := webhook.ParseAllowed(ok)
		assert.NoError(t, err, "ParseAllowed refuses %q", ok)
	}
	for _, bad := range []string{"acme/*", "gitlab:acme/api", "github:api", "github:acme/[api", "github:acme/api\\", "github:a/[]", "github:a/[-z]",
		"github:a/[a-]", "github :a/b", "GitHub:a/b", "codecommit:a/b", "github:a/b,gitlab:c/d", "github:a/b\\ "} {
		_, err := webhook.ParseAllowed(bad)
		require.Error(t, err, "ParseAllowed accepts %q: the case is no case", bad)
		assert.False(t, re.MatchString(bad), "the pattern accepts %q, which the webhook refuses", bad)
	}
	// Random lists over the characters that matter: never looser than ParseAllowed.
	rng := rand.New(rand.NewPCG(1, 2))
	parts := []string{"github:", "bitbucket:", "bitbucket-server:", "gitlab:", "a", "B", "/", "*", "?", "[", "]", "^", "-", "\\", ",", " ", "\t", ":", "."}
	accepted := 0
	for range 50000 {
		var b strings.Builder
		for range 1 + rng.IntN(12) {
			b.WriteString(parts[rng.IntN(len(parts))])
		}
		in := b.String()
		if re.MatchString(in) {
			accepted++
			_, err := webhook.ParseAllowed(in)
			assert.NoError(t, err, "the pattern accepts %q, which the webhook refuses", in)
		}
	}
	assert.Greater(t, accepted, 100, "not vacuous")
}

func TestSamAndCdkRunTheSameStateMachineFile(t *testing.T) {
	sam := samTemplate(t)
	cdk, _ := cdkTemplate(t)
	s := resources(sam, "AWS::StepFunctions::StateMachine")["PipelineStateMachine"]
	c := resources(cdk, "AWS::StepFunctions::StateMachine")["PipelineStateMachine"]
	require.NotNil(t, s)
	require.NotNil(t, c)

	file, err := os.ReadFile(filepath.Join(repoRoot, "pkg", "statemachine", "pipeline.asl.json"))
	require.NoError(t, err)
	loc, _ := s["DefinitionS3Location"].(map[string]any)
	assert.Equal(t, "pkg/statemachine/pipeline.asl.json", loc["Key"], "SAM uploads the file itself")
	assert.Equal(t, string(file), c["DefinitionString"], "CDK inlines the same bytes")

	subst := func(m map[string]any) map[string]string {
		out := map[string]string{}
		for k, v := range m["DefinitionSubstitutions"].(map[string]any) {
			out[k] = logicalID(v)
		}
		return out
	}
	assert.Equal(t, subst(s), subst(c))
	for _, k := range []string{"StateMachineType", "TracingConfiguration"} {
		assert.Equal(t, norm(s[k]), norm(c[k]), k)
	}
	assert.Equal(t, named(s["StateMachineName"]), named(c["StateMachineName"]))
	assert.Equal(t, logicalID(s["RoleArn"]), logicalID(c["RoleArn"]))
}

// actions maps each role to the sorted actions of its inline policies and of any
// AWS::IAM::Policy attached to it, with a PassRole marker saying whether it is conditioned.
func actions(t *testing.T, doc map[string]any) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	add := func(role string, stmts []any) {
		for _, st := range stmts {
			s := st.(map[string]any)
			// SAM grants a deploy target's actions with Fn::If [condition, statement, none].
			if branches, ok := s["Fn::If"].([]any); ok {
				s = branches[1].(map[string]any)
			}
			for _, a := range strs(s["Action"]) {
				if a == "iam:PassRole" {
					cond := jsonString(s["Condition"])
					a += " if " + cond
				}
				out[role] = append(out[role], s["Effect"].(string)+" "+a)
			}
		}
	}
	for id, r := range resources(doc, "AWS::IAM::Role") {
		out[id] = nil
		policies, _ := r["Policies"].([]any)
		for _, p := range policies {
			add(id, p.(map[string]any)["PolicyDocument"].(map[string]any)["Statement"].([]any))
		}
		if id != "BuildProjectRole" {
			// BuildProjectRole's are the operator's BuildPolicyArns (buildpolicy_test.go).
			assert.Empty(t, r["ManagedPolicyArns"], "%s: no managed policies", id)
		}
	}
	for _, p := range resources(doc, "AWS::IAM::Policy") {
		for _, role := range p["Roles"].([]any) {
			add(logicalID(role), p["PolicyDocument"].(map[string]any)["Statement"].([]any))
		}
	}
	for id := range out {
		sort.Strings(out[id])
	}
	return out
}

func TestSamAndCdkGrantTheSameActions(t *testing.T) {
	sam := samTemplate(t)
	cdk, _ := cdkTemplate(t)
	s, c := actions(t, sam), actions(t, cdk)
	assert.Equal(t, keys(s), keys(c), "the same roles")
	for id := range s {
		assert.Equal(t, s[id], c[id], "%s: the same actions", id)
	}
	require.Contains(t, c, "WebhookFunctionRole")
	assert.Contains(t, c["WebhookFunctionRole"], "Allow events:PutEvents", "not vacuous")
}
