package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/awstest"
	"github.com/stepline/stepline/pkg/reposecret"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// onMoto points the default credential chain at the test binary's moto server, as a user's
// environment would point it at AWS, and returns the server's configuration for checks.
func onMoto(t *testing.T) aws.Config {
	t.Helper()
	m := awstest.StartMoto(t)
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL": m.Endpoint, "AWS_REGION": awstest.Region, "AWS_DEFAULT_REGION": "",
		"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "", "AWS_PROFILE": "",
		"AWS_CONFIG_FILE": none, "AWS_SHARED_CREDENTIALS_FILE": none, "AWS_EC2_METADATA_DISABLED": "true",
		tokenEnv: "",
	} {
		t.Setenv(k, v)
	}
	return m.Config()
}

func stepline(args ...string) result {
	var out, errOut bytes.Buffer
	code := Main(context.Background(), args, IO{In: strings.NewReader(""), Out: &out, Err: &errOut})
	return result{code: code, out: out.String(), err: errOut.String()}
}

func uniquePrefix() string { return fmt.Sprintf("t%d/repos/", time.Now().UnixNano()) }

const repoWebhookURL = "https://abc123.execute-api.us-east-1.amazonaws.com/webhooks"

func TestRepoAddWithoutATokenPrintsTheSettingsToPaste(t *testing.T) {
	cfg := onMoto(t)
	prefix := uniquePrefix()

	res := stepline("repo", "add", "github", "octo/app", "--webhook-url", repoWebhookURL, "--secret-prefix", prefix)
	require.Equal(t, ExitOK, res.code, res.err)

	m := regexp.MustCompile(`/webhooks/github/([0-9a-f]{32})\n`).FindStringSubmatch(res.out)
	require.NotNil(t, m, res.out)
	hook := m[1]
	secret := regexp.MustCompile(`Secret +([0-9a-f]{64})\n`).FindStringSubmatch(res.out)
	require.NotNil(t, secret, res.out)
	want := strings.NewReplacer("HOOK", hook, "SECRET", secret[1], "PREFIX", prefix).Replace(`Registered github:octo/app
  Secret   PREFIXHOOK (us-east-1)
  Webhook  https://abc123.execute-api.us-east-1.amazonaws.com/webhooks/github/HOOK

Add the webhook in GitHub (the repository's Settings → Webhooks → Add webhook):
  URL           https://abc123.execute-api.us-east-1.amazonaws.com/webhooks/github/HOOK
  Content type  application/json
  Secret        SECRET
  Events        Pushes, Pull requests (choose “Let me select individual events”)
  Active        yes
`)
	assert.Equal(t, want, res.out)

	s, err := reposecret.NewStore(secretsmanager.NewFromConfig(cfg), reposecret.WithPrefix(prefix)).Get(context.Background(), hook)
	require.NoError(t, err)
	assert.Equal(t, [][]byte{[]byte(secret[1])}, s.Keys(), "the printed secret is the stored one")
}

func TestRepoAddPrintsTheBitbucketFormsFields(t *testing.T) {
	onMoto(t)
	res := stepline("repo", "add", "bitbucket-server", "PROJ/app", "--webhook-url", repoWebhookURL, "--secret-prefix", uniquePrefix(),
		"--api-url", "https://bitbucket.example.com")
	require.Equal(t, ExitOK, res.code, res.err)
	assert.Contains(t, res.out, "Add the webhook in Bitbucket Data Center (the repository's Repository settings → Webhooks → Create webhook):\n  Name          stepline\n")
	assert.Contains(t, res.out, "  Events        Repository: Push, Pull request: Opened, Pull request: Source branch updated, Pull request: Modified, Pull request: Merged, Pull request: Declined, Pull request: Deleted\n")
	assert.NotContains(t, res.out, "Content type")
}

