package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/awstest"
	"github.com/stepline/stepline/pkg/lambdatest"
	"github.com/stepline/stepline/pkg/reposecret"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// coldStartTarget is issue 4's target for exec to first response.
const coldStartTarget = 50 * time.Millisecond

// bootstrapCase is one function's real bootstrap, built as for Lambda and run under the
// Runtime API harness, answering its sample events with its AWS services on moto. Adding a
// function is adding a row to bootstrapCases.
type bootstrapCase struct {
	// name is the function's directory under functions/ and its samples' under events/.
	name string
	// setup creates what the function needs on moto and returns its own environment; the
	// endpoint, region and credentials are added for every function.
	setup func(tb testing.TB, moto *awstest.Moto) map[string]string
	// samples are invoked in order on one process; BenchmarkColdStart replays the first.
	samples []bootstrapSample
}

// bootstrapSample is one sample event and what the function must answer.
type bootstrapSample struct {
	event string
	// before runs just ahead of the invocation.
	before func(tb testing.TB, moto *awstest.Moto)
	check  func(tb testing.TB, res lambdatest.Result)
}

func bootstrapCases() []bootstrapCase {
	return []bootstrapCase{
		{name: "webhook", setup: webhookResources, samples: []bootstrapSample{
			{event: "github-push.json", before: registerHook("github", sampleRepository("github-push.json")), check: statusCode(202)},
			{event: "github-push-bad-signature.json", before: registerHook("github", sampleRepository("github-push.json")), check: statusCode(401)},
			{event: "bitbucket-server-diagnostics-ping.json", before: registerHook("bitbucket-server", fixed("PROJ/repository")), check: statusCode(200)},
		}},
	}
}

func TestEveryBootstrapAnswersItsSampleEventsUnderTheRuntimeAPI(t *testing.T) {
	moto := awstest.StartMoto(t)
	for _, c := range bootstrapCases() {
		t.Run(c.name, func(t *testing.T) {
			f := lambdatest.Start(t, lambdatest.Build(t, filepath.Join("..", c.name)), c.env(t, moto))
			for _, s := range c.samples {
				t.Run(s.event, func(t *testing.T) {
					if s.before != nil {
						s.before(t, moto)
					}
					res, err := f.Invoke(context.Background(), readEvent(t, c.name, s.event))
					require.NoError(t, err)
					require.False(t, res.Failed(), "%s: %s", res.ErrorType, res.ErrorMessage)
					s.check(t, res)
				})
			}
			t.Logf("%s: exec to first response %s (init %s)", c.name, f.FirstResponse().Round(time.Microsecond), f.InitDuration().Round(time.Microsecond))
		})
	}
}

// BenchmarkColdStart starts each function's bootstrap afresh in every iteration and measures
// exec to the answer of its first sample, initialisation and AWS calls (on moto) included.
// first-response-ms is the median, init-ms the median time to the runtime's first request for
// an event, vs-target the median over issue 4's 50 ms.
func BenchmarkColdStart(b *testing.B) {
	moto := awstest.StartMoto(b)
	for _, c := range bootstrapCases() {
		b.Run(c.name, func(b *testing.B) {
			bin := lambdatest.Build(b, filepath.Join("..", c.name))
			env := c.env(b, moto)
			s := c.samples[0]
			if s.before != nil {
				s.before(b, moto)
			}
			event := readEvent(b, c.name, s.event)
			var firsts, inits []time.Duration
			b.ResetTimer()
			for b.Loop() {
				f := lambdatest.Start(b, bin, env)
				res, err := f.Invoke(context.Background(), event)
				if err != nil {
					b.Fatal(err)
				}
				s.check(b, res)
				firsts, inits = append(firsts, f.FirstResponse()), append(inits, f.InitDuration())
				f.Stop()
			}
			slices.Sort(firsts)
			slices.Sort(inits)
			median := firsts[len(firsts)/2]
			b.ReportMetric(ms(median), "first-response-ms")
			b.ReportMetric(ms(firsts[len(firsts)-1]), "max-first-response-ms")
			b.ReportMetric(ms(inits[len(inits)/2]), "init-ms")
			b.ReportMetric(float64(median)/float64(coldStartTarget), "vs-target")
		})
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// env is the function's environment: its own and the AWS settings pointing it at moto.
func (c bootstrapCase) env(tb testing.TB, moto *awstest.Moto) map[string]string {
	tb.Helper()
	env := c.setup(tb, moto)
	maps.Copy(env, map[string]string{
		"AWS_ENDPOINT_URL":      moto.Endpoint,
		"AWS_REGION":            awstest.Region,
		"AWS_ACCESS_KEY_ID":     "testing",
		"AWS_SECRET_ACCESS_KEY": "testing",
	})
	return env
}

func readEvent(tb testing.TB, function, file string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "events", function, file))
	require.NoError(tb, err)
	return b
}

