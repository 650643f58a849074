package reposecret

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/awstest"
	"github.com/stepline/stepline/pkg/iamcheck"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// countingGetter counts the calls that reach Secrets Manager.
type countingGetter struct {
	secretGetter
	calls atomic.Int32
}

func (c *countingGetter) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	c.calls.Add(1)
	return c.secretGetter.GetSecretValue(ctx, in, optFns...)
}

func newSM(t *testing.T) *secretsmanager.Client {
	t.Helper()
	return secretsmanager.NewFromConfig(awstest.StartMoto(t).Config())
}

// readers is a Secrets Manager client whose calls are recorded as those of the functions
// that read repository secrets through a Store (their mains wire reposecret.NewStore with
// STEPLINE_SECRET_PREFIX), for the IAM check (iamcheck).
func readers(t *testing.T) *secretsmanager.Client {
	t.Helper()
	cfg := awstest.StartMoto(t).Config()
	for _, fn := range []string{"webhook", "trigger", "source"} {
		cfg = iamcheck.NewRecorder(t, fn, map[string]string{"env:STEPLINE_SECRET_PREFIX": DefaultPrefix}).Config(cfg)
	}
	return secretsmanager.NewFromConfig(cfg)
}

func put(t *testing.T, sm *secretsmanager.Client, name, value string) {
	t.Helper()
	_, err := sm.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)})
	require.NoError(t, err)
}

func hookID(t *testing.T) string {
	return fmt.Sprintf("hook_%d_%s", time.Now().UnixNano(), t.Name()[:4])
}

func TestStoreReadsTheRepositorySecretFromSecretsManager(t *testing.T) {
	sm := newSM(t)
	hook := hookID(t)
	put(t, sm, DefaultPrefix+hook, `{"provider":"github","repository":"octo/app","webhook_secrets":["old","new"],"token":"ghp_x"}`)

	s, err := NewStore(readers(t)).Get(context.Background(), hook)
	require.NoError(t, err)
	assert.Equal(t, "github", s.Provider)
	assert.Equal(t, "octo/app", s.Repository)
	assert.Equal(t, [][]byte{[]byte("old"), []byte("new")}, s.Keys())
	assert.Equal(t, "ghp_x", s.Token)
}

func TestStoreCachesForTheTTLAndPicksUpARotationAfterIt(t *testing.T) {
	sm := newSM(t)
	hook := hookID(t)
	put(t, sm, DefaultPrefix+hook, `{"provider":"github","repository":"octo/app","webhook_secrets":["one"]}`)
	now := time.Unix(1_700_000_000, 0)
	cg := &countingGetter{secretGetter: sm}
	st := NewStore(cg, WithClock(func() time.Time { return now }), WithTTL(time.Minute, time.Second))
	ctx := context.Background()

	for range 5 {
		_, err := st.Get(ctx, hook)
		require.NoError(t, err)
	}
	assert.EqualValues(t, 1, cg.calls.Load(), "five deliveries within the TTL cost one call")

	_, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(DefaultPrefix + hook),
		SecretString: aws.String(`{"provider":"github","repository":"octo/app","webhook_secrets":["one","two"]}`)})
	require.NoError(t, err)
	s, _ := st.Get(ctx, hook)
	assert.Len(t, s.Keys(), 1, "within the TTL the cached value is used")

	now = now.Add(61 * time.Second)
	s, err = st.Get(ctx, hook)
	require.NoError(t, err)
	assert.Len(t, s.Keys(), 2, "after the TTL the rotation is seen")
	assert.EqualValues(t, 2, cg.calls.Load())
}

func TestAnUnknownHookIsUnknownAndRememberedBriefly(t *testing.T) {
	sm := newSM(t)
	now := time.Unix(1_700_000_000, 0)
	cg := &countingGetter{secretGetter: sm}
	st := NewStore(cg, WithClock(func() time.Time { return now }), WithTTL(time.Minute, 10*time.Second))
	hook := hookID(t)

	_, err := st.Get(context.Background(), hook)
	assert.ErrorIs(t, err, ErrUnknownHook)
	_, err = st.Get(context.Background(), hook)
	assert.ErrorIs(t, err, ErrUnknownHook)
	assert.EqualValues(t, 1, cg.calls.Load())

	put(t, sm, DefaultPrefix+hook, `{"provider":"bitbucket","repository":"team/app","webhook_secrets":["s"]}`)
	now = now.Add(11 * time.Second)
	s, err := st.Get(context.Background(), hook)
	require.NoError(t, err, "a new registration works once the short negative TTL has passed")
	assert.Equal(t, "bitbucket", s.Provider)
}

