package stepline_test

import (
	"encoding/json"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/infra/stepline"
	"github.com/stepline/stepline/pkg/iamcheck"
	"github.com/stepline/stepline/pkg/scaffold"
)

// BuildPolicyArns (docs/stack.md, Inputs): the operator's managed policies go to the role of
// trusted runs' builds and to no other role, in both templates; empty attaches nothing. The
// policies are the ones `stepline init` writes (ci/build-policy.json), so the requests below
// are what the generated builds make, evaluated against the synthesized roles.

const (
	sitePolicy = "arn:aws:iam::123456789012:policy/site-build"
	apiPolicy  = "arn:aws:iam::123456789012:policy/api-build"
	// An AWS managed policy: the parameter takes those too.
	awsPolicy = "arn:aws:iam::aws:policy/AWSCloudFormationReadOnlyAccess"
)

// initPolicy is the build policy init writes for a template and its answers.
func initPolicy(t *testing.T, template string, a scaffold.Answers) iamcheck.Policy {
	t.Helper()
	files, err := scaffold.Plan(template, a)
	require.NoError(t, err)
	i := slices.IndexFunc(files, func(f scaffold.File) bool { return f.Path == scaffold.BuildPolicyFile })
	require.GreaterOrEqual(t, i, 0, "%s writes %s", template, scaffold.BuildPolicyFile)
	p, err := iamcheck.ParsePolicy(files[i].Body)
	require.NoError(t, err)
	return p
}

// buildPolicyTemplates are both templates with BuildPolicyArns set to policies (and every
// deploy target and an ECR repository named, so every conditional grant is there), or at
// their defaults when policies is nil.
func buildPolicyTemplates(t *testing.T, policies []string) map[string]*iamcheck.Template {
	t.Helper()
	params := maps.Clone(deployTargets)
	params["EcrRepositories"] = "api"
	params["BuildPolicyArns"] = strings.Join(policies, ",")
	_, cdk := synth(t, withDeployTargets(stepline.Props{EcrRepositories: []string{"api"}, BuildPolicyArns: policies}))
	out := map[string]*iamcheck.Template{}
	for name, doc := range map[string]map[string]any{"SAM": samTemplate(t), "CDK": cdk} {
		raw, err := json.Marshal(doc)
		require.NoError(t, err)
		tmpl, err := iamcheck.ParseTemplate(raw)
		require.NoError(t, err)
		tmpl.SetParameters(params)
		out[name] = tmpl
	}
	return out
}

func TestBuildPolicyArnsGoToTheTrustedBuildRoleOnly(t *testing.T) {
	sam := samTemplate(t)
	roles := slices.Sorted(maps.Keys(resources(sam, "AWS::IAM::Role")))
	require.Contains(t, roles, "UntrustedBuildProjectRole")
	for _, c := range []struct {
		name     string
		policies []string
	}{
		{"empty attaches nothing", nil},
		{"the named policies, in order, to BuildProjectRole", []string{sitePolicy, apiPolicy, awsPolicy}},
	} {
		t.Run(c.name, func(t *testing.T) {
			for name, tmpl := range buildPolicyTemplates(t, c.policies) {
				for _, role := range roles {
					got, err := tmpl.ManagedPolicyArns(role)
					require.NoError(t, err, "%s %s", name, role)
					if role == "BuildProjectRole" {
						assert.Equal(t, c.policies, got, "%s: %s", name, role)
					} else {
						assert.Nil(t, got, "%s: %s never gets the build policies", name, role)
					}
				}
			}
		})
	}
}

