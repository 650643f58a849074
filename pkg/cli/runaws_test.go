package cli

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// buildService is a CodeBuild stand-in that really "builds": StartBuild reads the source zip
// from S3 at sourceLocationOverride, checks the buildspec override it was given, and writes
// the output artifact where artifactsOverride says, as CodeBuild does; BatchGetBuilds
// reports the build finished on its second poll, with an exported variable. Request and
// response shapes are CodeBuild's JSON 1.1 protocol with its real field names.
type buildService struct {
	t      *testing.T
	s3     *s3.Client
	mu     sync.Mutex
	starts []map[string]any
	polls  int
	// sourceFiles are the names found in the last source zip.
	sourceFiles []string
}

func (b *buildService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	var req map[string]any
	_ = json.Unmarshal(raw, &req)
	b.mu.Lock()
	defer b.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	build := map[string]any{"id": "stepline-build:7e1d", "arn": "arn:aws:codebuild:us-east-1:123456789012:build/stepline-build:7e1d",
		"buildNumber": 3, "buildStatus": "IN_PROGRESS", "buildComplete": false, "currentPhase": "BUILD", "projectName": "stepline-build"}
	switch r.Header.Get("X-Amz-Target") {
	case "CodeBuild_20161006.StartBuild":
		b.starts = append(b.starts, req)
		if err := b.run(r.Context(), req); err != nil {
			w.WriteHeader(400)
			_, _ = w.Write([]byte(`{"__type":"InvalidInputException","message":` + jsonString(err.Error()) + `}`))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"build": build})
	case "CodeBuild_20161006.BatchGetBuilds":
		b.polls++
		if b.polls%2 == 0 {
			build["buildStatus"], build["buildComplete"], build["currentPhase"] = "SUCCEEDED", true, "COMPLETED"
			build["exportedEnvironmentVariables"] = []map[string]string{{"name": "VERSION", "value": "2.0.1"}}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"builds": []any{build}, "buildsNotFound": []string{}})
	default:
		w.WriteHeader(400)
		_, _ = w.Write([]byte(`{"__type":"InvalidInputException","message":"unknown target"}`))
	}
}

func jsonString(s string) string { b, _ := json.Marshal(s); return string(b) }

// run does the build's work on S3: read the source, write the artifact.
func (b *buildService) run(ctx context.Context, req map[string]any) error {
	loc, _ := req["sourceLocationOverride"].(string)
	bucket, key, _ := strings.Cut(loc, "/")
	obj, err := b.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return err
	}
	body, err := io.ReadAll(obj.Body)
	if err != nil {
		return err
	}
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		return err
	}
	b.sourceFiles = nil
	for _, f := range zr.File {
		b.sourceFiles = append(b.sourceFiles, f.Name)
	}
	art, _ := req["artifactsOverride"].(map[string]any)
	if art == nil || art["type"] != "S3" {
		return nil
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	f, _ := zw.Create("web.txt")
	_, _ = f.Write([]byte("built in CodeBuild"))
	_ = zw.Close()
	_, err = b.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(art["location"].(string)),
		Key: aws.String(art["path"].(string) + "/" + art["name"].(string)), Body: bytes.NewReader(out.Bytes())})
	return err
}

func TestRunAWSBuildsInCodeBuildAndKeepsArtifactsInS3(t *testing.T) {
	store := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	defer store.Close()
	s3c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(store.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")})
	_, err := s3c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("artifacts")})
	require.NoError(t, err)
	cb := &buildService{t: t, s3: s3c}
	builds := httptest.NewServer(cb)
	defer builds.Close()

	// The command reads the default credential chain, as it does against AWS; the
	// per-service endpoint variables point it at the stand-ins.
	for k, v := range map[string]string{
		"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
		"AWS_CONFIG_FILE": filepath.Join(t.TempDir(), "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(t.TempDir(), "none"),
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL_S3": store.URL, "AWS_ENDPOINT_URL_CODEBUILD": builds.URL,
	} {
		t.Setenv(k, v)
	}

	r := newRepo(t, map[string]string{
		".stepline.yml": `version: 1
pipelines:
  - name: web
    stages:
      - name: Build
        actions:
          - {name: Package, provider: codebuild, buildspec: package.yml, inputs: [source], outputs: [bin], namespace: build}
      - name: Deploy
        actions:
          - {name: Release, provider: local, inputs: [bin], path: "web-#{build.VERSION}"}
`,
		"package.yml": "version: 0.2\nphases:\n  build:\n    commands:\n      - make\n",
		"main.go":     "package main\n",
	})
	res := r.stepline("", "run", "--plain", "--aws", "--bucket", "artifacts", "--project", "stepline-build", "--poll", "100ms")
	require.Equal(t, 0, res.code, "stdout:\n%s\nstderr:\n%s", res.out, res.err)
	assert.Contains(t, res.out, "SUCCEEDED pipeline web")

	require.Len(t, cb.starts, 1)
	start := cb.starts[0]
	assert.Equal(t, "stepline-build", start["projectName"])
	assert.Equal(t, "S3", start["sourceTypeOverride"])
	assert.Equal(t, "artifacts/runs/"+r.runID("web-1")+"/source.zip", start["sourceLocationOverride"], "the commit went to S3 first")
	assert.Equal(t, "package.yml", start["buildspecOverride"], "the buildspec path, read by CodeBuild from the source")
	assert.ElementsMatch(t, []string{".stepline.yml", "main.go", "package.yml"}, cb.sourceFiles, "the source zip holds the commit")

	// The local deploy took the artifact CodeBuild wrote to S3, under the exported version.
	got, err := os.ReadFile(filepath.Join(r.state(), "deploy", "web-2.0.1", "current", "web.txt"))
	if err != nil {
		matches, _ := filepath.Glob(filepath.Join(r.state(), "deploy", "*", "*", "*"))
		t.Fatalf("the deployed artifact: %v (deploy tree: %v)", err, matches)
	}
	assert.Equal(t, "built in CodeBuild", string(got))
}
