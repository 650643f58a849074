package sourcearchive

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/artifact"
	"github.com/stepline/stepline/pkg/awstest"
	"github.com/stepline/stepline/pkg/iamcheck"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(benchChild())
	}
	awstest.Main(m)
}

// commit is the commit every test archives; token the credential every provider expects.
const (
	commit = "7fd1a60b01f91b314f59955a4e4d4e80d8edf11d"
	token  = "ghp_s3cr3tT0kenValue"
)

// commitTime is when the sample commit was made: git archive stamps every entry with it.
var commitTime = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

// node is what a test compares of one path: its type and permissions, and its content (a
// file's bytes or a link's target).
type node struct {
	Mode fs.FileMode
	Body string
}

// sourceTree is the commit's tree as git stores it, plus an empty directory (which git
// cannot hold but a tar archive can): nested directories, an executable, links to a file and
// to a directory, an incompressible file and text.
func sourceTree() map[string]node {
	return map[string]node{
		"README.md":                     {0o644, "# app\n\nBuilt by stepline.\n"},
		"buildspec.yml":                 {0o644, "version: 0.2\nphases:\n  build:\n    commands:\n      - ./bin/build.sh\n"},
		"bin":                           {fs.ModeDir | 0o755, ""},
		"bin/build.sh":                  {0o755, "#!/bin/sh\nset -eu\necho building\n"},
		"src":                           {fs.ModeDir | 0o755, ""},
		"src/app":                       {fs.ModeDir | 0o755, ""},
		"src/app/internal":              {fs.ModeDir | 0o755, ""},
		"src/app/internal/deep":         {fs.ModeDir | 0o755, ""},
		"src/app/internal/deep/main.go": {0o644, strings.Repeat("package deep // a line that deflates well\n", 200)},
		"src/current":                   {fs.ModeSymlink | 0o777, "app"},
		"docs":                          {fs.ModeDir | 0o755, ""},
		"docs/INSTALL":                  {fs.ModeSymlink | 0o777, "../README.md"},
		"assets":                        {fs.ModeDir | 0o755, ""},
		"assets/logo.png":               {0o644, string(noise(100<<10, 1))},
		"assets/empty.txt":              {0o644, ""},
		"empty":                         {fs.ModeDir | 0o755, ""},
		"with space/and ünïcode.txt":    {0o644, "names survive\n"},
		"with space":                    {fs.ModeDir | 0o755, ""},
	}
}

// noise is n deterministic incompressible bytes.
func noise(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 's', 't', 'e', 'p'})
	_, _ = r.Read(b)
	return b
}

// gitArchive writes tree as `git archive --format=tar.gz --prefix=prefix` writes a commit,
// which is what GitHub and Bitbucket serve: a pax global header carrying the commit id, then
// every directory before its contents, modes under umask 002, the commit's time on every
// entry. extra entries follow the tree's, verbatim.
func gitArchive(t testing.TB, prefix string, tree map[string]node, extra ...*tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	require.NoError(t, err)
	tw := tar.NewWriter(gz)
	require.NoError(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: "pax_global_header",
		PAXRecords: map[string]string{"comment": commit}, Format: tar.FormatPAX}))
	hdr := func(name string, typ byte, mode int64) *tar.Header {
		return &tar.Header{Name: name, Typeflag: typ, Mode: mode, ModTime: commitTime, Uname: "root", Gname: "root"}
	}
	if prefix != "" {
		require.NoError(t, tw.WriteHeader(hdr(prefix, tar.TypeDir, 0o775)))
	}
	names := make([]string, 0, len(tree))
	for name := range tree {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		n := tree[name]
		switch {
		case n.Mode.IsDir():
			require.NoError(t, tw.WriteHeader(hdr(prefix+name+"/", tar.TypeDir, int64(n.Mode.Perm()))))
		case n.Mode&fs.ModeSymlink != 0:
			h := hdr(prefix+name, tar.TypeSymlink, 0o777)
			h.Linkname = n.Body
			require.NoError(t, tw.WriteHeader(h))
		default:
			h := hdr(prefix+name, tar.TypeReg, int64(n.Mode.Perm()))
			h.Size = int64(len(n.Body))
			require.NoError(t, tw.WriteHeader(h))
			_, err := io.WriteString(tw, n.Body)
			require.NoError(t, err)
		}
	}
	for _, h := range extra {
		require.NoError(t, tw.WriteHeader(h))
		if h.Size > 0 {
			_, err := tw.Write(make([]byte, h.Size))
			require.NoError(t, err)
		}
	}
	require.NoError(t, tw.Close())
	require.NoError(t, gz.Close())
	return buf.Bytes()
}

// extracted unzips data with pkg/artifact (the extractor local runs use, which keeps modes
// and links) and reads the tree back from disk.
func extracted(t testing.TB, data []byte) map[string]node {
	t.Helper()
	dir := t.TempDir()
	zipPath := filepath.Join(dir, "source.zip")
	require.NoError(t, os.WriteFile(zipPath, data, 0o600))
	dest := filepath.Join(dir, "tree")
	require.NoError(t, artifact.Unzip(context.Background(), zipPath, dest))
	tree := map[string]node{}
	err := filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dest {
			return err
		}
		rel, err := filepath.Rel(dest, p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		n := node{Mode: info.Mode()}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			n.Body, err = os.Readlink(p)
		case info.Mode().IsRegular():
			var b []byte
			b, err = os.ReadFile(p)
			n.Body = string(b)
		}
		tree[filepath.ToSlash(rel)] = n
		return err
	})
	require.NoError(t, err)
	return tree
}

