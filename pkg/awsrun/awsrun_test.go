package awsrun

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/advance"
	"github.com/stepline/stepline/pkg/artifact"
	"github.com/stepline/stepline/pkg/awstest"
	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/local"
)

func TestMain(m *testing.M) { awstest.Main(m) }

func TestArtifactsRoundTripThroughS3(t *testing.T) {
	cfg := awstest.StartMoto(t).Config()
	c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	bucket := fmt.Sprintf("awsrun-%d", time.Now().UnixNano())
	_, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	require.NoError(t, err)
	src := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(src, "bin"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(src, "bin", "run.sh"), []byte("#!/bin/sh\n"), 0o755))

	a := NewS3Artifacts(c, bucket)
	loc, err := a.PutDir(context.Background(), "api-1", "source", src)
	require.NoError(t, err)
	assert.Equal(t, "s3://"+bucket+"/runs/api-1/source.zip", loc, "where CodeBuild reads and writes")
	dest := t.TempDir()
	require.NoError(t, a.Extract(context.Background(), loc, dest))
	info, err := os.Stat(filepath.Join(dest, "bin", "run.sh"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o755), info.Mode().Perm())
	assert.Error(t, a.Extract(context.Background(), "/tmp/x.zip", dest))

	// The store's extraction limits apply to what it downloads.
	limited := NewS3Artifacts(c, bucket, artifact.WithLimits(artifact.Limits{Entries: 1}))
	err = limited.Extract(context.Background(), loc, filepath.Join(t.TempDir(), "out"))
	require.ErrorIs(t, err, artifact.ErrLimit)
}

// fakeCodeBuild answers StartBuild and BatchGetBuilds in CodeBuild's JSON 1.1 protocol, with
// the real field names, finishing each build on the second poll.
type fakeCodeBuild struct {
	mu     sync.Mutex
	starts []map[string]any
	polls  int
	status string
}

func (f *fakeCodeBuild) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req map[string]any
	_ = json.Unmarshal(body, &req)
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	build := map[string]any{"id": "stepline-build:0b1f", "arn": "arn:aws:codebuild:us-east-1:123456789012:build/stepline-build:0b1f",
		"buildNumber": 7, "buildStatus": "IN_PROGRESS", "buildComplete": false, "currentPhase": "BUILD", "projectName": "stepline-build"}
	switch r.Header.Get("X-Amz-Target") {
	case "CodeBuild_20161006.StartBuild":
		f.starts = append(f.starts, req)
		_ = json.NewEncoder(w).Encode(map[string]any{"build": build})
	case "CodeBuild_20161006.BatchGetBuilds":
		f.polls++
		if f.polls >= 2 {
			build["buildStatus"], build["buildComplete"], build["currentPhase"] = f.status, true, "COMPLETED"
			build["exportedEnvironmentVariables"] = []map[string]string{{"name": "VERSION", "value": "1.4.2"}}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"builds": []any{build}, "buildsNotFound": []string{}})
	case "CodeBuild_20161006.StopBuild":
		_ = json.NewEncoder(w).Encode(map[string]any{"build": build})
	default:
		w.WriteHeader(400)
		_, _ = w.Write([]byte(`{"__type":"InvalidInputException","message":"unknown target"}`))
	}
}

func newCodeBuild(t *testing.T, f *fakeCodeBuild) *CodeBuild {
	return newCodeBuildIn(t, f, advance.Config{Bucket: "artifacts", Project: "stepline-build"})
}

