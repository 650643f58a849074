package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/awstest"
	"github.com/stepline/stepline/pkg/scaffold"
)

// initRepo runs `stepline init` with args into a new directory and makes it a git repository
// of one commit, as a user would before `stepline run`.
func initRepo(t *testing.T, args ...string) *repo {
	t.Helper()
	r := &repo{t: t, dir: t.TempDir()}
	res := stepline(append([]string{"init", "--dir", r.dir}, args...)...)
	require.Equal(t, ExitOK, res.code, "stdout:\n%s\nstderr:\n%s", res.out, res.err)
	r.git("init", "-q", "-b", "main")
	r.commit("stepline init", nil)
	return r
}

// listDir lists every file under dir, slash-separated, .git left out.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.IsDir() && info.Name() == ".git" {
			return filepath.SkipDir
		}
		if !info.IsDir() {
			rel, _ := filepath.Rel(dir, path)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	}))
	sort.Strings(out)
	return out
}

// The acceptance test of `stepline init`: every template, written into an empty directory,
// is a valid pipeline file whose test pipeline runs on this machine: go vet and go test of the
// generated service or function, the site's check.
func TestInitEveryTemplateValidatesAndItsChecksRunHere(t *testing.T) {
	for _, tmpl := range scaffold.Templates() {
		t.Run(tmpl.Name, func(t *testing.T) {
			t.Parallel()
			args := []string{"--template", tmpl.Name, "--name", "shop", "--region", "eu-west-1", "--branches", "staging,feature/**"}
			if tmpl.Distribution {
				args = append(args, "--distribution", "E2QWRUHAPOMQZL")
			}
			r := initRepo(t, args...)

			res := r.stepline("", "validate", "-f", filepath.Join(r.dir, ".stepline.yml"))
			require.Equal(t, ExitOK, res.code, "stdout:\n%s\nstderr:\n%s", res.out, res.err)
			assert.Contains(t, res.out, "valid (3 pipelines: shop-test, shop, shop-production)")
			assert.Contains(t, res.out, "shop-test: runs on AWS; locally with stepline run\n")
			assert.Contains(t, res.out, "shop-production: runs on AWS; locally with stepline run --aws-deploy")

			res = r.stepline("", "run", "-p", "shop-test", "--plain", "--follow")
			require.Equal(t, ExitOK, res.code, "stdout:\n%s\nstderr:\n%s", res.out, res.err)
			assert.Contains(t, res.out, "SUCCEEDED pipeline shop-test")
			if tmpl.Name == "static-site" {
				assert.Contains(t, res.out, "check-site: site is complete")
			} else {
				assert.Regexp(t, `ok\s+shop\s`, res.out, "go test ran the generated tests")
			}
		})
	}
}

