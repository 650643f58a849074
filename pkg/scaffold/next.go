package scaffold

import (
	"fmt"
	"strings"

	"github.com/stepline/stepline/pkg/scm"
)

// StackParameter is one parameter of the stepline stack (docs/stack.md) a template's deploys
// need, with the value the answers give it.
type StackParameter struct {
	Name, Value string
	// Why says what needs it.
	Why string
}

// StackParameters returns the stepline stack's deploy targets the template's pipelines
// deploy to: without them the deploys fail with AccessDenied (docs/stack.md, "Deploy
// targets"). Branch globs have no cluster name to list; Note says so.
func (t Template) StackParameters(a Answers) []StackParameter {
	role := "<the CloudFormation service role of DEPLOY_ROLE>"
	out := []StackParameter{{Name: "StackNamePrefix", Value: a.Name + "-", Why: "provider cloudformation deploys the stacks " + a.Name + "-*"}}
	switch t.Name {
	case "ecs-service", "ecs-bluegreen":
		clusters := []string{a.Name + "-production"}
		for _, b := range a.Branches {
			if b != a.ProductionBranch && !strings.ContainsAny(b, "*?[{") {
				clusters = append(clusters, a.Name+"-br-"+scm.Slug(b))
			}
		}
		out = append(out,
			StackParameter{Name: "EcrRepositories", Value: a.Name, Why: "the build pushes the image there"},
			StackParameter{Name: "EcsClusters", Value: strings.Join(clusters, ","), Why: "provider ecs updates their services (add br-<branch> clusters of branch patterns as they appear)"},
			StackParameter{Name: "DeployRoleArns", Value: role + ",arn:aws:iam::<account>:role/" + a.Name + "-task-execution", Why: "the stacks are deployed with DEPLOY_ROLE; provider ecs passes the tasks' execution role"})
	case "sam-api":
		out = append(out,
			StackParameter{Name: "DeployRoleArns", Value: role, Why: "the stacks are deployed with DEPLOY_ROLE"},
			t.buildPolicy(a, "sam package reads and writes the code in the bucket of infra/packages.yml"))
	case "static-site":
		out = append(out,
			StackParameter{Name: "DeployBuckets", Value: fmt.Sprintf("%s-site-<account>-%s", a.Name, a.Region), Why: "provider s3 uploads the site there"},
			StackParameter{Name: "DeployRoleArns", Value: role, Why: "the stack is deployed with DEPLOY_ROLE"})
		if t.writes(BuildPolicyFile, a) {
			out = append(out, t.buildPolicy(a, "the Invalidate build calls cloudfront:CreateInvalidation on distribution "+a.Distribution))
		}
	}
	return out
}

// BuildPolicyFile is the policy document init writes when a template's builds call AWS
// beyond what the stepline stack grants every build (their artifacts, the EcrRepositories):
// a managed policy made from it goes in the stack's BuildPolicyArns.
const BuildPolicyFile = "ci/build-policy.json"

// BuildPolicyName is the name init tells the user to create BuildPolicyFile's policy with.
func BuildPolicyName(a Answers) string { return a.Name + "-build" }

func (t Template) buildPolicy(a Answers, why string) StackParameter {
	return StackParameter{Name: "BuildPolicyArns", Value: "arn:aws:iam::<account>:policy/" + BuildPolicyName(a),
		Why: why + ": the policy of " + BuildPolicyFile + ", attached to the role of trusted runs' builds only"}
}

// writes reports whether the answers make the template write the file at path.
func (t Template) writes(path string, a Answers) bool {
	for _, s := range t.files {
		if s.path == path && (s.when == nil || s.when(a)) {
			return true
		}
	}
	return false
}

// Next returns what to do after the files are written, one step a line.
func (t Template) Next(a Answers) []string {
	steps := []string{
		"git init -b " + a.ProductionBranch + " && git add -A && git commit -m 'stepline init' (if this is not a repository yet)",
		"stepline validate: every pipeline of .stepline.yml, and where it runs",
		"stepline run -p " + a.Name + "-test: the checks, on this machine",
	}
	switch t.Name {
	case "ecs-service", "ecs-bluegreen":
		steps = append(steps, "edit .stepline.yml: VPC_ID, SUBNETS (two public subnets) and DEPLOY_ROLE")
	case "sam-api":
		steps = append(steps, "edit .stepline.yml: DEPLOY_ROLE, and PACKAGE_BUCKET unless SAM's managed bucket suits you")
	case "static-site":
		steps = append(steps, "edit .stepline.yml: DEPLOY_ROLE")
	}
	if t.writes(BuildPolicyFile, a) {
		steps = append(steps, fmt.Sprintf("aws iam create-policy --policy-name %s --policy-document file://%s: what the builds call beyond what stepline grants them (BuildPolicyArns below)",
			BuildPolicyName(a), BuildPolicyFile))
	}
	steps = append(steps, "deploy stepline with these parameters (docs/stack.md), then register the repository: stepline repo add")
	return steps
}
