package s3

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"sort"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/artifact"
	"github.com/stepline/stepline/pkg/awstest"
	"github.com/stepline/stepline/pkg/deploy"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// entry is one file of a test zip; link makes it a symbolic link to body.
type entry struct {
	name, body string
	link       bool
}

// memZip is an input artifact held in memory.
type memZip struct{ data []byte }

func zipOf(t *testing.T, entries ...entry) memZip {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		if e.link {
			h.SetMode(fs.ModeSymlink | 0o777)
		}
		w, err := zw.CreateHeader(h)
		require.NoError(t, err)
		_, err = io.WriteString(w, e.body)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return memZip{buf.Bytes()}
}

func (z memZip) ReadFile(_ context.Context, name string) ([]byte, error) {
	zr, err := zip.NewReader(bytes.NewReader(z.data), int64(len(z.data)))
	if err != nil {
		return nil, err
	}
	return fs.ReadFile(zr, name)
}
func (memZip) Location() deploy.Location { return deploy.Location{} }
func (z memZip) Zip(context.Context) (io.ReaderAt, int64, error) {
	return bytes.NewReader(z.data), int64(len(z.data)), nil
}

func client(t *testing.T) *s3.Client {
	return s3.NewFromConfig(awstest.StartMoto(t).Config(), func(o *s3.Options) { o.UsePathStyle = true })
}

func bucket(t *testing.T, c *s3.Client, name string, objects map[string]string) {
	t.Helper()
	ctx := context.Background()
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
	require.NoError(t, err)
	for k, v := range objects {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(name), Key: aws.String(k), Body: bytes.NewReader([]byte(v))})
		require.NoError(t, err)
	}
}

// contents reads back every object of the bucket: key → body and content type.
func contents(t *testing.T, c *s3.Client, name string) map[string][2]string {
	t.Helper()
	ctx := context.Background()
	out := map[string][2]string{}
	list, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(name)})
	require.NoError(t, err)
	for _, o := range list.Contents {
		got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(name), Key: o.Key})
		require.NoError(t, err)
		body, err := io.ReadAll(got.Body)
		got.Body.Close()
		require.NoError(t, err)
		out[aws.ToString(o.Key)] = [2]string{string(body), aws.ToString(got.ContentType)}
	}
	return out
}

func request(art deploy.Artifact, cfg map[string]any) deploy.Request {
	return deploy.Request{Run: "site-3", Stage: "Deploy", Action: "Site", Config: cfg, Inputs: map[string]deploy.Artifact{"site": art}}
}

func TestUnpackWritesEveryFileWithItsContentType(t *testing.T) {
	c := client(t)
	bucket(t, c, "s3-unpack", nil)
	art := zipOf(t,
		entry{name: "index.html", body: "<h1>hi</h1>"},
		entry{name: "assets/"},
		entry{name: "assets/app.js", body: "console.log(1)"},
		entry{name: "assets/app.mjs", body: "export {}"},
		entry{name: "assets/app.js.map", body: "{}"},
		entry{name: "assets/style.css", body: "h1{}"},
		entry{name: "assets/logo.svg", body: "<svg/>"},
		entry{name: "assets/LOGO.PNG", body: "png"},
		entry{name: "data.json", body: "[]"},
		entry{name: "site.webmanifest", body: "{}"},
		entry{name: "app.wasm", body: "\x00asm"},
		entry{name: "LICENSE", body: "MIT"},
	)
	w, err := New(c).Start(context.Background(), request(art, map[string]any{"bucket": "s3-unpack", "key": "web/v1", "extract": true}))
	require.NoError(t, err)
	assert.True(t, w.Done)
	assert.Equal(t, deploy.Outcome{Done: true, Succeeded: true, Message: "wrote 11 files to s3://s3-unpack/web/v1/"}, w.Outcome)
	assert.Equal(t, Name, w.Provider)
	assert.Equal(t, "arn:aws:s3:::s3-unpack", w.Resource)
	assert.Equal(t, map[string][2]string{
		"web/v1/index.html":        {"<h1>hi</h1>", "text/html; charset=utf-8"},
		"web/v1/assets/app.js":     {"console.log(1)", "text/javascript; charset=utf-8"},
		"web/v1/assets/app.mjs":    {"export {}", "text/javascript; charset=utf-8"},
		"web/v1/assets/app.js.map": {"{}", "application/json"},
		"web/v1/assets/style.css":  {"h1{}", "text/css; charset=utf-8"},
		"web/v1/assets/logo.svg":   {"<svg/>", "image/svg+xml"},
		"web/v1/assets/LOGO.PNG":   {"png", "image/png"},
		"web/v1/data.json":         {"[]", "application/json"},
		"web/v1/site.webmanifest":  {"{}", "application/manifest+json"},
		"web/v1/app.wasm":          {"\x00asm", "application/wasm"},
		"web/v1/LICENSE":           {"MIT", "application/octet-stream"},
	}, contents(t, c, "s3-unpack"), "every file, no directory objects, each with its type")

	out, err := New(c).Poll(context.Background(), w)
	require.NoError(t, err)
	assert.Equal(t, w.Outcome, out)
}