// The static site's pipelines deploy on moto with `stepline run --aws-deploy`: the branch
// pipeline publishes a branch's environment under br-<branch>/, the production pipeline (after
// its approval) under production/, and then invalidates the CloudFront distribution named at
// init through the AWS CLI, as CodeBuild would run it.
func TestInitStaticSitePublishesEachEnvironmentOnMoto(t *testing.T) {
	awsCLI, err := exec.LookPath("aws")
	require.NoError(t, err, "the AWS CLI runs the invalidation build; it is preinstalled in the image")
	cfg := onMoto(t)
	ctx := context.Background()
	cli := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(awsCLI, append(args, "--region", awstest.Region, "--output", "text")...)
		// onMoto empties AWS_PROFILE, which the AWS CLI reads as a profile named "".
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "AWS_PROFILE=") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "aws %v: %s", args, out)
		return strings.TrimSpace(string(out))
	}
	distribution := cli("cloudfront", "create-distribution", "--origin-domain-name", "shop.s3.amazonaws.com", "--query", "Distribution.Id")
	r := initRepo(t, "--template", "static-site", "--name", "shop", "--region", awstest.Region, "--branches", "staging", "--distribution", distribution)

	// moto fills a stack's outputs only for CreateStack, not for a stack a change set created
	// (which is what provider cloudformation does), so the bucket's stack is made here from the
	// generated template; the pipelines' change sets then find it up to date and read its
	// outputs, as they do on AWS after the first run.
	site, err := os.ReadFile(filepath.Join(r.dir, "infra", "site.yml"))
	require.NoError(t, err)
	cfn := awscfn.NewFromConfig(cfg)
	_, err = cfn.CreateStack(ctx, &awscfn.CreateStackInput{StackName: aws.String("shop-site"), TemplateBody: aws.String(string(site)),
		Parameters: []cftypes.Parameter{{ParameterKey: aws.String("DistributionId"), ParameterValue: aws.String(distribution)}}})
	require.NoError(t, err)

	pass := []string{"--env", "AWS_ENDPOINT_URL", "--env", "AWS_ACCESS_KEY_ID", "--env", "AWS_SECRET_ACCESS_KEY"}
	r.git("checkout", "-q", "-b", "staging")
	res := r.stepline("", append([]string{"run", "-p", "shop", "--plain", "--aws-deploy", "--poll", "100ms"}, pass...)...)
	require.Equal(t, ExitOK, res.code, "stdout:\n%s\nstderr:\n%s", res.out, res.err)
	assert.Contains(t, res.out, "no changes: stack shop-site is up to date")

	r.git("checkout", "-q", "main")
	res = r.stepline("", append([]string{"run", "-p", "shop-production", "--plain", "--follow", "--aws-deploy", "--auto-approve", "--poll", "100ms"}, pass...)...)
	require.Equal(t, ExitOK, res.code, "stdout:\n%s\nstderr:\n%s", res.out, res.err)
	assert.Contains(t, res.out, "SUCCEEDED Approve/Production")
	assert.Contains(t, res.out, "SUCCEEDED Deploy/Invalidate")

	bucket := "shop-site-123456789012-" + awstest.Region
	list, err := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }).ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	require.NoError(t, err)
	var keys []string
	for _, o := range list.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	assert.Equal(t, []string{"br-staging/404.html", "br-staging/index.html", "br-staging/style.css",
		"production/404.html", "production/index.html", "production/style.css"}, keys)
	head, err := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }).HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("production/index.html")})
	require.NoError(t, err)
	assert.Equal(t, "text/html; charset=utf-8", aws.ToString(head.ContentType))

	assert.Equal(t, "1", cli("cloudfront", "list-invalidations", "--distribution-id", distribution, "--query", "length(InvalidationList.Items)"),
		"one invalidation: production's, none for the branch")
}

func TestInitRefusesToOverwriteAndWritesNothing(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".stepline.yml"), []byte("mine\n"), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "ci"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ci", "test.yml"), []byte("mine too\n"), 0o644))

	res := stepline("init", "--dir", dir, "--template", "ecs-service", "--name", "shop")
	assert.Equal(t, ExitFailed, res.code)
	assert.Contains(t, res.err, "already has 2 of the files of template ecs-service:\n  .stepline.yml\n  ci/test.yml\n")
	assert.Contains(t, res.err, "nothing was written")
	assert.Equal(t, []string{".stepline.yml", "ci/test.yml"}, listDir(t, dir))
	assert.Equal(t, "mine\n", readFile(t, filepath.Join(dir, ".stepline.yml")))
}

func TestInitDryRunListsTheFilesAndWritesNothing(t *testing.T) {
	dir := t.TempDir()
	res := stepline("init", "--dir", dir, "--template", "static-site", "--name", "web", "--dry-run")
	require.Equal(t, ExitOK, res.code, res.err)
	assert.Contains(t, res.out, "stepline init would write 7 files of template static-site to "+dir+":\n  .stepline.yml ")
	assert.Contains(t, res.out, "  site/index.html ")
	assert.NotContains(t, res.out, "ci/invalidate.yml", "no invalidation without a distribution")
	assert.Empty(t, listDir(t, dir))
}

func TestInitWritesEveryPlannedFile(t *testing.T) {
	dir := t.TempDir()
	res := stepline("init", "--dir", dir, "--template", "sam-api", "--name", "api", "--branches", "", "--production-branch", "trunk")
	require.Equal(t, ExitOK, res.code, res.err)
	files, err := scaffold.Plan("sam-api", scaffold.Answers{Name: "api", Region: regionDefault(), ProductionBranch: "trunk"})
	require.NoError(t, err)
	var want []string
	for _, f := range files {
		want = append(want, f.Path)
		assert.Equal(t, string(f.Body), readFile(t, filepath.Join(dir, f.Path)), f.Path)
	}
	assert.Equal(t, want, listDir(t, dir))
	assert.Contains(t, res.out, "StackNamePrefix=api-")
	assert.Contains(t, res.out, "stepline run -p api-test")
	assert.Contains(t, res.out, "aws iam create-policy --policy-name api-build --policy-document file://ci/build-policy.json:",
		"how to make the builds' policy")
	assert.Contains(t, res.out, "BuildPolicyArns=arn:aws:iam::<account>:policy/api-build\n", "the stack parameter that attaches it")
	assert.NotContains(t, readFile(t, filepath.Join(dir, ".stepline.yml")), "- name: api\n", "--branches '' writes no branch pipeline")
}