// statusCode checks the API Gateway response's status.
func statusCode(want int) func(tb testing.TB, res lambdatest.Result) {
	return func(tb testing.TB, res lambdatest.Result) {
		tb.Helper()
		var got struct {
			StatusCode int    `json:"statusCode"`
			Body       string `json:"body"`
		}
		require.NoError(tb, json.Unmarshal(res.Payload, &got), "%s", res.Payload)
		assert.Equal(tb, want, got.StatusCode, got.Body)
	}
}

// webhookResources creates the webhook's bus and bucket under a name of their own, since
// moto is shared by the whole test binary.
func webhookResources(tb testing.TB, moto *awstest.Moto) map[string]string {
	tb.Helper()
	ctx := context.Background()
	cfg := moto.Config()
	name := fmt.Sprintf("stepline-bootstrap-%d", time.Now().UnixNano())
	_, err := eventbridge.NewFromConfig(cfg).CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(name)})
	require.NoError(tb, err)
	_, err = s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }).
		CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
	require.NoError(tb, err)
	return map[string]string{
		"STEPLINE_EVENT_BUS": name,
		"STEPLINE_BUCKET":    name,
		// The samples share one hook id, which each registers for its own provider just
		// before it is sent: without a cache the function reads the current registration.
		"STEPLINE_SECRET_TTL": "0s",
	}
}

// registerHook stores the samples' hook secret (events/README.md) for provider and the
// repository, creating or replacing it.
func registerHook(provider string, repository func(testing.TB) string) func(testing.TB, *awstest.Moto) {
	return func(tb testing.TB, moto *awstest.Moto) {
		tb.Helper()
		value, err := json.Marshal(reposecret.Secret{Provider: provider, Repository: repository(tb), WebhookSecrets: []string{sampleSecret}})
		require.NoError(tb, err)
		ctx := context.Background()
		sm := secretsmanager.NewFromConfig(moto.Config())
		name := aws.String(reposecret.DefaultPrefix + sampleHook)
		_, err = sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: name, SecretString: aws.String(string(value))})
		var exists *smtypes.ResourceExistsException
		if errors.As(err, &exists) {
			_, err = sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: name, SecretString: aws.String(string(value))})
		}
		require.NoError(tb, err)
	}
}

// sampleRepository reads the repository's full name from a webhook sample's body.
func sampleRepository(file string) func(testing.TB) string {
	return func(tb testing.TB) string {
		tb.Helper()
		var req struct{ Body string }
		require.NoError(tb, json.Unmarshal(readEvent(tb, "webhook", file), &req))
		var body struct {
			Repository struct {
				FullName string `json:"full_name"`
			} `json:"repository"`
		}
		require.NoError(tb, json.Unmarshal([]byte(req.Body), &body))
		require.NotEmpty(tb, body.Repository.FullName, "%s has no repository.full_name", file)
		return body.Repository.FullName
	}
}

func fixed(s string) func(testing.TB) string { return func(testing.TB) string { return s } }
