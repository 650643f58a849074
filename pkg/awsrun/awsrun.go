// Package awsrun gives `stepline run --aws` what it needs to drive the engine on this machine
// against real AWS services, before stepline itself is deployed: artifacts in an S3 bucket
// and builds in CodeBuild, started with exactly the request the state machine sends
// (advance.CodeBuildRequest) and read back as it reads them (advance.BuildResult).
package awsrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/codebuild"
	cbtypes "github.com/aws/aws-sdk-go-v2/service/codebuild/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/stepline/stepline/pkg/advance"
	"github.com/stepline/stepline/pkg/artifact"
	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/local"
)

// objectStore is what the transfer manager needs (uploads of any size, multipart above one
// part) and what downloads need.
type objectStore = transfermanager.S3APIClient

var _ objectStore = (*s3.Client)(nil)

// S3Artifacts keeps a run's artifacts as zips in a bucket, at runs/<run>/<name>.zip: where
// CodeBuild writes the outputs the state machine asks for.
type S3Artifacts struct {
	s3     objectStore
	tm     *transfermanager.Client
	bucket string
	unzip  []artifact.Option
}

var _ local.Artifacts = (*S3Artifacts)(nil)

// NewS3Artifacts returns the artifact store of bucket; opts bound every Extract.
func NewS3Artifacts(c objectStore, bucket string, opts ...artifact.Option) *S3Artifacts {
	return &S3Artifacts{s3: c, tm: transfermanager.New(c), bucket: bucket, unzip: opts}
}

