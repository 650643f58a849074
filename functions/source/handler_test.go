package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/reposecret"
	"github.com/stepline/stepline/pkg/scm"
	"github.com/stepline/stepline/pkg/sourcearchive"
)

func sampleInput(t *testing.T) Input {
	var in Input
	require.NoError(t, json.Unmarshal(readSample(t, "github.json"), &in))
	return in
}

// TestFailuresReachTheStateMachineByName runs the real pieces (Secrets Manager on moto, a
// forge, gofakes3) into each failure and checks the name Lambda would report.
func TestFailuresReachTheStateMachineByName(t *testing.T) {
	cases := []struct {
		name     string
		errType  string
		setup    func(t *testing.T, w *world, in *Input)
		answer   func(w http.ResponseWriter, r *http.Request) bool
		ctx      func() (context.Context, context.CancelFunc)
		mentions string
	}{
		{name: "a repository or commit the provider does not have is not found", errType: "SourceNotFound",
			answer: status(http.StatusNotFound, `{"message":"Not Found"}`), mentions: "github answered 404"},
		{name: "credentials the provider refuses are unauthorized", errType: "SourceUnauthorized",
			answer: status(http.StatusUnauthorized, `{"message":"Bad credentials"}`), mentions: "401"},
		{name: "a token without read access is unauthorized", errType: "SourceUnauthorized",
			answer: status(http.StatusForbidden, `{"message":"Resource not accessible by personal access token"}`)},
		{name: "an exhausted rate limit is worth a retry", errType: "SourceUnavailable",
			answer: func(w http.ResponseWriter, r *http.Request) bool {
				w.Header().Set("X-RateLimit-Remaining", "0")
				return status(http.StatusForbidden, `{"message":"API rate limit exceeded"}`)(w, r)
			}},
		{name: "a provider failing is worth a retry", errType: "SourceUnavailable",
			answer: status(http.StatusServiceUnavailable, "upstream connect error")},
		{name: "a download cut short is worth a retry", errType: "SourceUnavailable",
			answer: func(w http.ResponseWriter, r *http.Request) bool {
				full := tarball(t, "octo-org-api-7fd1a60/")
				w.Header().Set("Content-Length", strconv.Itoa(len(full)))
				_, _ = w.Write(full[:len(full)/2])
				w.(http.Flusher).Flush()
				panic(http.ErrAbortHandler)
			}},
		{name: "a sign-in page instead of an archive is an invalid archive", errType: "SourceInvalidArchive",
			answer: status(http.StatusOK, "<!DOCTYPE html><html><body>Sign in</body></html>")},
		{name: "a hook with no secret has no credentials", errType: "SourceUnauthorized",
			setup: func(t *testing.T, w *world, in *Input) { in.Hook = "unregistered-hook-0123456789" }},
		{name: "a hook registered for another repository lends it no token", errType: "SourceUnauthorized",
			setup: func(t *testing.T, w *world, in *Input) { in.Repository = "octo-org/payroll" }, mentions: "registered for github octo-org/api"},
		{name: "a Data Center secret without the server's URL cannot serve", errType: "SourceInvalidInput",
			setup: func(t *testing.T, w *world, in *Input) {
				in.Hook, in.Provider, in.Repository = "dc-hook-without-api-url-01", scm.BitbucketServer, "PAY/billing"
				_, err := w.sm.CreateSecret(context.Background(), secretInput(w.prefix+in.Hook,
					`{"provider":"bitbucket-server","repository":"PAY/billing","webhook_secrets":["s"]}`))
				require.NoError(t, err)
			}, mentions: "api_url"},
		{name: "a bucket that does not exist is a deployment error, not retried", errType: "SourceFailed",
			setup: func(t *testing.T, w *world, in *Input) { in.Bucket = "no-such-bucket" }, mentions: "NoSuchBucket"},
		{name: "running out of time is worth a retry", errType: "SourceUnavailable",
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			in := sampleInput(t)
			w.register(t, in.Hook, in.Provider, in.Repository)
			if c.setup != nil {
				c.setup(t, w, &in)
			}
			w.forge.answer = c.answer
			ctx, cancel := context.Background(), func() {}
			if c.ctx != nil {
				ctx, cancel = c.ctx()
			}
			defer cancel()

			_, err := w.h.Handle(ctx, in)
			require.Error(t, err)
			assert.Equal(t, c.errType, errorType(err), "%v", err)
			assert.Contains(t, ErrorNames, errorType(err))
			assert.Contains(t, err.Error(), c.mentions)
			assert.NotContains(t, err.Error(), token)
			logs := w.logs.String()
			assert.Contains(t, logs, `"error_type":"`+c.errType+`"`)
			assert.NotContains(t, logs, token)
			assert.NotContains(t, logs, in.Hook, "only the hook id's start is logged")
		})
	}
}

