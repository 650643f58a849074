package repoadd

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/awstest"
	"github.com/stepline/stepline/pkg/reposecret"
)

const webhookURL = "https://abc123.execute-api.us-east-1.amazonaws.com/webhooks"

func newSM(t *testing.T) *secretsmanager.Client {
	t.Helper()
	return secretsmanager.NewFromConfig(awstest.StartMoto(t).Config())
}

// newPrefix returns a secret prefix of the test's own, since the moto server is shared.
func newPrefix() string {
	return fmt.Sprintf("t%d/repos/", time.Now().UnixNano())
}

// stored reads a secret's value and tags as the functions and Add see them.
func stored(t *testing.T, sm *secretsmanager.Client, name string) (reposecret.Secret, map[string]string) {
	t.Helper()
	ctx := context.Background()
	v, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name)})
	require.NoError(t, err)
	s, err := reposecret.Parse([]byte(aws.ToString(v.SecretString)))
	require.NoError(t, err)
	d, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)})
	require.NoError(t, err)
	tags := map[string]string{}
	for _, tg := range d.Tags {
		tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	return s, tags
}

func TestAddCreatesTheRepositorySecretUnderAFreshHook(t *testing.T) {
	sm := newSM(t)
	p := newPrefix()

	res, err := New(sm).Add(context.Background(), Request{Provider: "github", Repository: "Octo/App",
		WebhookURL: webhookURL + "/", SecretPrefix: p, Token: "ghp_secret"})
	require.NoError(t, err)

	assert.True(t, reposecret.ValidHook(res.Hook), res.Hook)
	assert.Equal(t, p+res.Hook, res.SecretName)
	assert.Equal(t, webhookURL+"/github/"+res.Hook, res.URL, "the route is POST /webhooks/{provider}/{hook}")
	assert.Regexp(t, `^[0-9a-f]{64}$`, res.WebhookSecret)
	assert.Equal(t, "github:octo/app", res.Key)
	assert.False(t, res.Rotated)
	assert.Nil(t, res.Registered, "a token alone does not register")
	assert.Equal(t, []string{"push", "pull_request"}, res.Settings.Keys())

	s, tags := stored(t, sm, res.SecretName)
	assert.Equal(t, reposecret.Secret{Provider: "github", Repository: "Octo/App", WebhookSecrets: []string{res.WebhookSecret}, Token: "ghp_secret"}, s)
	assert.Equal(t, "github:octo/app", tags[TagKey])

	st := reposecret.NewStore(sm, reposecret.WithPrefix(p))
	got, err := st.Get(context.Background(), res.Hook)
	require.NoError(t, err, "the webhook function finds the repository by the hook in the URL")
	assert.Equal(t, [][]byte{[]byte(res.WebhookSecret)}, got.Keys())
}

func TestTwoAddsGiveDifferentHooksAndSecrets(t *testing.T) {
	sm := newSM(t)
	p := newPrefix()
	r := New(sm)
	a, err := r.Add(context.Background(), Request{Provider: "github", Repository: "octo/a", WebhookURL: webhookURL, SecretPrefix: p})
	require.NoError(t, err)
	b, err := r.Add(context.Background(), Request{Provider: "github", Repository: "octo/b", WebhookURL: webhookURL, SecretPrefix: p})
	require.NoError(t, err)
	assert.NotEqual(t, a.Hook, b.Hook)
	assert.NotEqual(t, a.WebhookSecret, b.WebhookSecret)
}

func TestAddRefusesARepositoryThatIsAlreadyRegistered(t *testing.T) {
	sm := newSM(t)
	p := newPrefix()
	r := New(sm)
	first, err := r.Add(context.Background(), Request{Provider: "bitbucket", Repository: "team/app", WebhookURL: webhookURL, SecretPrefix: p})
	require.NoError(t, err)

	_, err = r.Add(context.Background(), Request{Provider: "bitbucket", Repository: "TEAM/app", WebhookURL: webhookURL, SecretPrefix: p})
	var exists *ExistsError
	require.ErrorAs(t, err, &exists, "the same repository in another case is the same repository")
	assert.Equal(t, []string{first.SecretName}, exists.Secrets)
	assert.Contains(t, err.Error(), "--rotate")

	s, _ := stored(t, sm, first.SecretName)
	assert.Equal(t, []string{first.WebhookSecret}, s.WebhookSecrets, "the refused add changed nothing")
}

