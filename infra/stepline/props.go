package stepline

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"

	"github.com/stepline/stepline/pkg/webhook"
)

// Props configures a stepline stack. The zero value deploys a stack named "stepline" from the
// function zips `make build-functions` writes into the repository's dist/functions.
type Props struct {
	// Name prefixes every physical name, so two stacks can live in one account (default
	// "stepline"). Letters, digits and hyphens only, 3 to 55 characters: it is the table's
	// name (DynamoDB wants at least 3), ends up in Lambda function names ("<Name>-callback"
	// must fit in 64) and in ARNs built by hand.
	Name string
	// NotificationEmail is subscribed to the notification topic when set.
	NotificationEmail string
	// DashboardURL is the dashboard's URL of a run, which commit statuses and notifications
	// link to ("{run}" in it is the run id, otherwise /runs/<run id> is appended); empty links
	// to the execution's Step Functions console page.
	DashboardURL string
	// AllowedRepositories are the provider:owner/repo globs the webhook accepts
	// (webhook.ParseAllowed's rules); empty accepts every repository that has a secret.
	AllowedRepositories []string
	// EcrRepositories names at most 5 ECR repositories of the stack's account and region that
	// builds in BuildProject push images to and pull them from; empty (the default) gives the
	// project no ECR permission at all. SAM's EcrRepositories parameter, joined with commas.
	EcrRepositories []string
	// BuildPolicyArns are managed policies (at most 20, IAM's bound) attached to BuildProject's
	// role, the role of trusted runs' builds: what a pipeline's builds call beyond their
	// artifacts and the EcrRepositories (a CloudFront invalidation, a package bucket). Never
	// attached to the untrusted builds' role. SAM's BuildPolicyArns parameter, joined with commas.
	BuildPolicyArns []string
	// LogRetentionDays is the retention of every log group (default 30). It must be one of
	// the values CloudWatch Logs accepts.
	LogRetentionDays int
	// ArtifactRetentionDays is how long runs/ objects stay in the artifact bucket (default 30).
	ArtifactRetentionDays int
	// The deploy targets: what the wait function may deploy to, and whose events reach it.
	// Each empty one grants nothing and creates no rule (docs/stack.md, "Deploy targets").
	// EcsClusters are the clusters whose services provider ecs updates.
	EcsClusters []string
	// CodeDeployApplications are the applications provider codedeploy deploys with.
	CodeDeployApplications []string
	// StackNamePrefix starts the names of the stacks provider cloudformation may change.
	StackNamePrefix string
	// DeployBuckets are the buckets provider s3 writes to.
	DeployBuckets []string
	// DeployRoleArns are the roles the deploys may pass: ECS task and execution roles,
	// CloudFormation service roles.
	DeployRoleArns []string
	// FunctionsDir holds <fn>.zip for each function (default: dist/functions of the
	// repository this package was built from). Set it when the construct is imported from
	// the module cache, where there is no dist directory.
	FunctionsDir string
}

// Defaults of Props, as docs/stack.md lists them.
const (
	DefaultName                  = "stepline"
	DefaultLogRetentionDays      = 30
	DefaultArtifactRetentionDays = 30
)

// FunctionNames lists the functions the stack deploys, each from FunctionsDir/<name>.zip.
func FunctionNames() []string {
	return []string{"webhook", "trigger", "advance", "source", "wait", "callback", "notify"}
}

// retentionDays are the values CloudWatch Logs accepts; anything else fails only at deploy
// time, so it is refused at synth.
var retentionDays = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

// validName is SAM's Name parameter: 3 to 55 characters, since the table takes the name as it
// is (DynamoDB wants at least 3) and "<Name>-callback" must fit in a function name's 64.
var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{2,54}$`)

// validDashboard is SAM's DashboardUrl pattern: the notify function refuses to start with
// anything but an absolute http(s) URL.
var validDashboard = regexp.MustCompile(`^https?://[^\s/]+\S*$`)

// validEcrRepository is ECR's repository name pattern (CreateRepository's repositoryName), as
// SAM's EcrRepositories parameter allows it; maxEcrRepositories is that parameter's bound too.
var validEcrRepository = regexp.MustCompile(`^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$`)

const maxEcrRepositories = 5

// validPolicyArn is one entry of SAM's BuildPolicyArns pattern: an AWS managed or customer
// managed policy, with a path, without the list's comma; maxBuildPolicies is IAM's hard bound
// on the managed policies of a role (10 by default, 20 once the quota is raised).
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
var validPolicyArn = regexp.MustCompile(`^arn:aws[a-z-]*:iam::(?:aws|[0-9]{12}):policy/[A-Za-z0-9_+=.@/-]+$`)

const maxBuildPolicies = 20

// withDefaults returns a copy of p with every unset field given its default.
func (p *Props) withDefaults() Props {
	var out Props
	if p != nil {
		out = *p
	}
	if out.Name == "" {
		out.Name = DefaultName
	}
	if out.LogRetentionDays == 0 {
		out.LogRetentionDays = DefaultLogRetentionDays
	}
	if out.ArtifactRetentionDays == 0 {
		out.ArtifactRetentionDays = DefaultArtifactRetentionDays
	}
	if out.FunctionsDir == "" {
		out.FunctionsDir = DefaultFunctionsDir()
	}
	return out
}