func TestMalformedHookIDsNeverReachSecretsManager(t *testing.T) {
	t.Parallel()
	cg := &countingGetter{}
	st := NewStore(cg)
	for _, id := range []string{"", "short", "../../other/secret-id-long", "has space in it 123456", "a/b/c/d/e/f/g/h/i/j/k"} {
		_, err := st.Get(context.Background(), id)
		assert.ErrorIs(t, err, ErrUnknownHook, id)
	}
	assert.EqualValues(t, 0, cg.calls.Load())
}

type failingGetter struct{ err error }

func (f failingGetter) GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	return nil, f.err
}

func TestOtherErrorsAreWrappedAndNotCached(t *testing.T) {
	t.Parallel()
	boom := errors.New("ThrottlingException: Rate exceeded")
	st := NewStore(failingGetter{boom})
	_, err := st.Get(context.Background(), "abcdefghijklmnop")
	assert.ErrorIs(t, err, boom)
	assert.NotErrorIs(t, err, ErrUnknownHook)
}

func TestErrorsKeepOnlyTheStartOfTheHookID(t *testing.T) {
	t.Parallel()
	hook := "abcdefghijklmnopqrstuvwx"
	st := NewStore(failingGetter{errors.New("AccessDeniedException: not authorized to perform secretsmanager:GetSecretValue on resource stepline/repos/" + hook)})
	_, err := st.Get(context.Background(), hook)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), hook)
	assert.Contains(t, err.Error(), "stepline/repos/abcdef…")
}

func TestTheCacheStaysBoundedUnderRandomHookIDs(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	st := NewStore(failingGetter{&smtypes.ResourceNotFoundException{Message: aws.String("no")}}, WithClock(func() time.Time { return now }))
	for i := range maxCached + 500 {
		_, err := st.Get(context.Background(), fmt.Sprintf("random-hook-id-%08d", i))
		require.ErrorIs(t, err, ErrUnknownHook)
	}
	assert.LessOrEqual(t, len(st.cache), maxCached)
}

func TestABrokenSecretValueIsAnErrorNamingTheFieldNotTheValue(t *testing.T) {
	sm := newSM(t)
	hook := hookID(t)
	put(t, sm, DefaultPrefix+hook, `{"provider":"gitlab","repository":"x/y","webhook_secrets":["hunter2"]}`)
	_, err := NewStore(readers(t)).Get(context.Background(), hook)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `provider "gitlab"`)
	assert.NotContains(t, err.Error(), "hunter2")
}

func TestConcurrentLookupsOfOneHookMakeOneCall(t *testing.T) {
	sm := newSM(t)
	hook := hookID(t)
	put(t, sm, DefaultPrefix+hook, `{"provider":"github","repository":"octo/app","webhook_secrets":["k"]}`)
	cg := &countingGetter{secretGetter: sm}
	st := NewStore(cg)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			_, err := st.Get(context.Background(), hook)
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	assert.EqualValues(t, 1, cg.calls.Load())
}

func TestParse(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, value, err string
	}{
		{"a GitHub secret with two webhook secrets is valid", `{"provider":"github","repository":"o/r","webhook_secrets":["a","b"]}`, ""},
		{"text that is not JSON is refused", `hunter2`, "not a JSON object"},
		{"an unknown provider is refused", `{"provider":"gitlab","repository":"o/r","webhook_secrets":["a"]}`, `provider "gitlab"`},
		{"a missing repository is refused", `{"provider":"github","webhook_secrets":["a"]}`, "repository is empty"},
		{"only empty webhook secrets are refused", `{"provider":"github","repository":"o/r","webhook_secrets":[""]}`, "no non-empty secret"},
		{"a Data Center token without the server's URL is refused", `{"provider":"bitbucket-server","repository":"P/r","webhook_secrets":["a"],"token":"t"}`, "api_url is required"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(c.value))
			if c.err == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.err)
		})
	}
}

func TestPrintingASecretHidesItsValues(t *testing.T) {
	t.Parallel()
	s := Secret{Provider: "github", Repository: "o/r", WebhookSecrets: []string{"hunter2"}, Token: "ghp_secret"}
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %#v", s, s, s)} {
		assert.NotContains(t, out, "hunter2")
		assert.NotContains(t, out, "ghp_secret")
	}
}