func TestRepoAddWithAStackAndATokenRegistersTheWebhookAndPrintsNoSecret(t *testing.T) {
	cfg := onMoto(t)
	prefix := uniquePrefix()
	stack := fmt.Sprintf("stepline-cli-%d", time.Now().UnixNano())
	_, err := cloudformation.NewFromConfig(cfg).CreateStack(context.Background(), &cloudformation.CreateStackInput{StackName: aws.String(stack),
		TemplateBody: aws.String(`{"Resources": {"H": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
			"Outputs": {"WebhookUrl": {"Value": "` + repoWebhookURL + `"}, "SecretPrefix": {"Value": "` + prefix + `"}}}`)})
	require.NoError(t, err)
	var gotAuth, gotBody string
	gh := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotAuth, gotBody = r.Header.Get("Authorization"), string(b)
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"id": 99}`)
	}))
	defer gh.Close()
	t.Setenv(tokenEnv, "ghp_from_the_environment")

	res := stepline("repo", "add", "github", "octo/app", "--stack", stack, "--api-url", gh.URL)
	require.Equal(t, ExitOK, res.code, res.err)
	assert.Contains(t, res.out, "Registered github:octo/app\n  Secret   "+prefix)
	assert.Contains(t, res.out, "Created the webhook on GitHub (id 99): nothing to paste.\n")
	assert.Equal(t, "Bearer ghp_from_the_environment", gotAuth)
	secret := regexp.MustCompile(`"secret":"([0-9a-f]{64})"`).FindStringSubmatch(gotBody)
	require.NotNil(t, secret, gotBody)
	assert.NotContains(t, res.out, secret[1], "the provider has the secret; nobody needs to see it")
	assert.NotContains(t, res.out+res.err, "ghp_from_the_environment")
}

func TestRepoAddWhenTheProviderRefusesTheTokenStillShowsWhatToPaste(t *testing.T) {
	onMoto(t)
	gh := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"message": "Bad credentials"}`)
	}))
	defer gh.Close()

	res := stepline("repo", "add", "github", "octo/app", "--webhook-url", repoWebhookURL, "--secret-prefix", uniquePrefix(),
		"--token", "ghp_wrong", "--api-url", gh.URL)
	assert.Equal(t, ExitFailed, res.code)
	assert.Contains(t, res.err, "the token was refused")
	assert.Contains(t, res.err, "--rotate")
	assert.Regexp(t, `Secret +[0-9a-f]{64}\n`, res.out)
	assert.NotContains(t, res.out+res.err, "ghp_wrong")
}

func TestRepoAddRefusesARegisteredRepositoryUnlessRotating(t *testing.T) {
	onMoto(t)
	prefix := uniquePrefix()
	args := []string{"repo", "add", "bitbucket", "team/app", "--webhook-url", repoWebhookURL, "--secret-prefix", prefix}
	first := stepline(args...)
	require.Equal(t, ExitOK, first.code, first.err)

	again := stepline(args...)
	assert.Equal(t, ExitFailed, again.code)
	assert.Contains(t, again.err, "bitbucket:team/app is already registered")
	assert.Contains(t, again.err, "--rotate")
	assert.Empty(t, again.out)

	rotated := stepline(append(args, "--rotate")...)
	require.Equal(t, ExitOK, rotated.code, rotated.err)
	assert.Contains(t, rotated.out, "Rotated the webhook secret of bitbucket:team/app\n")
	assert.Contains(t, rotated.out, "it now holds 2 webhook secrets")
	assert.Contains(t, rotated.out, "In Bitbucket Cloud, edit the webhook with the URL above and set its secret:\n")
}

func TestRepoAddRefusesBadUsageBeforeTouchingAWS(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		says string
	}{
		{"an unknown provider", []string{"gitlab", "octo/app", "--webhook-url", repoWebhookURL}, "unknown provider \"gitlab\""},
		{"a repository that is not OWNER/REPO", []string{"github", "app", "--webhook-url", repoWebhookURL}, "OWNER/REPO"},
		{"bitbucket-server without --api-url", []string{"bitbucket-server", "PROJ/app", "--webhook-url", repoWebhookURL}, "base URL"},
		{"neither --stack nor --webhook-url", []string{"github", "octo/app"}, "--stack NAME"},
		{"both --stack and --webhook-url", []string{"github", "octo/app", "--stack", "s", "--webhook-url", repoWebhookURL}, "not both"},
		{"--secret-prefix with --stack", []string{"github", "octo/app", "--stack", "s", "--secret-prefix", "x/"}, "comes from the stack"},
		{"--register without a token", []string{"github", "octo/app", "--webhook-url", repoWebhookURL, "--register", "--token", ""}, "needs a token"},
		{"a missing repository argument", []string{"github"}, "accepts 2 arg(s)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := stepline(append([]string{"repo", "add"}, tc.args...)...)
			assert.Equal(t, ExitUsage, res.code, res.out)
			assert.Contains(t, res.err, tc.says)
		})
	}
}
