package sourcearchive

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/awstest"
	"github.com/stepline/stepline/pkg/scm"
)

// bigTree is sourceTree with an incompressible file large enough for several 5 MiB parts.
func bigTree(size int) map[string]node {
	tree := sourceTree()
	tree["assets/video.bin"] = node{0o644, string(noise(size, 2))}
	return tree
}

func newStreamer(t testing.TB, client *s3.Client) *Streamer {
	t.Helper()
	s, err := New(client, WithPartSize(MinPartSize), WithConcurrency(2), WithFailTimeout(10*time.Second))
	require.NoError(t, err)
	return s
}

func TestStreamUploadsTheZipAndSaysItsSize(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		tree map[string]node
	}{
		{"a small repository goes up in one request", sourceTree()},
		{"a large repository goes up in parts", bigTree(13 << 20)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			client, bucket := fakeS3(t)
			dst := Location{Bucket: bucket, Key: "runs/api-12/source.zip"}
			res, err := newStreamer(t, client).Stream(context.Background(),
				archiver{data: gitArchive(t, "octo-app-7fd1a60/", c.tree), topDir: true}, "octo/app", commit, dst)
			require.NoError(t, err)

			got := object(t, client, bucket, dst.Key)
			assert.Equal(t, dst, res.Location)
			assert.Equal(t, int64(len(got)), res.Size)
			assert.Empty(t, res.Checksum, "gofakes3 answers no checksum, and none is made up")
			assert.Equal(t, len(c.tree), res.Entries)
			assert.Equal(t, c.tree, extracted(t, got), "the object unzips to the commit's tree")
			assert.Zero(t, pendingUploads(t, client, bucket))
		})
	}
}

func TestCRC32IsS3sAlgorithm(t *testing.T) {
	t.Parallel()
	// The check value of CRC-32/ISO-HDLC in the CRC catalogue.
	assert.Equal(t, uint32(0xCBF43926), crc32.ChecksumIEEE([]byte("123456789")))
	assert.Equal(t, "y/Q5Jg==", crc32Of([]byte("123456789")))
}

func TestCompletingAnUploadListsEveryPartsChecksum(t *testing.T) {
	t.Parallel()
	client, bucket, completes := checksummingS3(t)
	dst := Location{Bucket: bucket, Key: "runs/api-12/source.zip"}
	_, err := newStreamer(t, client).Stream(context.Background(),
		archiver{data: gitArchive(t, "p/", bigTree(13<<20)), topDir: true}, "octo/app", commit, dst)
	require.NoError(t, err)

	got := object(t, client, bucket, dst.Key)
	var want []string
	for off := 0; off < len(got); off += MinPartSize {
		want = append(want, crc32Of(got[off:min(off+MinPartSize, len(got))]))
	}
	require.Len(t, completes(), 1)
	var list struct {
		Parts []struct {
			PartNumber    int
			ChecksumCRC32 string
		} `xml:"Part"`
	}
	require.NoError(t, xml.Unmarshal(completes()[0], &list))
	var sent []string
	for i, p := range list.Parts {
		assert.Equal(t, i+1, p.PartNumber)
		sent = append(sent, p.ChecksumCRC32)
	}
	assert.Equal(t, want, sent, "each part's CRC32, in order")
}

// cutServer serves the archive's first half with the whole length announced, then drops the
// connection, as a provider's load balancer might.
func cutServer(t testing.TB, archive []byte) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(archive)))
		_, _ = w.Write(archive[:len(archive)/2])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestADownloadFailingHalfwayLeavesNoPartsBehind(t *testing.T) {
	t.Parallel()
	client, bucket, calls := countedS3(t)
	// 24 MiB: by the cut, several 5 MiB parts are uploaded or on their way.
	srv := cutServer(t, gitArchive(t, "octo-app-7fd1a60/", bigTree(24<<20)))
	a, err := NewGitHub(srv.URL, token, nil)
	require.NoError(t, err)
	dst := Location{Bucket: bucket, Key: "runs/api-12/source.zip"}

	fn, _ := asSourceFunction(t, client, bucket)
	_, err = newStreamer(t, fn).Stream(context.Background(), a, "octo/app", commit, dst)
	require.Error(t, err)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF, "the download's failure is the one reported")
	assert.NotErrorIs(t, err, ErrInvalidArchive)

	assert.EqualValues(t, 1, calls.creates.Load(), "a multipart upload was under way")
	assert.Positive(t, calls.parts.Load(), "parts were uploaded before the cut")
	assert.Positive(t, calls.aborts.Load())
	assert.Zero(t, pendingUploads(t, client, bucket), "the multipart upload was aborted")
	_, err = client.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(dst.Key)})
	assert.Error(t, err, "no object was made")
}