func TestAddTellsRepositoriesApartWhoseNamesShareAPrefix(t *testing.T) {
	sm := newSM(t)
	p := newPrefix()
	r := New(sm)
	_, err := r.Add(context.Background(), Request{Provider: "github", Repository: "octo/app2", WebhookURL: webhookURL, SecretPrefix: p})
	require.NoError(t, err)
	_, err = r.Add(context.Background(), Request{Provider: "github", Repository: "octo/app", WebhookURL: webhookURL, SecretPrefix: p})
	require.NoError(t, err, "octo/app is not octo/app2, though ListSecrets matches tag values by prefix")
	_, err = r.Add(context.Background(), Request{Provider: "bitbucket", Repository: "octo/app", WebhookURL: webhookURL, SecretPrefix: p})
	require.NoError(t, err, "the same name on another provider is another repository")
	_, err = r.Add(context.Background(), Request{Provider: "github", Repository: "octo/app", WebhookURL: webhookURL, SecretPrefix: newPrefix()})
	require.NoError(t, err, "another stack's prefix is another registration")
}

func TestRotateAddsANewWebhookSecretAndKeepsTheOldOne(t *testing.T) {
	sm := newSM(t)
	p := newPrefix()
	r := New(sm)
	ctx := context.Background()
	first, err := r.Add(ctx, Request{Provider: "bitbucket-server", Repository: "~jdoe/dotfiles", WebhookURL: webhookURL,
		SecretPrefix: p, APIURL: "https://bitbucket.example.com", Token: "old-token"})
	require.NoError(t, err)

	second, err := r.Add(ctx, Request{Provider: "bitbucket-server", Repository: "~jdoe/dotfiles", WebhookURL: webhookURL,
		SecretPrefix: p, APIURL: "https://bitbucket.example.com", Rotate: true})
	require.NoError(t, err)

	assert.True(t, second.Rotated)
	assert.Equal(t, first.Hook, second.Hook, "the URL the provider knows stays")
	assert.Equal(t, first.URL, second.URL)
	assert.NotEqual(t, first.WebhookSecret, second.WebhookSecret)
	assert.Equal(t, 2, second.WebhookSecrets)
	s, tags := stored(t, sm, first.SecretName)
	assert.Equal(t, []string{first.WebhookSecret, second.WebhookSecret}, s.WebhookSecrets, "deliveries signed with the old secret still verify")
	assert.Equal(t, "old-token", s.Token, "no --token keeps the stored token")
	assert.Equal(t, "https://bitbucket.example.com", s.APIURL)
	assert.Equal(t, "bitbucket-server:@jdoe/dotfiles", tags[TagKey], "tag values may not hold ~")
}

func TestRotateOfAnUnregisteredRepositoryCreatesIt(t *testing.T) {
	res, err := New(newSM(t)).Add(context.Background(), Request{Provider: "github", Repository: "octo/new", WebhookURL: webhookURL, SecretPrefix: newPrefix(), Rotate: true})
	require.NoError(t, err)
	assert.False(t, res.Rotated)
	assert.Equal(t, 1, res.WebhookSecrets)
}

