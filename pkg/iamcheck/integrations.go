package iamcheck

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Integration is what one form of a Task state's Resource needs from the state machine's
// role, as the Step Functions page of the integration ("IAM policies for …") says.
type Integration struct {
	// Resource is the Task Resource this row is for. "${…FunctionArn}" stands for a Lambda
	// function's ARN given through DefinitionSubstitutions.
	Resource string
	// Page is the AWS page the row follows.
	Page string
	// Actions are needed on every target of the state (targets).
	Actions []string
	// ManagedRules are the EventBridge rules Step Functions puts in the account to learn
	// that a job it started ended; the role needs ManagedRuleActions on each.
	ManagedRules []string
	// targets returns the resources Actions apply to, in template terms: what the state's
	// Parameters name, or, for a name chosen at run time (a ".$" path), the resources
	// stepline allows there.
	targets func(state map[string]any) ([]string, error)
}

// ManagedRuleActions are the actions a .sync integration needs on its managed rule.
var ManagedRuleActions = []string{"events:PutTargets", "events:PutRule", "events:DescribeRule"}

// lambdaFunction is a function ARN in template terms.
func lambdaFunction(name string) string {
	return "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:" + name
}

// invokedFunction is what a lambda:invoke state's FunctionName names: the substituted ARN it
// is given, or, when a path chooses it at run time, a user's action function, which
// docs/pipeline.md requires to be named <Name>-action-*.
func invokedFunction(state map[string]any) ([]string, error) {
	params, _ := state["Parameters"].(map[string]any)
	if name, ok := params["FunctionName"].(string); ok {
		if strings.HasPrefix(name, "arn:") || strings.HasPrefix(name, "${") {
			return []string{name}, nil
		}
		return []string{lambdaFunction(name)}, nil
	}
	if _, ok := params["FunctionName.$"]; ok {
		return []string{lambdaFunction("${Name}-action-example")}, nil
	}
	return nil, fmt.Errorf("names no FunctionName")
}

// Integrations has one row per Task Resource form pipeline.asl.json uses. A Task state whose
// Resource has no row fails TaskNeeds: a new integration gets its IAM written down here, with
// its page, before any test passes.
var Integrations = []Integration{
	{
		// Run a Job: StartBuild, then StopBuild if the state is stopped, and the build's
		// status through the managed rule (BatchGetBuilds while it polls).
		Resource:     "arn:aws:states:::codebuild:startBuild.sync",
		Page:         "https://docs.aws.amazon.com/step-functions/latest/dg/codebuild-iam.html",
		Actions:      []string{"codebuild:StartBuild", "codebuild:StopBuild", "codebuild:BatchGetBuilds"},
		ManagedRules: []string{"StepFunctionsGetEventForCodeBuildStartBuildRule"},
		targets: func(state map[string]any) ([]string, error) {
			params, _ := state["Parameters"].(map[string]any)
			project := "arn:${AWS::Partition}:codebuild:${AWS::Region}:${AWS::AccountId}:project/"
			if name, ok := params["ProjectName"].(string); ok {
				return []string{project + name}, nil
			}
			if _, ok := params["ProjectName.$"]; ok {
				// The stack's project, its untrusted runs' project (docs/trust.md), or one
				// the action names, which docs/pipeline.md requires to be named <Name>-*.
				return []string{project + "${BuildProject}", project + "${UntrustedBuildProject}", project + "${Name}-example"}, nil
			}
			return nil, fmt.Errorf("names no ProjectName")
		},
	},
	{
		// Request Response invocation of a function.
		Resource: "arn:aws:states:::lambda:invoke",
		Page:     "https://docs.aws.amazon.com/step-functions/latest/dg/lambda-iam.html",
		Actions:  []string{"lambda:InvokeFunction"},
		targets:  invokedFunction,
	},
	{
		// Wait for a Callback: the same invocation, with the task token in the payload.
		Resource: "arn:aws:states:::lambda:invoke.waitForTaskToken",
		Page:     "https://docs.aws.amazon.com/step-functions/latest/dg/lambda-iam.html",
		Actions:  []string{"lambda:InvokeFunction"},
		targets:  invokedFunction,
	},
	{
		// The function's ARN as the Resource: Step Functions invokes it directly
		// (https://docs.aws.amazon.com/step-functions/latest/dg/connect-lambda.html), which the
		// role authorizes as lambda:InvokeFunction on that function.
		Resource: "${…FunctionArn}",
		Page:     "https://docs.aws.amazon.com/step-functions/latest/dg/lambda-iam.html",
		Actions:  []string{"lambda:InvokeFunction"},
		targets: func(state map[string]any) ([]string, error) {
			r, _ := state["Resource"].(string)
			return []string{r}, nil
		},
	},
}

var functionArnRE = regexp.MustCompile(`^\$\{[A-Za-z0-9]+FunctionArn\}$`)

// row finds the Integration for a Task Resource.
func row(resource string) (Integration, bool) {
	for _, i := range Integrations {
		if i.Resource == resource || (i.Resource == "${…FunctionArn}" && functionArnRE.MatchString(resource)) {
			return i, true
		}
	}
	return Integration{}, false
}