func status(code int, body string) func(http.ResponseWriter, *http.Request) bool {
	return func(w http.ResponseWriter, r *http.Request) bool {
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
		return true
	}
}

// TestEveryCauseMapsToOneName pins classify: the state machine retries SourceUnavailable
// only, so a cause moving between names changes what is retried.
func TestEveryCauseMapsToOneName(t *testing.T) {
	t.Parallel()
	opErr := func(service string, err error) error {
		return &smithy.OperationError{ServiceID: service, OperationName: "Op", Err: err}
	}
	apiErr := func(code int) error { return &scm.APIError{Provider: "github", StatusCode: code} }
	cases := []struct {
		cause error
		name  string
	}{
		{fmt.Errorf("hook x: %w", reposecret.ErrUnknownHook), "SourceUnauthorized"},
		{fmt.Errorf("%w: codecommit has no archive API", sourcearchive.ErrUnsupportedProvider), "SourceInvalidInput"},
		{fmt.Errorf("download: %w", apiErr(404)), "SourceNotFound"},
		{fmt.Errorf("download: %w", apiErr(401)), "SourceUnauthorized"},
		{fmt.Errorf("download: %w", apiErr(403)), "SourceUnauthorized"},
		{fmt.Errorf("download: %w (%w)", apiErr(403), sourcearchive.ErrRateLimited), "SourceUnavailable"},
		{fmt.Errorf("download: %w (%w)", apiErr(429), sourcearchive.ErrRateLimited), "SourceUnavailable"},
		{fmt.Errorf("download: %w", apiErr(500)), "SourceUnavailable"},
		{fmt.Errorf("download: %w", apiErr(502)), "SourceUnavailable"},
		{fmt.Errorf("download: %w", apiErr(408)), "SourceUnavailable"},
		{fmt.Errorf("download: %w", apiErr(400)), "SourceFailed"},
		{fmt.Errorf("download: %w", apiErr(422)), "SourceFailed"},
		{fmt.Errorf("archive: %w: entry %q has an unsafe path", sourcearchive.ErrInvalidArchive, "../x"), "SourceInvalidArchive"},
		{fmt.Errorf("archive: read a.bin: %w", io.ErrUnexpectedEOF), "SourceUnavailable"},
		{fmt.Errorf("download: %w", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}), "SourceUnavailable"},
		{fmt.Errorf("archive: %w", context.DeadlineExceeded), "SourceUnavailable"},
		{fmt.Errorf("archive: %w", context.Canceled), "SourceUnavailable"},
		{fmt.Errorf("upload: %w", opErr("S3", &smithy.GenericAPIError{Code: "SlowDown"})), "SourceUnavailable"},
		{fmt.Errorf("upload: %w", opErr("S3", &smithy.GenericAPIError{Code: "InternalError"})), "SourceUnavailable"},
		{fmt.Errorf("upload: %w", opErr("S3", &smithy.GenericAPIError{Code: "NoSuchBucket"})), "SourceFailed"},
		{fmt.Errorf("upload: %w", opErr("S3", &smithy.GenericAPIError{Code: "AccessDenied"})), "SourceFailed"},
		{fmt.Errorf("read the repository secret: %w", opErr("Secrets Manager", &smithy.GenericAPIError{Code: "ThrottlingException"})), "SourceUnavailable"},
		{errors.New("repository secret: webhook_secrets has no non-empty secret"), "SourceFailed"},
		{errors.New("something nobody foresaw"), "SourceFailed"},
	}
	seen := map[string]bool{}
	for _, c := range cases {
		err := classify(c.cause)
		assert.Equal(t, c.name, errorType(err), "%v", c.cause)
		assert.Equal(t, c.cause.Error(), err.Error(), "the message is the cause's")
		assert.ErrorIs(t, err, c.cause, "the cause stays reachable for logs and tests")
		seen[c.name] = true
	}
	for _, name := range ErrorNames {
		assert.True(t, seen[name], "%s has a cause in this table", name)
	}
	assert.Len(t, ErrorNames, len(seen))
}

// TestErrorTypeIsWhatLambdaReports checks errorType against the rule aws-lambda-go applies
// (lambda/errors.go): the type's own name, which a wrapped error would hide.
func TestErrorTypeIsWhatLambdaReports(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "SourceNotFound", errorType(&SourceNotFound{}))
	assert.Equal(t, "wrapError", errorType(fmt.Errorf("handle: %w", &SourceNotFound{})), "why Handle never wraps")
}

func secretInput(name, value string) *secretsmanager.CreateSecretInput {
	return &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)}
}