func TestAddRefusesBadRequestsBeforeAnyCall(t *testing.T) {
	t.Parallel()
	ok := Request{Provider: "github", Repository: "octo/app", WebhookURL: webhookURL}
	for _, tc := range []struct {
		name string
		edit func(*Request)
		want error
		text string
	}{
		{"an unknown provider is refused", func(r *Request) { r.Provider = "gitlab" }, ErrUnknownProvider, "github, bitbucket, bitbucket-server"},
		{"a repository without an owner is refused", func(r *Request) { r.Repository = "app" }, ErrBadRepository, `"app"`},
		{"a repository with three parts is refused", func(r *Request) { r.Repository = "a/b/c" }, ErrBadRepository, ""},
		{"a repository climbing out of the path is refused", func(r *Request) { r.Repository = "../admin" }, ErrBadRepository, ""},
		{"a personal project is only a Data Center thing", func(r *Request) { r.Repository = "~me/app" }, ErrBadRepository, ""},
		{"bitbucket-server without its base URL is refused", func(r *Request) { r.Provider = "bitbucket-server" }, ErrNeedAPIURL, ""},
		{"a relative webhook URL is refused", func(r *Request) { r.WebhookURL = "/webhooks" }, ErrBadURL, ""},
		{"registration without a token is refused", func(r *Request) { r.Register = true }, ErrNeedToken, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := ok
			tc.edit(&req)
			_, err := New(nil).Add(context.Background(), req)
			require.ErrorIs(t, err, tc.want)
			assert.Contains(t, err.Error(), tc.text)
		})
	}
}

func TestAnAPIURLWithCredentialsIsRefusedWithoutEchoingThem(t *testing.T) {
	t.Parallel()
	_, err := New(nil).Add(context.Background(), Request{Provider: "bitbucket-server", Repository: "PROJ/app", WebhookURL: webhookURL,
		APIURL: "https://admin:hunter2@bitbucket.example.com"})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "hunter2")
}

func TestTwoSecretsTaggedForOneRepositoryAreReportedNotGuessedBetween(t *testing.T) {
	sm := newSM(t)
	p := newPrefix()
	for _, hook := range []string{"aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"} {
		_, err := sm.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: aws.String(p + hook),
			SecretString: aws.String(`{"provider":"github","repository":"octo/app","webhook_secrets":["x"]}`),
			Tags:         []smtypes.Tag{{Key: aws.String(TagKey), Value: aws.String("github:octo/app")}}})
		require.NoError(t, err)
	}
	_, err := New(sm).Add(context.Background(), Request{Provider: "github", Repository: "octo/app", WebhookURL: webhookURL, SecretPrefix: p, Rotate: true})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "has 2 secrets")
	assert.True(t, strings.Contains(err.Error(), p+"aaaaaaaaaaaaaaaa") && strings.Contains(err.Error(), p+"bbbbbbbbbbbbbbbb"))
}

// failingSecrets is Secrets Manager with one call failing.
type failingSecrets struct {
	secretsAPI
	create func() error
}

func (f failingSecrets) CreateSecret(ctx context.Context, in *secretsmanager.CreateSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error) {
	if err := f.create(); err != nil {
		return nil, err
	}
	return f.secretsAPI.CreateSecret(ctx, in, optFns...)
}

func TestAFailedCreateIsReportedWithTheSecretNameAndRegistersNothing(t *testing.T) {
	denied := errors.New("AccessDeniedException: not authorized to perform secretsmanager:TagResource")
	fake, base := newProvider(t, func(request) (int, string) { return http.StatusCreated, `{"id": 1}` })
	sm := failingSecrets{secretsAPI: newSM(t), create: func() error { return denied }}

	res, err := New(sm).Add(context.Background(), Request{Provider: "github", Repository: "octo/app", WebhookURL: webhookURL,
		SecretPrefix: newPrefix(), Token: token, APIURL: base, Register: true})
	require.ErrorIs(t, err, denied)
	assert.Contains(t, err.Error(), "create secret t")
	assert.Empty(t, res.SecretName)
	assert.Empty(t, fake.requests(), "no webhook may point at a hook without a secret")
}

func TestPrintingARequestOrAResultShowsNoSecret(t *testing.T) {
	t.Parallel()
	req := Request{Provider: "github", Repository: "octo/app", Token: "ghp_hidden"}
	res := Result{Key: "github:octo/app", WebhookSecret: "whsec_hidden"}
	for _, s := range []string{fmt.Sprint(req), fmt.Sprintf("%+v %#v", req, req), fmt.Sprint(res), fmt.Sprintf("%+v %#v", res, res)} {
		assert.NotContains(t, s, "hidden")
	}
}