// TaskNeed is what one Task state needs from the state machine's role.
type TaskNeed struct {
	// State is the state's path: Dispatch/MapCodeBuild for a state inside a Map.
	State, Resource, Page string
	// Requests are in template terms: ${AWS::…}, the definition's substitutions
	// (${AdvanceFunctionArn}), logical ids (${BuildProject}) and ${Name}, the stack's name.
	Requests []Request
}

// TaskNeeds walks every Task state of a state machine definition, those inside Map item
// processors and Parallel branches included, and looks each Resource up in Integrations.
// A Resource without a row is an error naming the state and the Resource.
func TaskNeeds(definition []byte) ([]TaskNeed, error) {
	var doc map[string]any
	if err := json.Unmarshal(definition, &doc); err != nil {
		return nil, fmt.Errorf("the definition: %w", err)
	}
	var out []TaskNeed
	var problems []string
	var walk func(prefix string, machine map[string]any)
	walk = func(prefix string, machine map[string]any) {
		states, _ := machine["States"].(map[string]any)
		for _, name := range sortedKeys(states) {
			state, _ := states[name].(map[string]any)
			path := prefix + name
			switch state["Type"] {
			case "Task":
				resource, _ := state["Resource"].(string)
				in, ok := row(resource)
				if !ok {
					problems = append(problems, fmt.Sprintf("state %s: Resource %q has no row in iamcheck.Integrations: add what it needs from the role, citing its AWS page", path, resource))
					continue
				}
				targets, err := in.targets(state)
				if err != nil {
					problems = append(problems, fmt.Sprintf("state %s (%s): %v", path, resource, err))
					continue
				}
				need := TaskNeed{State: path, Resource: resource, Page: in.Page}
				for _, target := range targets {
					for _, a := range in.Actions {
						need.Requests = append(need.Requests, Request{Action: a, Resource: target})
					}
				}
				for _, rule := range in.ManagedRules {
					for _, a := range ManagedRuleActions {
						need.Requests = append(need.Requests, Request{Action: a,
							Resource: "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/" + rule})
					}
				}
				out = append(out, need)
			case "Map":
				for _, key := range []string{"ItemProcessor", "Iterator"} {
					if sub, ok := state[key].(map[string]any); ok {
						walk(path+"/", sub)
					}
				}
			case "Parallel":
				branches, _ := state["Branches"].([]any)
				for i, b := range branches {
					if sub, ok := b.(map[string]any); ok {
						walk(fmt.Sprintf("%s/%d/", path, i), sub)
					}
				}
			}
		}
	}
	walk("", doc)
	if len(problems) > 0 {
		sort.Strings(problems)
		return out, fmt.Errorf("%s", strings.Join(problems, "\n"))
	}
	return out, nil
}

// CheckStateMachine evaluates what every Task state of definition needs (TaskNeeds) against
// the role of the state machine id in t, with the state machine's DefinitionSubstitutions
// and name (the stack's Name, for ${Name}) resolved, and returns one message per request the
// role does not allow, naming the state, its Resource and the page the row follows.
func CheckStateMachine(t *Template, id string, definition []byte, name string) []string {
	props, typ, err := t.resource(id)
	if err != nil {
		return []string{err.Error()}
	}
	if typ != "AWS::StepFunctions::StateMachine" {
		return []string{fmt.Sprintf("%s is a %s, not a state machine", id, typ)}
	}
	role := ""
	if r, ok := props["RoleArn"].(map[string]any); ok {
		if g, ok := r["Fn::GetAtt"].([]any); ok && len(g) == 2 {
			role, _ = g[0].(string)
		}
	}
	if role == "" {
		return []string{fmt.Sprintf("%s: its RoleArn is not the Arn of a role of the template: %v", id, props["RoleArn"])}
	}
	policy, err := t.RolePolicy(role)
	if err != nil {
		return []string{err.Error()}
	}
	vars := map[string]string{"Name": name}
	subs, _ := props["DefinitionSubstitutions"].(map[string]any)
	for k, v := range subs {
		if vars[k], err = t.String(v, nil); err != nil {
			return []string{fmt.Sprintf("%s: DefinitionSubstitutions %s: %v", id, k, err)}
		}
	}
	needs, err := TaskNeeds(definition)
	var problems []string
	if err != nil {
		problems = append(problems, err.Error())
	}
	for _, need := range needs {
		for _, q := range need.Requests {
			req, err := q.Resolve(t, vars)
			if err != nil {
				problems = append(problems, fmt.Sprintf("state %s (%s): %s: %v", need.State, need.Resource, q, err))
				continue
			}
			if !policy.Allows(req) {
				problems = append(problems, fmt.Sprintf("state %s (Resource %s) needs %s, which %s (role %s) does not allow (%s)\n  the role grants:\n%s",
					need.State, need.Resource, req, id, role, need.Page, policy.grants(req.Action)))
			}
		}
	}
	return problems
}