func newCodeBuildIn(t *testing.T, f *fakeCodeBuild, cfg advance.Config) *CodeBuild {
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c := codebuild.New(codebuild.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")})
	return NewCodeBuild(c, cfg, time.Millisecond)
}

func task() engine.Task {
	return engine.Task{Run: "api-1", Pipeline: "api", Stage: "Build", Action: "Package", Attempt: 1, Provider: "codebuild",
		Config:  map[string]any{"buildspec": "ci/package.yml", "env": map[string]any{"GOFLAGS": "-mod=mod"}},
		Inputs:  []engine.Artifact{{Name: "source", Location: "s3://artifacts/runs/api-1/source.zip"}},
		Outputs: []string{"bin"}, Namespace: "build"}
}

func TestABuildRunsInCodeBuildWithTheStateMachinesRequest(t *testing.T) {
	t.Parallel()
	f := &fakeCodeBuild{status: "SUCCEEDED"}
	var log bytes.Buffer
	out := newCodeBuild(t, f).Execute(context.Background(), task(), local.Env{Log: &log})
	require.NoError(t, out.Err)
	assert.Equal(t, map[string]string{"bin": "s3://artifacts/runs/api-1/bin.zip"}, out.Outputs)
	assert.Equal(t, map[string]string{"VERSION": "1.4.2"}, out.Variables)
	require.Len(t, f.starts, 1)
	req := f.starts[0]
	assert.Equal(t, "stepline-build", req["projectName"])
	assert.Equal(t, "S3", req["sourceTypeOverride"])
	assert.Equal(t, "artifacts/runs/api-1/source.zip", req["sourceLocationOverride"])
	assert.Equal(t, "ci/package.yml", req["buildspecOverride"])
	assert.Equal(t, map[string]any{"type": "S3", "location": "artifacts", "path": "runs/api-1", "name": "bin.zip", "packaging": "ZIP"}, req["artifactsOverride"])
	assert.Contains(t, fmt.Sprint(req["environmentVariablesOverride"]), "GOFLAGS")
	assert.Contains(t, log.String(), "ended SUCCEEDED")
	for _, k := range []string{"imageOverride", "computeTypeOverride", "privilegedModeOverride", "imagePullCredentialsTypeOverride"} {
		assert.NotContains(t, req, k, "a build that sets no environment keeps its project's")
	}
}

// TestABuildSendsTheEnvironmentItSets checks that `stepline run --aws` overrides what the
// state machine's CodeBuildEnvironment state does, with the same values, filled the same way.
func TestABuildSendsTheEnvironmentItSets(t *testing.T) {
	t.Parallel()
	cfg := advance.Config{Bucket: "artifacts", Project: "stepline-build", Image: "aws/codebuild/amazonlinux-aarch64-standard:3.0", ComputeType: "BUILD_GENERAL1_SMALL"}
	f := &fakeCodeBuild{status: "SUCCEEDED"}
	tk := task()
	tk.Config["image"], tk.Config["privileged"] = "123456789012.dkr.ecr.us-east-1.amazonaws.com/builder:2", true
	out := newCodeBuildIn(t, f, cfg).Execute(context.Background(), tk, local.Env{Log: io.Discard})
	require.NoError(t, out.Err)
	require.Len(t, f.starts, 1)
	want, err := advance.CodeBuildRequest(cfg, tk)
	require.NoError(t, err)
	e := want.BuildEnvironment
	require.NotNil(t, e)
	assert.Equal(t, e.Image, f.starts[0]["imageOverride"])
	assert.Equal(t, e.ComputeType, f.starts[0]["computeTypeOverride"])
	assert.Equal(t, true, f.starts[0]["privilegedModeOverride"])
	assert.Equal(t, "SERVICE_ROLE", f.starts[0]["imagePullCredentialsTypeOverride"])
}

func TestInputsAfterTheFirstAreSecondarySourcesNamedAfterTheirArtifacts(t *testing.T) {
	t.Parallel()
	f := &fakeCodeBuild{status: "SUCCEEDED"}
	tk := task()
	tk.Inputs = append(tk.Inputs, engine.Artifact{Name: "schema", Location: "s3://artifacts/runs/api-1/schema.zip"})
	out := newCodeBuild(t, f).Execute(context.Background(), tk, local.Env{Log: io.Discard})
	require.NoError(t, out.Err)
	require.Len(t, f.starts, 1)
	assert.Equal(t, "artifacts/runs/api-1/source.zip", f.starts[0]["sourceLocationOverride"])
	assert.Equal(t, []any{map[string]any{"type": "S3", "location": "artifacts/runs/api-1/schema.zip", "sourceIdentifier": "schema"}},
		f.starts[0]["secondarySourcesOverride"], "CODEBUILD_SRC_DIR_schema in the build, as stepline run gives it")
}

func TestAFailedBuildFailsTheAttempt(t *testing.T) {
	t.Parallel()
	f := &fakeCodeBuild{status: "FAILED"}
	out := newCodeBuild(t, f).Execute(context.Background(), task(), local.Env{Log: io.Discard})
	require.Error(t, out.Err)
	assert.Contains(t, out.Err.Error(), "ended FAILED")
}