func TestRemovedKeysAreDeletedOnlyWhenAsked(t *testing.T) {
	c := client(t)
	before := map[string]string{"site/old.html": "old", "site/index.html": "v1", "site2/other.html": "x", "elsewhere/keep.txt": "k"}
	bucket(t, c, "s3-removed", before)
	art := zipOf(t, entry{name: "index.html", body: "v2"})
	cfg := map[string]any{"bucket": "s3-removed", "key": "site", "extract": true}

	_, err := New(c).Start(context.Background(), request(art, cfg))
	require.NoError(t, err)
	got := contents(t, c, "s3-removed")
	assert.Len(t, got, 4, "without delete_removed nothing is deleted")
	assert.Equal(t, "v2", got["site/index.html"][0])

	cfg["delete_removed"] = true
	w, err := New(c).Start(context.Background(), request(art, cfg))
	require.NoError(t, err)
	assert.Equal(t, "wrote 1 files to s3://s3-removed/site/, deleted 1 no longer in the artifact", w.Outcome.Message)
	var keys []string
	for k := range contents(t, c, "s3-removed") {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	assert.Equal(t, []string{"elsewhere/keep.txt", "site/index.html", "site2/other.html"}, keys,
		"only site/old.html went: site2/ merely shares the prefix's letters")
}

func TestDeleteRemovedDeletesMoreThanOneBatch(t *testing.T) {
	c := client(t)
	old := map[string]string{}
	for i := range 1005 {
		old[fmt.Sprintf("many/old-%04d", i)] = "x"
	}
	bucket(t, c, "s3-batches", old)
	w, err := New(c).Start(context.Background(), request(zipOf(t, entry{name: "new", body: "n"}), map[string]any{"bucket": "s3-batches", "key": "many", "delete_removed": true}))
	require.NoError(t, err)
	assert.Contains(t, w.Outcome.Message, "deleted 1005")
	assert.Equal(t, map[string][2]string{"many/new": {"n", "application/octet-stream"}}, contents(t, c, "s3-batches"))
}

func TestNamesThatWouldLeaveThePrefixAreRefused(t *testing.T) {
	c := client(t)
	bucket(t, c, "s3-escape", nil)
	for _, tc := range []struct {
		what  string
		entry entry
	}{
		{"a parent directory", entry{name: "../outside.html", body: "x"}},
		{"a parent directory deeper in", entry{name: "a/../../outside.html", body: "x"}},
		{"an absolute name", entry{name: "/etc/passwd", body: "x"}},
		{"a backslash", entry{name: `..\outside.html`, body: "x"}},
		{"a symbolic link", entry{name: "link", body: "/etc/passwd", link: true}},
	} {
		t.Run(tc.what, func(t *testing.T) {
			art := zipOf(t, entry{name: "index.html", body: "ok"}, tc.entry)
			_, err := New(c).Start(context.Background(), request(art, map[string]any{"bucket": "s3-escape", "key": "site"}))
			require.ErrorIs(t, err, ErrConfig)
			assert.Contains(t, err.Error(), fmt.Sprintf("%q", tc.entry.name))
			assert.Empty(t, contents(t, c, "s3-escape"), "nothing is written from an artifact that is refused")
		})
	}
}

func TestKeysThatWouldLeaveTheBucketsTreeAreRefused(t *testing.T) {
	for _, key := range []string{"../site", "site/../../x", "/site", `site\x`, "."} {
		t.Run(key, func(t *testing.T) {
			_, err := New(nil).Start(context.Background(), request(zipOf(t, entry{name: "a", body: "a"}), map[string]any{"bucket": "b", "key": key}))
			require.ErrorIs(t, err, ErrConfig)
			assert.Contains(t, err.Error(), "must be a relative path")
		})
	}
}

func TestConfigurationsThatCannotDeployAreRefused(t *testing.T) {
	art := zipOf(t, entry{name: "a", body: "a"})
	for _, tc := range []struct {
		name string
		req  deploy.Request
		want string
	}{
		{"no bucket", request(art, map[string]any{"key": "x"}), "bucket is required"},
		{"one object without a key", request(art, map[string]any{"bucket": "b", "extract": false}), "extract: false needs key"},
		{"delete_removed of one object", request(art, map[string]any{"bucket": "b", "key": "a.zip", "extract": false, "delete_removed": true}), "delete_removed needs extract: true"},
		{"two inputs", deploy.Request{Config: map[string]any{"bucket": "b"}, Inputs: map[string]deploy.Artifact{"a": art, "b": art}}, "exactly one input artifact, found 2"},
		{"an artifact that is not a zip", request(memZip{[]byte("not a zip")}, map[string]any{"bucket": "b"}), "is not a zip"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(nil).Start(context.Background(), tc.req)
			require.ErrorIs(t, err, ErrConfig)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestAnArtifactOverTheLimitsIsRefused(t *testing.T) {
	art := zipOf(t, entry{name: "a", body: "a"}, entry{name: "b", body: "b"}, entry{name: "c", body: "c"})
	_, err := New(nil, WithLimits(artifact.WithLimits(artifact.Limits{Entries: 2}))).Start(context.Background(), request(art, map[string]any{"bucket": "b"}))
	require.ErrorIs(t, err, artifact.ErrLimit)
}

func TestExtractFalseWritesTheArtifactAsOneObject(t *testing.T) {
	c := client(t)
	bucket(t, c, "s3-one", nil)
	art := zipOf(t, entry{name: "index.html", body: "<h1>hi</h1>"})
	w, err := New(c).Start(context.Background(), request(art, map[string]any{"bucket": "s3-one", "key": "releases/site.zip", "extract": false}))
	require.NoError(t, err)
	assert.True(t, w.Done && w.Outcome.Succeeded)
	assert.Equal(t, map[string][2]string{"releases/site.zip": {string(art.data), "application/zip"}}, contents(t, c, "s3-one"))
}

func TestALargeFileIsUploadedInParts(t *testing.T) {
	c := client(t)
	bucket(t, c, "s3-large", nil)
	big := make([]byte, 6<<20)
	_, _ = rand.Read(big)
	art := zipOf(t, entry{name: "report.pdf", body: string(big)}, entry{name: "index.html", body: "small"})
	p := New(&counting{API: c}, WithSmallObject(5<<20))
	_, err := p.Start(context.Background(), request(art, map[string]any{"bucket": "s3-large", "key": "media"}))
	require.NoError(t, err)
	got := contents(t, c, "s3-large")
	assert.True(t, bytes.Equal(big, []byte(got["media/report.pdf"][0])), "the large file arrived whole")
	assert.Equal(t, "application/pdf", got["media/report.pdf"][1])
	assert.Equal(t, [2]string{"small", "text/html; charset=utf-8"}, got["media/index.html"])
	assert.Equal(t, int32(1), p.api.(*counting).multipart.Load(), "the large file went in parts, the small one in one PutObject")
}

// counting is the moto client, counting calls in flight and multipart uploads, and failing
// the PutObject of one key.
type counting struct {
	API
	inFlight, most, multipart atomic.Int32
	failKey                   string
}

func (c *counting) PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	n := c.inFlight.Add(1)
	defer c.inFlight.Add(-1)
	for {
		m := c.most.Load()
		if n <= m || c.most.CompareAndSwap(m, n) {
			break
		}
	}
	if aws.ToString(in.Key) == c.failKey {
		return nil, errors.New("access denied")
	}
	return c.API.PutObject(ctx, in, optFns...)
}

func (c *counting) CreateMultipartUpload(ctx context.Context, in *s3.CreateMultipartUploadInput, optFns ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error) {
	c.multipart.Add(1)
	return c.API.CreateMultipartUpload(ctx, in, optFns...)
}

func TestUploadsAreBoundedAndTheFirstFailureStopsThem(t *testing.T) {
	c := client(t)
	bucket(t, c, "s3-bounded", nil)
	var entries []entry
	for i := range 24 {
		entries = append(entries, entry{name: fmt.Sprintf("f%02d.txt", i), body: "x"})
	}
	art := zipOf(t, entries...)
	cc := &counting{API: c}
	_, err := New(cc, WithConcurrency(3)).Start(context.Background(), request(art, map[string]any{"bucket": "s3-bounded"}))
	require.NoError(t, err)
	assert.LessOrEqual(t, cc.most.Load(), int32(3))
	assert.Len(t, contents(t, c, "s3-bounded"), 24)

	cc = &counting{API: c, failKey: "f05.txt"}
	_, err = New(cc, WithConcurrency(3)).Start(context.Background(), request(art, map[string]any{"bucket": "s3-bounded", "delete_removed": true}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "put s3://s3-bounded/f05.txt: access denied")
}

func TestContentTypes(t *testing.T) {
	for name, want := range map[string]string{
		"a.js":             "text/javascript; charset=utf-8",
		"A.JSON":           "application/json",
		"x.webmanifest":    "application/manifest+json",
		"x.map":            "application/json",
		"x.wasm":           "application/wasm",
		"x.svg":            "image/svg+xml",
		"photo.jpg":        "image/jpeg",
		"no-extension":     "application/octet-stream",
		"x.unknown-ext-42": "application/octet-stream",
	} {
		assert.Equal(t, want, ContentType(name), name)
	}
}

func TestTheTableWinsOverTheSystemsMimeTypes(t *testing.T) {
	// A system mime.types may name .js application/x-javascript; the file gets the same type
	// wherever stepline runs.
	require.NoError(t, mime.AddExtensionType(".js", "application/x-javascript"))
	t.Cleanup(func() { _ = mime.AddExtensionType(".js", "text/javascript; charset=utf-8") })
	assert.Equal(t, "text/javascript; charset=utf-8", ContentType("app.js"))
}
