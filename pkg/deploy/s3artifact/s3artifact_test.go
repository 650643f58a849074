package s3artifact

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/awstest"
	"github.com/stepline/stepline/pkg/deploy"
	s3deploy "github.com/stepline/stepline/pkg/deploy/s3"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// counter counts the requests and response bytes that reach the S3 stand-in.
type counter struct {
	next           http.Handler
	gets, ranged   atomic.Int64
	bytesServed    atomic.Int64
	lastRangeValue atomic.Value
}

func (c *counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		c.gets.Add(1)
		if rg := r.Header.Get("Range"); rg != "" {
			c.ranged.Add(1)
			c.lastRangeValue.Store(rg)
		}
	}
	c.next.ServeHTTP(&countingWriter{ResponseWriter: w, n: &c.bytesServed}, r)
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (w *countingWriter) Write(b []byte) (int, error) {
	w.n.Add(int64(len(b)))
	return w.ResponseWriter.Write(b)
}

// artifactZip is a zip with a large stored (uncompressed, random) file before two small ones.
func artifactZip(t *testing.T, big int) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "image.tar", Method: zip.Store})
	require.NoError(t, err)
	noise := make([]byte, big)
	_, _ = rand.Read(noise)
	_, err = w.Write(noise)
	require.NoError(t, err)
	for name, body := range map[string]string{
		"imagedefinitions.json": `[{"name":"app","imageUri":"r/app:abc123"}]`,
		"deploy/taskdef.json":   `{"family":"api"}`,
	} {
		w, err := zw.Create(name)
		require.NoError(t, err)
		_, err = w.Write([]byte(body))
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func fakeS3(t *testing.T) (*s3.Client, *counter) {
	t.Helper()
	c := &counter{next: gofakes3.New(s3mem.New()).Server()}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	client := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")})
	_, err := client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("artifacts")})
	require.NoError(t, err)
	return client, c
}

// Reading one small file of an 8 MiB artifact fetches the zip's directory and that file with
// ranged GetObject calls: a few blocks, not the artifact.
func TestReadFileFetchesOnlyTheBlocksItNeeds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client, count := fakeS3(t)
	body := artifactZip(t, 8<<20)
	_, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("artifacts"), Key: aws.String("run-1/bin.zip"), Body: bytes.NewReader(body)})
	require.NoError(t, err)
	count.gets.Store(0)
	count.bytesServed.Store(0)

	a := New(client, deploy.Location{Bucket: "artifacts", Key: "run-1/bin.zip"}, WithBlock(64<<10))
	assert.Equal(t, deploy.Location{Bucket: "artifacts", Key: "run-1/bin.zip"}, a.Location())
	got, err := a.ReadFile(ctx, "imagedefinitions.json")
	require.NoError(t, err)
	assert.JSONEq(t, `[{"name":"app","imageUri":"r/app:abc123"}]`, string(got))
	got, err = a.ReadFile(ctx, "./deploy/taskdef.json")
	require.NoError(t, err)
	assert.JSONEq(t, `{"family":"api"}`, string(got))

	assert.Equal(t, count.gets.Load(), count.ranged.Load(), "every GetObject is ranged")
	assert.LessOrEqual(t, count.gets.Load(), int64(4))
	assert.Less(t, count.bytesServed.Load(), int64(300<<10), "served %d bytes of an artifact of %d", count.bytesServed.Load(), len(body))
}

func TestReadFileSaysWhatIsWrong(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client, _ := fakeS3(t)
	body := artifactZip(t, 4<<10)
	for key, b := range map[string][]byte{"ok.zip": body, "not-a-zip": []byte("plain text, not a zip")} {
		_, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("artifacts"), Key: aws.String(key), Body: bytes.NewReader(b)})
		require.NoError(t, err)
	}
	_, err := New(client, deploy.Location{Bucket: "artifacts", Key: "ok.zip"}).ReadFile(ctx, "appspec.yaml")
	require.Error(t, err)
	assert.True(t, errors.Is(err, fs.ErrNotExist))
	assert.Contains(t, err.Error(), "artifact s3://artifacts/ok.zip: no file appspec.yaml (it has deploy/taskdef.json, image.tar, imagedefinitions.json)")

	_, err = New(client, deploy.Location{Bucket: "artifacts", Key: "ok.zip"}, WithMaxFile(1024)).ReadFile(ctx, "image.tar")
	assert.ErrorContains(t, err, "image.tar is 4096 bytes, more than the 1024 a deploy reads")

	_, err = New(client, deploy.Location{Bucket: "artifacts", Key: "not-a-zip"}).ReadFile(ctx, "a")
	assert.ErrorContains(t, err, "artifact s3://artifacts/not-a-zip: zip: not a valid zip file")

	_, err = New(client, deploy.Location{Bucket: "artifacts", Key: "missing.zip"}).ReadFile(ctx, "a")
	assert.ErrorContains(t, err, "artifact s3://artifacts/missing.zip")
}

// swapper replaces the object after the first ranged read, as a newer run writing the same
// key would.
type swapper struct {
	*s3.Client
	swapped atomic.Bool
	put     func()
}

func (s *swapper) GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	out, err := s.Client.GetObject(ctx, in, optFns...)
	if err == nil && s.swapped.CompareAndSwap(false, true) {
		s.put()
	}
	return out, err
}

// An object replaced between two ranged reads fails (moto answers If-Match with 412) instead
// of mixing two zips' bytes.
func TestReadFileFailsWhenTheObjectChangesUnderIt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client := s3.NewFromConfig(awstest.StartMoto(t).Config(), func(o *s3.Options) { o.UsePathStyle = true })
	_, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("swapped-artifacts")})
	require.NoError(t, err)
	put := func(b []byte) {
		_, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("swapped-artifacts"), Key: aws.String("bin.zip"), Body: bytes.NewReader(b)})
		require.NoError(t, err)
	}
	put(artifactZip(t, 256<<10))
	s := &swapper{Client: client, put: func() { put(artifactZip(t, 256<<10)) }}
	_, err = New(s, deploy.Location{Bucket: "swapped-artifacts", Key: "bin.zip"}, WithBlock(4<<10)).ReadFile(ctx, "imagedefinitions.json")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "PreconditionFailed")
}

// The s3 provider unpacks an artifact kept in S3 through Zip, reading it with ranged
// GetObject calls: every file reaches the target bucket, and the object is never fetched whole
// in one request.
func TestTheS3ProviderUnpacksAnArtifactInS3(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client, count := fakeS3(t)
	body := artifactZip(t, 300<<10)
	_, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("artifacts"), Key: aws.String("runs/api-1/site.zip"), Body: bytes.NewReader(body)})
	require.NoError(t, err)
	_, err = client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("web")})
	require.NoError(t, err)
	count.gets.Store(0)

	art := New(client, deploy.Location{Bucket: "artifacts", Key: "runs/api-1/site.zip"}, WithBlock(64<<10))
	w, err := s3deploy.New(client).Start(ctx, deploy.Request{Run: "api-1", Stage: "Deploy", Action: "Site",
		Config: map[string]any{"bucket": "web", "key": "v1"}, Inputs: map[string]deploy.Artifact{"site": art}})
	require.NoError(t, err)
	assert.True(t, w.Done && w.Outcome.Succeeded, "%+v", w)
	got, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("web"), Key: aws.String("v1/deploy/taskdef.json")})
	require.NoError(t, err)
	b, _ := io.ReadAll(got.Body)
	assert.JSONEq(t, `{"family":"api"}`, string(b))
	assert.Equal(t, count.gets.Load()-1, count.ranged.Load(), "every read of the artifact is ranged (the last GET is the check above)")
}