// The policies init writes, attached through BuildPolicyArns, let the trusted builds make the
// calls the generated buildspecs make; the untrusted builds' role still cannot.
func TestTheInitBuildPoliciesReachTheTrustedBuildsOnly(t *testing.T) {
	docs := map[string]iamcheck.Policy{
		sitePolicy: initPolicy(t, "static-site", scaffold.Answers{Name: "site", Region: iamcheck.Region, ProductionBranch: "main", Distribution: "E2QWRUHAPOMQZL"}),
		apiPolicy:  initPolicy(t, "sam-api", scaffold.Answers{Name: "api", Region: iamcheck.Region, ProductionBranch: "main"}),
	}
	account := iamcheck.AccountID
	// What ci/invalidate.yml and ci/package.yml call (pkg/scaffold's
	// TestTheBuildPolicyAllowsWhatTheBuildsCall cites the pages).
	needs := []iamcheck.Request{
		{Action: "cloudfront:CreateInvalidation", Resource: "arn:aws:cloudfront::" + account + ":distribution/E2QWRUHAPOMQZL"},
		{Action: "s3:GetObject", Resource: "arn:aws:s3:::api-pkg-" + account + "-" + iamcheck.Region + "/api/0123456789abcdef"},
		{Action: "s3:PutObject", Resource: "arn:aws:s3:::api-pkg-" + account + "-" + iamcheck.Region + "/api/0123456789abcdef"},
	}
	for name, tmpl := range buildPolicyTemplates(t, []string{sitePolicy, apiPolicy}) {
		t.Run(name, func(t *testing.T) {
			_, err := tmpl.RolePolicy("BuildProjectRole")
			require.ErrorContains(t, err, "whose document iamcheck was not given", "the role is not judged without its policies")
			tmpl.SetManagedPolicies(docs)
			trusted, err := tmpl.RolePolicy("BuildProjectRole")
			require.NoError(t, err)
			untrusted, err := tmpl.RolePolicy("UntrustedBuildProjectRole")
			require.NoError(t, err)
			for _, q := range needs {
				assert.True(t, trusted.Allows(q), "a trusted build needs %s", q)
				assert.False(t, untrusted.Allows(q), "an untrusted build must not be allowed %s", q)
			}
			// Still stepline's own grants, and nothing the policies do not name.
			assert.True(t, trusted.Allows(iamcheck.Request{Action: "ecr:PutImage", Resource: "arn:aws:ecr:" + iamcheck.Region + ":" + account + ":repository/api"}))
			assert.False(t, trusted.Allows(iamcheck.Request{Action: "cloudfront:CreateInvalidation", Resource: "arn:aws:cloudfront::" + account + ":distribution/E3OTHER"}))
		})
	}
}

// SAM's AllowedPattern and CDK's Props.Validate accept and refuse the same lists.
func TestBuildPolicyArnsAreRefusedAsSamRefusesThem(t *testing.T) {
	param := samTemplate(t)["Parameters"].(map[string]any)["BuildPolicyArns"].(map[string]any)
	pattern := regexp.MustCompile(`^(?:` + param["AllowedPattern"].(string) + `)$`)
	twenty := make([]string, 20)
	for i := range twenty {
		twenty[i] = sitePolicy
	}
	for _, c := range []struct {
		arns []string
		ok   bool
	}{
		{nil, true},
		{[]string{sitePolicy, awsPolicy}, true},
		{[]string{"arn:aws:iam::123456789012:policy/team/ci/site-build", "arn:aws-cn:iam::aws:policy/service-role/AWSCodeBuildDeveloperAccess"}, true},
		{twenty, true},
		{append(slices.Clone(twenty), sitePolicy), false},
		{[]string{"arn:aws:iam::123456789012:role/site-build"}, false},
		{[]string{"site-build"}, false},
		{[]string{"arn:aws:iam::12345:policy/site-build"}, false},
		{[]string{"arn:aws:iam::123456789012:policy/a,b"}, false},
		{[]string{""}, false},
	} {
		props := stepline.Props{BuildPolicyArns: c.arns, FunctionsDir: t.TempDir()}
		require.NoError(t, stepline.WritePlaceholderZips(props.FunctionsDir))
		err := props.Validate()
		assert.Equal(t, c.ok, err == nil, "CDK %v: %v", c.arns, err)
		joined := strings.Join(c.arns, ",")
		if c.arns != nil && joined == "" {
			// One empty entry joins to the empty string SAM takes as "none"; CDK refuses
			// the entry, and SAM cannot be given it.
			continue
		}
		assert.Equal(t, c.ok, pattern.MatchString(joined), "SAM %v", c.arns)
	}
}