// entries lists the zip's entries by name.
func entries(t testing.TB, data []byte) map[string]*zip.File {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	require.NoError(t, err)
	out := map[string]*zip.File{}
	for _, f := range zr.File {
		out[f.Name] = f
	}
	return out
}

// fakeS3 is gofakes3 in memory behind an httptest server (plain HTTP: the SDK's trailing
// checksums, which gofakes3 cannot read, are only used over TLS), with one bucket.
func fakeS3(t testing.TB) (*s3.Client, string) {
	client, bucket, _ := countedS3(t)
	return client, bucket
}

// asSourceFunction returns client as the source function's, whose calls are recorded for
// the IAM check (iamcheck), with the recorder for its other clients. The bucket is the
// stack's artifact bucket, where every run's source goes.
func asSourceFunction(t testing.TB, client *s3.Client, bucket string) (*s3.Client, *iamcheck.Recorder) {
	t.Helper()
	rec := iamcheck.NewRecorder(t, "source", map[string]string{"ArtifactBucket": bucket})
	return s3.New(client.Options(), func(o *s3.Options) {
		o.APIOptions = append(append([]func(*middleware.Stack) error(nil), o.APIOptions...), rec.Add)
	}), rec
}

// calls counts the multipart requests a fake S3 answered.
type calls struct {
	creates, parts, aborts atomic.Int32
}

// countedS3 is fakeS3, counting the multipart requests it receives.
func countedS3(t testing.TB) (*s3.Client, string, *calls) {
	t.Helper()
	n := &calls{}
	fake := gofakes3.New(s3mem.New()).Server()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		switch {
		case r.Method == http.MethodPost && q.Has("uploads"):
			n.creates.Add(1)
		case r.Method == http.MethodPut && q.Has("uploadId"):
			n.parts.Add(1)
		case r.Method == http.MethodDelete && q.Has("uploadId"):
			n.aborts.Add(1)
		}
		fake.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	client := s3Client(srv.URL)
	bucket := "artifacts"
	_, err := client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	require.NoError(t, err)
	return client, bucket, n
}

// checksummingS3 is fakeS3 checking each part's CRC32 and answering it, as S3 does,
// and keeping the body of every CompleteMultipartUpload, which completes returns.
func checksummingS3(t testing.TB) (client *s3.Client, bucket string, completes func() [][]byte) {
	t.Helper()
	var (
		mu   sync.Mutex
		kept [][]byte
	)
	fake := gofakes3.New(s3mem.New()).Server()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.Method != http.MethodPut && r.Method != http.MethodPost || !q.Has("uploadId") {
			fake.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if r.Method == http.MethodPut {
			// Over plain HTTP the SDK sends the checksum as a header, not a trailer.
			sum := crc32Of(body)
			if r.Header.Get("X-Amz-Checksum-Crc32") != sum {
				http.Error(w, "<Error><Code>BadDigest</Code></Error>", http.StatusBadRequest)
				return
			}
			w.Header().Set("X-Amz-Checksum-Crc32", sum)
		} else {
			mu.Lock()
			kept = append(kept, body)
			mu.Unlock()
		}
		fake.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	client = s3Client(srv.URL)
	bucket = "artifacts"
	_, err := client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	require.NoError(t, err)
	return client, bucket, func() [][]byte {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(kept)
	}
}

// crc32Of is b's CRC32 (IEEE, CRC-32/ISO-HDLC) as S3 writes it: base64 of the 4 big-endian
// bytes.
func crc32Of(b []byte) string {
	return base64.StdEncoding.EncodeToString(binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE(b)))
}

func s3Client(endpoint string) *s3.Client {
	return s3.New(s3.Options{
		Region:       awstest.Region,
		Credentials:  credentials.NewStaticCredentialsProvider("testing", "testing", ""),
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		HTTPClient:   &http.Client{Timeout: 5 * time.Minute},
	})
}

// object reads an object whole.
func object(t testing.TB, client *s3.Client, bucket, key string) []byte {
	t.Helper()
	out, err := client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	require.NoError(t, err)
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	require.NoError(t, err)
	return b
}

// pendingUploads counts the multipart uploads started and neither completed nor aborted.
func pendingUploads(t testing.TB, client *s3.Client, bucket string) int {
	t.Helper()
	out, err := client.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if ae := smithy.APIError(nil); errors.As(err, &ae) && ae.ErrorCode() == "NoSuchUpload" {
		// gofakes3's answer for a bucket that never had a multipart upload.
		return 0
	}
	require.NoError(t, err)
	return len(out.Uploads)
}

// archiver is an Archiver serving fixed bytes, or failing.
type archiver struct {
	data   []byte
	topDir bool
	body   func() io.ReadCloser
	err    error
}

func (a archiver) Open(context.Context, string, string) (*Archive, error) {
	if a.err != nil {
		return nil, a.err
	}
	if a.body != nil {
		return &Archive{Body: a.body(), TopDir: a.topDir}, nil
	}
	return &Archive{Body: io.NopCloser(bytes.NewReader(a.data)), TopDir: a.topDir}, nil
}

// failingAfter reads r and fails with err once n bytes have gone through.
type failingAfter struct {
	r   io.Reader
	n   int64
	err error
}

func (f *failingAfter) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	if int64(len(p)) > f.n {
		p = p[:f.n]
	}
	n, err := f.r.Read(p)
	f.n -= int64(n)
	return n, err
}

func (f *failingAfter) Close() error { return nil }
