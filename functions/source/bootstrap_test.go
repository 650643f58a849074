package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/awstest"
	"github.com/stepline/stepline/pkg/lambdatest"
	"github.com/stepline/stepline/pkg/reposecret"
)

// TestTheBootstrapAnswersItsSampleEvent starts the real bootstrap under the Runtime API
// harness, with Secrets Manager and S3 on moto, a Data Center forge on httptest (its URL
// is the repository secret's api_url) and a CodeCommit stand-in, and invokes
// events/source/bitbucket-server.json, then events/source/codecommit.json.
func TestTheBootstrapAnswersItsSampleEvent(t *testing.T) {
	moto := awstest.StartMoto(t)
	ctx := context.Background()
	event, err := os.ReadFile(filepath.Join("..", "..", "events", "source", "bitbucket-server.json"))
	require.NoError(t, err)
	var in Input
	require.NoError(t, json.Unmarshal(event, &in))

	forge := newForge(t)
	prefix := "bootstrap-" + time.Now().Format("150405.000000") + "/"
	value, _ := json.Marshal(reposecret.Secret{Provider: in.Provider, Repository: in.Repository, WebhookSecrets: []string{"s"}, Token: token, APIURL: forge.URL})
	_, err = secretsmanager.NewFromConfig(moto.Config()).CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(prefix + in.Hook), SecretString: aws.String(string(value))})
	require.NoError(t, err)
	s3c := s3.NewFromConfig(moto.Config(), func(o *s3.Options) { o.UsePathStyle = true })
	_, err = s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(in.Bucket)})
	if err != nil {
		require.Contains(t, err.Error(), "BucketAlready")
	}

	cc := newCodeCommit(t)
	fn := lambdatest.Start(t, lambdatest.Build(t, "."), map[string]string{
		"STEPLINE_SECRET_PREFIX": prefix, "STEPLINE_S3_PATH_STYLE": "true", "AWS_ENDPOINT_URL_CODECOMMIT": cc.URL,
		"AWS_ENDPOINT_URL": moto.Endpoint, "AWS_REGION": awstest.Region, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
	})
	res, err := fn.Invoke(ctx, event)
	require.NoError(t, err)
	require.False(t, res.Failed(), "%s: %s", res.ErrorType, res.ErrorMessage)
	var out Output
	require.NoError(t, json.Unmarshal(res.Payload, &out))
	assert.Equal(t, in.Key, out.Artifact.Key)
	assert.Positive(t, out.Artifact.Size)
	obj, err := s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(in.Bucket), Key: aws.String(in.Key), ChecksumMode: s3types.ChecksumModeEnabled})
	require.NoError(t, err)
	assert.Equal(t, out.Artifact.Size, aws.ToInt64(obj.ContentLength))
	// The zip is small enough for one PutObject, which moto answers with the checksum.
	got, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(in.Bucket), Key: aws.String(in.Key)})
	require.NoError(t, err)
	defer got.Body.Close()
	zipped, err := io.ReadAll(got.Body)
	require.NoError(t, err)
	assert.Equal(t, crc32Of(zipped), out.Artifact.ChecksumCRC32)
	assert.Equal(t, aws.ToString(obj.ChecksumCRC32), out.Artifact.ChecksumCRC32, "what head-object --checksum-mode ENABLED shows")
	t.Logf("source: exec to first response %s", fn.FirstResponse().Round(time.Microsecond))

	// CodeCommit: no secret, the function's role; the same small commit, walked.
	event, err = os.ReadFile(filepath.Join("..", "..", "events", "source", "codecommit.json"))
	require.NoError(t, err)
	var ccIn Input
	require.NoError(t, json.Unmarshal(event, &ccIn))
	res, err = fn.Invoke(ctx, event)
	require.NoError(t, err)
	require.False(t, res.Failed(), "%s: %s\n%s", res.ErrorType, res.ErrorMessage, fn.Output())
	require.NoError(t, json.Unmarshal(res.Payload, &out))
	assert.Equal(t, ccIn.Key, out.Artifact.Key)
	got, err = s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(ccIn.Bucket), Key: aws.String(ccIn.Key)})
	require.NoError(t, err)
	defer got.Body.Close()
	zipped, err = io.ReadAll(got.Body)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"README.md": "-rw-rw-r--", "bin/": "drwxrwxr-x", "bin/build.sh": "-rwxrwxr-x", "latest": "Lrwxrwxrwx"},
		zipModes(t, zipped), "the executable and the link kept")
}