func TestStreamWorksAgainstMoto(t *testing.T) {
	m := awstest.StartMoto(t)
	client := s3.NewFromConfig(m.Config(), func(o *s3.Options) { o.UsePathStyle = true })
	bucket := "source-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	_, err := client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	require.NoError(t, err)
	fn, _ := asSourceFunction(t, client, bucket)
	s := newStreamer(t, fn)
	tree := bigTree(11 << 20)
	archive := gitArchive(t, "octo-app-7fd1a60/", tree)

	t.Run("a commit arrives as its tree", func(t *testing.T) {
		dst := Location{Bucket: bucket, Key: "runs/api-12/source.zip"}
		res, err := s.Stream(context.Background(), archiver{data: archive, topDir: true}, "octo/app", commit, dst)
		require.NoError(t, err)
		got := object(t, client, bucket, dst.Key)
		assert.Equal(t, int64(len(got)), res.Size)
		assert.Equal(t, tree, extracted(t, got))
		// moto answers CompleteMultipartUpload with no checksum, so the field stays empty,
		// though head-object shows the zip's full-object CRC32.
		assert.Empty(t, res.Checksum)
		head, err := client.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(dst.Key), ChecksumMode: s3types.ChecksumModeEnabled})
		require.NoError(t, err)
		assert.Equal(t, crc32Of(got), aws.ToString(head.ChecksumCRC32))
		assert.Equal(t, s3types.ChecksumTypeFullObject, head.ChecksumType)
	})
	t.Run("a small commit comes back with the checksum head-object shows", func(t *testing.T) {
		dst := Location{Bucket: bucket, Key: "runs/api-14/source.zip"}
		res, err := s.Stream(context.Background(), archiver{data: gitArchive(t, "octo-app-7fd1a60/", sourceTree()), topDir: true}, "octo/app", commit, dst)
		require.NoError(t, err)
		got := object(t, client, bucket, dst.Key)
		assert.Equal(t, crc32Of(got), res.Checksum, "PutObject's answer")
		head, err := client.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(dst.Key), ChecksumMode: s3types.ChecksumModeEnabled})
		require.NoError(t, err)
		assert.Equal(t, res.Checksum, aws.ToString(head.ChecksumCRC32))
	})
	t.Run("a download failing halfway leaves no parts", func(t *testing.T) {
		a, err := NewGitHub(cutServer(t, archive).URL, token, nil)
		require.NoError(t, err)
		_, err = s.Stream(context.Background(), a, "octo/app", commit, Location{Bucket: bucket, Key: "runs/api-13/source.zip"})
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
		assert.Zero(t, pendingUploads(t, client, bucket))
	})
}

// flakyAborts is an S3 client whose first AbortMultipartUpload fails, as when the network
// drops at the moment the transfer manager cleans up.
type flakyAborts struct {
	s3API
	failed atomic.Bool
}

func (f *flakyAborts) AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, optFns ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
	if f.failed.CompareAndSwap(false, true) {
		return nil, errors.New("dial tcp: connection refused")
	}
	return f.s3API.AbortMultipartUpload(ctx, in, optFns...)
}

func TestAnAbortThatFailsIsTriedAgain(t *testing.T) {
	t.Parallel()
	client, bucket := fakeS3(t)
	flaky := &flakyAborts{s3API: client}
	s, err := New(flaky, WithPartSize(MinPartSize), WithConcurrency(2))
	require.NoError(t, err)
	archive := gitArchive(t, "p/", bigTree(16<<20))
	body := &failingAfter{r: bytes.NewReader(archive), n: int64(len(archive) / 2), err: io.ErrUnexpectedEOF}

	_, err = s.Stream(context.Background(), archiver{body: func() io.ReadCloser { return body }, topDir: true}, "octo/app", commit, Location{Bucket: bucket, Key: "k.zip"})
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.True(t, flaky.failed.Load(), "the transfer manager's own abort failed")
	assert.Zero(t, pendingUploads(t, client, bucket), "the second abort removed the parts")
}

// closeRecorder is an archive body that says whether it was closed.
type closeRecorder struct {
	io.Reader
	closed atomic.Bool
}

func (c *closeRecorder) Close() error { c.closed.Store(true); return nil }

func TestAFailedUploadStopsTheDownloadAndIsReported(t *testing.T) {
	t.Parallel()
	client, _ := fakeS3(t)
	body := &closeRecorder{Reader: bytes.NewReader(gitArchive(t, "p/", bigTree(12<<20)))}
	_, err := newStreamer(t, client).Stream(context.Background(),
		archiver{body: func() io.ReadCloser { return body }, topDir: true}, "octo/app", commit, Location{Bucket: "no-such-bucket", Key: "k.zip"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "upload octo/app")
	assert.Contains(t, err.Error(), "NoSuchBucket")
	assert.True(t, body.closed.Load())
}

func TestAProviderRefusalIsReturnedAsItIs(t *testing.T) {
	t.Parallel()
	client, bucket := fakeS3(t)
	refusal := &scm.APIError{Provider: "github", StatusCode: 404}
	_, err := newStreamer(t, client).Stream(context.Background(), archiver{err: refusal}, "octo/app", commit, Location{Bucket: bucket, Key: "k.zip"})
	assert.ErrorIs(t, err, scm.ErrNotFound)
	var apiErr *scm.APIError
	assert.True(t, errors.As(err, &apiErr))
}

func TestNewRefusesWhatS3AndMemoryCannotTake(t *testing.T) {
	t.Parallel()
	for _, opts := range [][]Option{
		{WithPartSize(1 << 20)},
		{WithPartSize(6 << 30)},
		{WithConcurrency(0)},
		{WithConcurrency(1000)},
	} {
		_, err := New(nil, opts...)
		assert.Error(t, err)
	}
	s, err := New(nil)
	require.NoError(t, err)
	assert.Equal(t, int64(DefaultPartSize*(DefaultConcurrency+2)), s.MemoryBound())
}