// Validate reports every problem with p (after defaults) at once, so a CDK app can print a
// clear message before building anything; New panics with the same error, as CDK constructs
// do on invalid props.
func (p *Props) Validate() error {
	v := p.withDefaults()
	var problems []string
	if !validName.MatchString(v.Name) {
		problems = append(problems, fmt.Sprintf("Name %q: use 3 to 55 letters, digits and hyphens, starting with a letter or digit", v.Name))
	}
	if v.NotificationEmail != "" && !strings.Contains(v.NotificationEmail, "@") {
		problems = append(problems, fmt.Sprintf("NotificationEmail %q: not an email address", v.NotificationEmail))
	}
	if v.DashboardURL != "" && !validDashboard.MatchString(v.DashboardURL) {
		problems = append(problems, fmt.Sprintf("DashboardURL %q: not an absolute http(s) URL", v.DashboardURL))
	}
	if !slices.Contains(retentionDays, v.LogRetentionDays) {
		problems = append(problems, fmt.Sprintf("LogRetentionDays %d: CloudWatch Logs accepts only %v", v.LogRetentionDays, retentionDays))
	}
	if v.ArtifactRetentionDays < 1 {
		problems = append(problems, fmt.Sprintf("ArtifactRetentionDays %d: must be at least 1", v.ArtifactRetentionDays))
	}
	for _, r := range v.AllowedRepositories {
		if strings.TrimSpace(r) == "" || strings.Contains(r, ",") {
			problems = append(problems, fmt.Sprintf("AllowedRepositories entry %q: must be one non-empty provider:owner/repo glob without commas", r))
		}
	}
	// The webhook function parses the joined list at start and exits on an error, so a
	// list it refuses would deploy a webhook that never answers.
	if _, err := webhook.ParseAllowed(strings.Join(v.AllowedRepositories, ",")); err != nil {
		problems = append(problems, fmt.Sprintf("AllowedRepositories: %v", err))
	}
	if len(v.EcrRepositories) > maxEcrRepositories {
		problems = append(problems, fmt.Sprintf("EcrRepositories: %d named, at most %d", len(v.EcrRepositories), maxEcrRepositories))
	}
	for _, r := range v.EcrRepositories {
		if !validEcrRepository.MatchString(r) {
			problems = append(problems, fmt.Sprintf("EcrRepositories entry %q: not an ECR repository name", r))
		}
	}
	if len(v.BuildPolicyArns) > maxBuildPolicies {
		problems = append(problems, fmt.Sprintf("BuildPolicyArns: %d named, IAM attaches at most %d managed policies to a role", len(v.BuildPolicyArns), maxBuildPolicies))
	}
	for _, p := range v.BuildPolicyArns {
		if !validPolicyArn.MatchString(p) {
			problems = append(problems, fmt.Sprintf("BuildPolicyArns entry %q: not a managed policy ARN", p))
		}
	}
	problems = append(problems, v.deployProblems()...)
	for _, fn := range FunctionNames() {
		zip := filepath.Join(v.FunctionsDir, fn+".zip")
		if _, err := os.Stat(zip); err != nil {
			problems = append(problems, fmt.Sprintf("function code %s: %v (run `make build-functions` or set FunctionsDir)", zip, err))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("stepline props:\n  %s", strings.Join(problems, "\n  "))
	}
	return nil
}

// DefaultFunctionsDir returns dist/functions of the repository holding this source file. It
// is found from the file's own path rather than the working directory, so `cdk synth`, `go
// run ./cmd/synth` and `go test ./...` agree whichever directory they start in.
func DefaultFunctionsDir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return filepath.Join("dist", "functions")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "dist", "functions")
}

// The deploy targets' shapes, as SAM's parameters allow them.
var (
	clusterName   = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	cdApplication = regexp.MustCompile(`^[A-Za-z0-9_.+=@-]+$`)
	stackPrefix   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]*$`)
	bucketName    = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*$`)
	roleArn       = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9_+=.@/-]+$`)
)

func (v Props) deployProblems() []string {
	var problems []string
	for _, l := range []struct {
		name   string
		values []string
		re     *regexp.Regexp
	}{
		{"EcsClusters", v.EcsClusters, clusterName}, {"CodeDeployApplications", v.CodeDeployApplications, cdApplication},
		{"DeployBuckets", v.DeployBuckets, bucketName}, {"DeployRoleArns", v.DeployRoleArns, roleArn},
	} {
		for _, x := range l.values {
			if !l.re.MatchString(x) {
				problems = append(problems, fmt.Sprintf("%s entry %q: does not match %s", l.name, x, l.re))
			}
		}
	}
	if v.StackNamePrefix != "" && !stackPrefix.MatchString(v.StackNamePrefix) {
		problems = append(problems, fmt.Sprintf("StackNamePrefix %q: does not match %s", v.StackNamePrefix, stackPrefix))
	}
	return problems
}
