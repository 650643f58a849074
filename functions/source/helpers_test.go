package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/awstest"
	"github.com/stepline/stepline/pkg/reposecret"
	"github.com/stepline/stepline/pkg/scm"
	"github.com/stepline/stepline/pkg/scm/codecommit/cctest"
	"github.com/stepline/stepline/pkg/sourcearchive"
)

func TestMain(m *testing.M) { awstest.Main(m) }

const (
	// sampleHook is the hook id of the sample events (events/README.md).
	sampleHook = "sample-hook-0123456789"
	// token is every repository's provider token; it must never show in an error or a log.
	token = "ghp_handlerS3cretT0ken"
	// bucket is the sample events' artifact bucket.
	bucket = "stepline-artifacts-123456789012"
)

// world is a source function wired to local stand-ins: Secrets Manager on moto, S3 on
// gofakes3, and one forge answering as GitHub, Bitbucket Cloud and Data Center do.
type world struct {
	h      *Handler
	sm     *secretsmanager.Client
	s3     *s3.Client
	forge  *forge
	cc     *cctest.Server
	prefix string
	logs   *syncBuffer
}

func newWorld(t *testing.T) *world {
	t.Helper()
	moto := awstest.StartMoto(t)
	w := &world{
		sm:     secretsmanager.NewFromConfig(moto.Config()),
		forge:  newForge(t),
		cc:     newCodeCommit(t),
		prefix: fmt.Sprintf("stepline-test-%d/", time.Now().UnixNano()),
		logs:   &syncBuffer{},
	}
	store := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(store.Close)
	w.s3 = s3.New(s3.Options{Region: awstest.Region, BaseEndpoint: aws.String(store.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")})
	_, err := w.s3.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	require.NoError(t, err)
	streamer, err := sourcearchive.New(w.s3, sourcearchive.WithPartSize(sourcearchive.MinPartSize), sourcearchive.WithConcurrency(2))
	require.NoError(t, err)
	w.h = &Handler{
		Secrets:    reposecret.NewStore(w.sm, reposecret.WithPrefix(w.prefix)),
		Archivers:  sourcearchive.Providers{GitHubURL: w.forge.URL, BitbucketURL: w.forge.URL},
		Streamer:   streamer,
		CodeCommit: sourcearchive.NewCodeCommit(w.cc.Client()),
		Log:        slog.New(slog.NewJSONHandler(w.logs, nil)),
	}
	return w
}

// ccCommit is the commit of events/source/codecommit.json.
const ccCommit = "7f2d4b5c0a9e8d7c6b5a49382716f5e4d3c2b1a0"

// newCodeCommit is a CodeCommit stand-in holding MyDemoRepo at ccCommit: the forge's small
// commit (an executable, a link, a directory).
func newCodeCommit(t testing.TB) *cctest.Server {
	s := cctest.New(t)
	s.Repos["MyDemoRepo"] = &cctest.Repo{DefaultBranch: "main", Branches: map[string]string{"main": ccCommit},
		Commits: map[string]map[string]cctest.Entry{ccCommit: {
			"README.md":    {Mode: cctest.Normal, Content: "# api\n"},
			"bin/build.sh": {Mode: cctest.Executable, Content: "#!/bin/sh\necho build\n"},
			"latest":       {Mode: cctest.Symlink, Content: "README.md"},
		}}}
	return s
}

// register stores the repository secret of hook, as registration does.
func (w *world) register(t *testing.T, hook, provider, repo string) {
	t.Helper()
	if provider == scm.CodeCommit {
		// Read with the function's role: there is no secret to register.
		return
	}
	s := reposecret.Secret{Provider: provider, Repository: repo, WebhookSecrets: []string{"whsec"}, Token: token}
	if provider == scm.BitbucketServer {
		s.APIURL = w.forge.URL
	}
	value, err := json.Marshal(s)
	require.NoError(t, err)
	_, err = w.sm.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: aws.String(w.prefix + hook), SecretString: aws.String(string(value))})
	require.NoError(t, err)
}

// object reads an object whole.
func (w *world) object(t *testing.T, key string) []byte {
	t.Helper()
	out, err := w.s3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	require.NoError(t, err)
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	require.NoError(t, err)
	return b
}

// forge serves archives at the three providers' paths, with the top-level directory each
// adds, unless answer takes the request first.
type forge struct {
	*httptest.Server
	mu       sync.Mutex
	answer   func(w http.ResponseWriter, r *http.Request) bool
	requests []*http.Request
}

var (
	githubPath    = regexp.MustCompile(`^/repos/([^/]+)/([^/]+)/tarball/([0-9a-f]+)$`)
	bitbucketPath = regexp.MustCompile(`^/([^/]+)/([^/]+)/get/([0-9a-f]+)\.tar\.gz$`)
	dcPath        = regexp.MustCompile(`^/rest/api/latest/projects/[^/]+/repos/[^/]+/archive$`)
)

func newForge(t *testing.T) *forge {
	f := &forge{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.requests = append(f.requests, r)
		answer := f.answer
		f.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
			return
		}
		if answer != nil && answer(w, r) {
			return
		}
		var prefix string
		switch p := r.URL.Path; {
		case githubPath.MatchString(p):
			m := githubPath.FindStringSubmatch(p)
			prefix = m[1] + "-" + m[2] + "-" + m[3][:7] + "/"
		case bitbucketPath.MatchString(p):
			m := bitbucketPath.FindStringSubmatch(p)
			prefix = m[1] + "-" + m[2] + "-" + m[3][:12] + "/"
		case dcPath.MatchString(p) && r.URL.Query().Get("format") == "tgz":
		default:
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(tarball(t, prefix))
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *forge) asked() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.requests)
}