// PutDir zips dir and uploads it.
func (a *S3Artifacts) PutDir(ctx context.Context, run, name, dir string) (string, error) {
	tmp, err := os.CreateTemp("", "stepline-artifact-*.zip")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if err := artifact.Zip(ctx, tmp, dir); err != nil {
		return "", fmt.Errorf("zip artifact %s: %w", name, err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	return a.PutReader(ctx, run, name, tmp)
}

// PutReader uploads a zip. r may be a stream of unknown length (the source step's git
// archive): a plain PutObject cannot sign or size one, so the transfer manager sends it in
// parts (one PutObject when it fits in one), aborting the upload if r fails.
func (a *S3Artifacts) PutReader(ctx context.Context, run, name string, r io.Reader) (string, error) {
	key := "runs/" + run + "/" + name + ".zip"
	if sk, ok := r.(io.Seeker); ok {
		if _, err := sk.Seek(0, io.SeekCurrent); err != nil {
			// An *os.File of a pipe (git archive's output) claims to seek and cannot: hide
			// the method so the transfer manager streams it.
			r = struct{ io.Reader }{r}
		}
	}
	if _, err := a.tm.UploadObject(ctx, &transfermanager.UploadObjectInput{Bucket: aws.String(a.bucket), Key: aws.String(key), Body: r}); err != nil {
		return "", fmt.Errorf("upload artifact %s to s3://%s/%s: %w", name, a.bucket, key, err)
	}
	return "s3://" + a.bucket + "/" + key, nil
}

// Extract downloads a zip from s3://bucket/key and unpacks it into dest.
func (a *S3Artifacts) Extract(ctx context.Context, location, dest string) error {
	dir, err := os.MkdirTemp("", "stepline-artifact-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	zip := filepath.Join(dir, "artifact.zip")
	if err := a.Fetch(ctx, location, zip); err != nil {
		return err
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return err
	}
	return artifact.Unzip(ctx, zip, filepath.Clean(dest), a.unzip...)
}

// Fetch downloads the zip at s3://bucket/key into the file path (its directory created), for
// the deploys of `stepline run --aws --aws-deploy`, which read the zip itself.
func (a *S3Artifacts) Fetch(ctx context.Context, location, path string) error {
	bucket, key, ok := strings.Cut(strings.TrimPrefix(location, "s3://"), "/")
	if !strings.HasPrefix(location, "s3://") || !ok {
		return fmt.Errorf("artifact at %q is not in S3", location)
	}
	out, err := a.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return fmt.Errorf("download %s: %w", location, err)
	}
	defer out.Body.Close()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, out.Body); err != nil {
		f.Close()
		return fmt.Errorf("download %s: %w", location, err)
	}
	return f.Close()
}

var _ local.Fetcher = (*S3Artifacts)(nil)

type buildAPI interface {
	StartBuild(ctx context.Context, in *codebuild.StartBuildInput, optFns ...func(*codebuild.Options)) (*codebuild.StartBuildOutput, error)
	BatchGetBuilds(ctx context.Context, in *codebuild.BatchGetBuildsInput, optFns ...func(*codebuild.Options)) (*codebuild.BatchGetBuildsOutput, error)
	StopBuild(ctx context.Context, in *codebuild.StopBuildInput, optFns ...func(*codebuild.Options)) (*codebuild.StopBuildOutput, error)
}

var _ buildAPI = (*codebuild.Client)(nil)

// CodeBuild runs codebuild actions in CodeBuild and waits for them, polling.
type CodeBuild struct {
	api   buildAPI
	cfg   advance.Config
	every time.Duration
}

// NewCodeBuild returns the executor; builds run in cfg.Project unless an action names its
// own, and write their outputs to cfg.Bucket. every is the polling interval.
func NewCodeBuild(api buildAPI, cfg advance.Config, every time.Duration) *CodeBuild {
	return &CodeBuild{api: api, cfg: cfg, every: every}
}

// Execute starts the build and polls it until it ends; canceling ctx stops the build.
func (c *CodeBuild) Execute(ctx context.Context, t engine.Task, env local.Env) local.Outcome {
	req, err := advance.CodeBuildRequest(c.cfg, t)
	if err != nil {
		return local.Outcome{Err: err, Final: true}
	}
	in := &codebuild.StartBuildInput{
		ProjectName:              aws.String(req.Project),
		SourceTypeOverride:       cbtypes.SourceTypeS3,
		SourceLocationOverride:   aws.String(req.SourceLocation),
		BuildspecOverride:        aws.String(req.Buildspec),
		TimeoutInMinutesOverride: aws.Int32(int32(req.TimeoutMinutes)),
		ArtifactsOverride:        artifactsOf(req.Artifacts.Type, req.Artifacts.Location, req.Artifacts.Path, req.Artifacts.Name, req.Artifacts.Packaging, ""),
	}
	if e := req.BuildEnvironment; e != nil {
		// What CodeBuildEnvironment's Parameters send; a build without one keeps its
		// project's environment, as CodeBuild does.
		in.ImageOverride, in.ComputeTypeOverride = aws.String(e.Image), cbtypes.ComputeType(e.ComputeType)
		in.PrivilegedModeOverride = aws.Bool(e.PrivilegedMode)
		in.ImagePullCredentialsTypeOverride = cbtypes.ImagePullCredentialsType(e.ImagePullCredentialsType)
	}
	for _, v := range req.Environment {
		in.EnvironmentVariablesOverride = append(in.EnvironmentVariablesOverride,
			cbtypes.EnvironmentVariable{Name: aws.String(v.Name), Value: aws.String(v.Value), Type: cbtypes.EnvironmentVariableType(v.Type)})
	}
	for _, s := range req.SecondarySources {
		in.SecondarySourcesOverride = append(in.SecondarySourcesOverride, cbtypes.ProjectSource{
			Type: cbtypes.SourceType(s.Type), Location: aws.String(s.Location), SourceIdentifier: aws.String(s.SourceIdentifier)})
	}
	for _, s := range req.SecondaryArtifacts {
		str := func(k string) string { v, _ := s[k].(string); return v }
		in.SecondaryArtifactsOverride = append(in.SecondaryArtifactsOverride,
			*artifactsOf(str("Type"), str("Location"), str("Path"), str("Name"), str("Packaging"), str("ArtifactIdentifier")))
	}
	out, err := c.api.StartBuild(ctx, in)
	if err != nil {
		return local.Outcome{Err: fmt.Errorf("start the build in %s: %w", req.Project, err)}
	}
	id := aws.ToString(out.Build.Id)
	fmt.Fprintf(env.Log, "[stepline] CodeBuild build %s started in project %s\n", id, req.Project)
	for {
		select {
		case <-ctx.Done():
			_, _ = c.api.StopBuild(context.WithoutCancel(ctx), &codebuild.StopBuildInput{Id: aws.String(id)})
			return local.Outcome{Err: fmt.Errorf("build %s stopped: %w", id, ctx.Err())}
		case <-time.After(c.every):
		}
		got, err := c.api.BatchGetBuilds(ctx, &codebuild.BatchGetBuildsInput{Ids: []string{id}})
		if err != nil {
			if errors.Is(err, context.Canceled) {
				continue
			}
			return local.Outcome{Err: fmt.Errorf("read build %s: %w", id, err)}
		}
		if len(got.Builds) == 0 || !got.Builds[0].BuildComplete {
			continue
		}
		b := got.Builds[0]
		raw, _ := json.Marshal(map[string]any{"build": b})
		res := advance.BuildResult(c.cfg, t, raw)
		fmt.Fprintf(env.Log, "[stepline] CodeBuild build %s ended %s\n", id, b.BuildStatus)
		if res.Status != engine.Succeeded {
			return local.Outcome{Err: errors.New(res.Message)}
		}
		return local.Outcome{Outputs: res.Outputs, Variables: res.Variables, Message: "build " + id}
	}
}

func artifactsOf(typ, location, path, name, packaging, id string) *cbtypes.ProjectArtifacts {
	a := &cbtypes.ProjectArtifacts{Type: cbtypes.ArtifactsType(typ)}
	if location != "" {
		a.Location, a.Path, a.Name = aws.String(location), aws.String(path), aws.String(name)
		a.Packaging = cbtypes.ArtifactPackaging(packaging)
	}
	if id != "" {
		a.ArtifactIdentifier = aws.String(id)
	}
	return a
}
