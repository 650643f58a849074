// Command source is the Lambda behind a pipeline's source actions: it streams the
// provider's archive of the triggering commit (GitHub, Bitbucket Cloud, Bitbucket Data
// Center) into S3 as the zip CodeBuild reads, with memory bounded by the part size ×
// (concurrency + 2) plus a few MiB, whatever the repository's size (pkg/sourcearchive). The
// provider token comes from the repository's secret (pkg/reposecret) and is never logged.
// CodeCommit has no archive API and no secret: its commits are walked with GetFolder and
// GetBlob under the function's own role, at most sourcearchive.DefaultTreeConcurrency (8)
// blobs of at most 6 MB held at once, so about 48 MiB more, into the same zip
// (sourcearchive.StreamTree).
//
// Environment:
//
//	STEPLINE_SECRET_PREFIX  the prefix of repository secret names (default stepline/repos/)
//	STEPLINE_PART_SIZE      the upload part size in bytes, 5 MiB to 5 GiB (default 8 MiB)
//	STEPLINE_CONCURRENCY    how many parts are uploaded at once, 1 to 64 (default 5)
//	STEPLINE_S3_PATH_STYLE  "true" to address buckets by path (S3 stand-ins in tests)
//
// With the defaults a 1 GiB archive peaks under 90 MiB resident (BenchmarkStream1GiB);
// 256 MB of memory leaves room, and the timeout must cover the largest repository.
//
// Errors are returned as the types named in errors.go (ErrorNames); only SourceUnavailable
// is worth a retry.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/codecommit"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/stepline/stepline/pkg/reposecret"
	"github.com/stepline/stepline/pkg/sourcearchive"
)

func main() {
	log := lambdacontext.NewLogger()
	h, err := build(context.Background(), os.Getenv, log)
	if err != nil {
		log.Error("source: cannot start", "error", err)
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}

// build reads the configuration once and wires the handler.
func build(ctx context.Context, env func(string) string, log *slog.Logger) (*Handler, error) {
	prefix := env("STEPLINE_SECRET_PREFIX")
	if prefix == "" {
		prefix = reposecret.DefaultPrefix
	}
	var opts []sourcearchive.Option
	if s := env("STEPLINE_PART_SIZE"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < sourcearchive.MinPartSize || n > sourcearchive.MaxPartSize {
			return nil, fmt.Errorf("STEPLINE_PART_SIZE %q is not a number of bytes between %d (5 MiB) and %d (5 GiB)", s, sourcearchive.MinPartSize, int64(sourcearchive.MaxPartSize))
		}
		opts = append(opts, sourcearchive.WithPartSize(n))
	}
	if s := env("STEPLINE_CONCURRENCY"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 64 {
			return nil, fmt.Errorf("STEPLINE_CONCURRENCY %q is not a number between 1 and 64", s)
		}
		opts = append(opts, sourcearchive.WithConcurrency(n))
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load the AWS configuration: %w", err)
	}
	pathStyle := env("STEPLINE_S3_PATH_STYLE") == "true"
	streamer, err := sourcearchive.New(s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = pathStyle }), opts...)
	if err != nil {
		return nil, err
	}
	return &Handler{
		Secrets:    reposecret.NewStore(secretsmanager.NewFromConfig(cfg), reposecret.WithPrefix(prefix)),
		Archivers:  sourcearchive.Providers{HTTPClient: sourcearchive.DefaultHTTPClient()},
		Streamer:   streamer,
		CodeCommit: sourcearchive.NewCodeCommit(codecommit.NewFromConfig(cfg)),
		Log:        log,
	}, nil
}