// tarball is a small commit as git archive writes it: an executable, a link, a directory.
func tarball(t testing.TB, prefix string) []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	when := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	write := func(h *tar.Header, body string) {
		if h.Typeflag != tar.TypeXGlobalHeader {
			h.ModTime = when
		}
		h.Size = int64(len(body))
		require.NoError(t, tw.WriteHeader(h))
		_, err := io.WriteString(tw, body)
		require.NoError(t, err)
	}
	write(&tar.Header{Name: "pax_global_header", Typeflag: tar.TypeXGlobalHeader, PAXRecords: map[string]string{"comment": "x"}}, "")
	if prefix != "" {
		write(&tar.Header{Name: prefix, Typeflag: tar.TypeDir, Mode: 0o775}, "")
	}
	write(&tar.Header{Name: prefix + "README.md", Typeflag: tar.TypeReg, Mode: 0o664}, "# api\n")
	write(&tar.Header{Name: prefix + "bin/", Typeflag: tar.TypeDir, Mode: 0o775}, "")
	write(&tar.Header{Name: prefix + "bin/build.sh", Typeflag: tar.TypeReg, Mode: 0o775}, "#!/bin/sh\necho build\n")
	write(&tar.Header{Name: prefix + "latest", Typeflag: tar.TypeSymlink, Linkname: "README.md", Mode: 0o777}, "")
	require.NoError(t, tw.Close())
	require.NoError(t, gz.Close())
	return buf.Bytes()
}

// crc32Of is b's CRC32 (IEEE, CRC-32/ISO-HDLC) as S3 writes it: base64 of the 4 big-endian
// bytes.
func crc32Of(b []byte) string {
	return base64.StdEncoding.EncodeToString(binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE(b)))
}

// zipModes lists a zip's entries with their Unix modes, links with their targets.
func zipModes(t testing.TB, data []byte) map[string]string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	require.NoError(t, err)
	out := map[string]string{}
	for _, f := range zr.File {
		out[f.Name] = f.Mode().String()
	}
	return out
}

// syncBuffer is a log destination safe for the handler's concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