func TestInputReadsTheStateMachinesDocument(t *testing.T) {
	t.Parallel()
	doc := `{"run":"api-1","route":"single","task":{"id":"api-1/Source/Source/1","kind":"source","timeout_seconds":900,
	  "source":{"provider":"github","repository":"octo/api","commit":"c0ffee","hook":"hook-0123456789abcdef","bucket":"b","key":"runs/api-1/source.zip"}}}`
	var in Input
	require.NoError(t, json.Unmarshal([]byte(doc), &in))
	assert.Equal(t, Input{Run: "api-1", Task: "api-1/Source/Source/1", Provider: "github", Repository: "octo/api",
		Commit: "c0ffee", Hook: "hook-0123456789abcdef", Bucket: "b", Key: "runs/api-1/source.zip"}, in)

	var bad Input
	err := json.Unmarshal([]byte(`{"run":"r","task":{"id":"x","kind":"source"}}`), &bad)
	var invalid *SourceInvalidInput
	require.ErrorAs(t, err, &invalid)
}

// answeredStreamer is a streamer whose store answered the upload with result.
type answeredStreamer struct{ result sourcearchive.Result }

func (a answeredStreamer) Stream(_ context.Context, _ sourcearchive.Archiver, _, _ string, dst sourcearchive.Location) (sourcearchive.Result, error) {
	r := a.result
	r.Location = dst
	return r, nil
}

func (a answeredStreamer) StreamTree(_ context.Context, _ sourcearchive.Tree, _, _ string, dst sourcearchive.Location) (sourcearchive.Result, error) {
	r := a.result
	r.Location = dst
	return r, nil
}

func TestTheChecksumS3AnsweredIsInTheOutputAndTheLog(t *testing.T) {
	w := newWorld(t)
	in := sampleInput(t)
	w.register(t, in.Hook, in.Provider, in.Repository)
	w.h.Streamer = answeredStreamer{sourcearchive.Result{Size: 4096, Checksum: "y/Q5Jg==", Entries: 3}}

	reply, err := lambda.NewHandler(w.h.Handle).Invoke(context.Background(), readSample(t, "github.json"))
	require.NoError(t, err)
	assert.JSONEq(t, `{"task":"Source/Source#1","artifact":{"bucket":"stepline-artifacts-123456789012",
	  "key":"runs/api-12/source.zip","size":4096,"checksum_crc32":"y/Q5Jg=="}}`, string(reply))
	assert.Contains(t, w.logs.String(), `"checksum_crc32":"y/Q5Jg=="`)
}

// TestCodeCommitFailuresReachTheStateMachineByName walks a CodeCommit commit through the real
// SDK client and the CodeCommit stand-in into each failure, and checks the name Lambda would
// report: the same names as the archive providers'.
func TestCodeCommitFailuresReachTheStateMachineByName(t *testing.T) {
	cases := []struct {
		name      string
		errType   string
		op        string
		exception string
		status    int
		setup     func(w *world, in *Input)
	}{
		{name: "a repository the account does not have is not found", errType: "SourceNotFound",
			setup: func(_ *world, in *Input) { in.Repository = "NoSuchRepo" }},
		{name: "a commit the repository does not have is not found", errType: "SourceNotFound",
			setup: func(_ *world, in *Input) { in.Commit = strings.Repeat("9", 40) }},
		{name: "a role without GetBlob is unauthorized", errType: "SourceUnauthorized",
			op: "GetBlob", exception: "AccessDeniedException", status: http.StatusBadRequest},
		{name: "a repository key the role may not use is unauthorized", errType: "SourceUnauthorized",
			op: "GetFolder", exception: "EncryptionKeyAccessDeniedException", status: http.StatusBadRequest},
		{name: "throttling is worth a retry", errType: "SourceUnavailable",
			op: "GetBlob", exception: "ThrottlingException", status: http.StatusBadRequest},
		{name: "a service failure is worth a retry", errType: "SourceUnavailable",
			op: "GetFolder", exception: "ServiceUnavailableException", status: http.StatusServiceUnavailable},
		{name: "a function without a CodeCommit client refuses the input", errType: "SourceInvalidInput",
			setup: func(w *world, _ *Input) { w.h.CodeCommit = nil }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			var in Input
			require.NoError(t, json.Unmarshal(readSample(t, "codecommit.json"), &in))
			if c.setup != nil {
				c.setup(w, &in)
			}
			if c.op != "" {
				w.cc.Fail = func(op string, _ map[string]any) (int, string) {
					if op == c.op {
						return c.status, c.exception
					}
					return 0, ""
				}
			}
			_, err := w.h.Handle(context.Background(), in)
			require.Error(t, err)
			assert.Equal(t, c.errType, errorType(err), "%v", err)
			assert.Contains(t, ErrorNames, errorType(err))
			assert.Contains(t, w.logs.String(), `"error_type":"`+c.errType+`"`)
		})
	}
}