// regionDefault is the region init takes when neither flag nor prompt names one.
func regionDefault() string {
	return firstSet(os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION"), "us-east-1")
}

// On a terminal, init asks for the template and every answer the flags leave out; Enter
// keeps the default shown in brackets.
func TestInitAsksOnATerminal(t *testing.T) {
	t.Setenv("AWS_REGION", "ap-northeast-2")
	dir := filepath.Join(t.TempDir(), "My_Shop")
	require.NoError(t, os.Mkdir(dir, 0o755))
	var out, errOut bytes.Buffer
	in := strings.Join([]string{"3", "", "", "trunk", "dev, feature/**"}, "\n") + "\n"
	code := Main(context.Background(), []string{"init", "--dir", dir}, IO{In: strings.NewReader(in), Out: &out, Err: &errOut, TTY: true})
	require.Equal(t, ExitOK, code, "stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
	assert.Contains(t, out.String(), "  3. sam-api ")
	assert.Contains(t, out.String(), "Application name [my-shop]: ")
	assert.Contains(t, out.String(), "AWS region [ap-northeast-2]: ")
	assert.Contains(t, out.String(), "Production branch (deploys after an approval) [main]: ")
	assert.NotContains(t, out.String(), "distribution ID", "sam-api has no distribution to ask for")
	body := readFile(t, filepath.Join(dir, ".stepline.yml"))
	assert.Contains(t, body, "  - name: my-shop-production\n")
	assert.Contains(t, body, "  REGION: ap-northeast-2\n")
	assert.Contains(t, body, `branches: {include: ["dev", "feature/**"], exclude: ["trunk"]}`)
}

func TestInitWithoutATerminalNeedsATemplate(t *testing.T) {
	dir := t.TempDir()
	res := stepline("init", "--dir", dir)
	assert.Equal(t, ExitUsage, res.code)
	assert.Contains(t, res.err, "name a template with --template (stepline init --list shows them)")
	assert.Empty(t, listDir(t, dir))
}

func TestInitReportsEveryBadAnswerAndWritesNothing(t *testing.T) {
	dir := t.TempDir()
	res := stepline("init", "--dir", dir, "--template", "ecs-service", "--name", "Shop", "--region", "mars-1", "--distribution", "E2QWRUHAPOMQZL")
	assert.Equal(t, ExitUsage, res.code)
	assert.Contains(t, res.err, `stepline init: name "Shop"`)
	assert.Contains(t, res.err, `stepline init: region "mars-1"`)
	assert.Contains(t, res.err, "stepline init: distribution: template ecs-service has no CloudFront distribution")
	assert.Contains(t, res.err, "3 answers cannot be used; nothing was written")
	assert.Empty(t, listDir(t, dir))

	res = stepline("init", "--dir", dir, "--template", "ecs")
	assert.Equal(t, ExitUsage, res.code)
	assert.Contains(t, res.err, `unknown template "ecs": expected one of ecs-service, ecs-bluegreen, sam-api, static-site`)
}

func TestInitListShowsTheTemplates(t *testing.T) {
	res := stepline("init", "--list")
	require.Equal(t, ExitOK, res.code)
	lines := strings.Split(strings.TrimSpace(res.out), "\n")
	require.Len(t, lines, 4)
	for i, name := range []string{"ecs-service", "ecs-bluegreen", "sam-api", "static-site"} {
		assert.True(t, strings.HasPrefix(lines[i], name+" "), lines[i])
	}
}

func TestDefaultNameMakesADirectoryAnApplicationName(t *testing.T) {
	for in, want := range map[string]string{
		"shop":                    "shop",
		"My_Shop":                 "my-shop",
		"2024-report":             "report",
		"a--b..c":                 "a-b-c",
		"ünïcode":                 "n-code",
		"___":                     "",
		strings.Repeat("ab-", 20): "ab-ab-ab-ab-ab-ab-ab-ab-ab-a",
	} {
		assert.Equal(t, want, defaultName(in), in)
	}
}
