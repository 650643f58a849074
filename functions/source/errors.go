package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"reflect"

	"github.com/aws/smithy-go"

	"github.com/stepline/stepline/pkg/reposecret"
	"github.com/stepline/stepline/pkg/scm"
	"github.com/stepline/stepline/pkg/sourcearchive"
	"github.com/stepline/stepline/pkg/statemachine"
)

// The errors Handle returns, one type per way the state machine reacts. aws-lambda-go reports
// a returned error's Go type name as the error type (SourceNotFound, not *main.SourceNotFound),
// which is what the ASL's Retry and Catch match in ErrorEquals; they are therefore returned
// as they are, never wrapped. Only SourceUnavailable is worth retrying.
type (
	// SourceInvalidInput: the input is not a source action's (a missing field, a branch name
	// instead of a commit id, an unknown provider), or the repository secret cannot serve it.
	// Final.
	SourceInvalidInput struct{ failure }
	// SourceNotFound: the provider answered 404 (CodeCommit: a …DoesNotExistException): no
	// such repository or commit, or one the token may not see. Final.
	SourceNotFound struct{ failure }
	// SourceUnauthorized: no credentials for the repository (no secret under the hook, a
	// secret registered for another repository) or the provider refused them (401, 403;
	// CodeCommit: the function's role or the repository's KMS key refused). Final.
	SourceUnauthorized struct{ failure }
	// SourceInvalidArchive: the provider's archive cannot become a source zip (an unsafe
	// path, an entry that is not a file, directory or link, a corrupt stream). Final.
	SourceInvalidArchive struct{ failure }
	// SourceUnavailable: something that may work a little later failed: the provider
	// answered 5xx or 429 or hit its rate limit, a download was cut or timed out, S3 or
	// Secrets Manager failed or throttled. Retried by the state machine.
	SourceUnavailable struct{ failure }
	// SourceFailed: anything else, such as S3 refusing the bucket. Final.
	SourceFailed struct{ failure }
)

// ErrorNames lists the error types Handle returns, for the state machine's tests.
var ErrorNames = []string{statemachine.ErrSourceInvalidInput, statemachine.ErrSourceNotFound, statemachine.ErrSourceUnauthorized,
	statemachine.ErrSourceInvalidArchive, statemachine.ErrSourceUnavailable, statemachine.ErrSourceFailed}

// failure is the message every error type carries, and the cause kept for errors.Is.
type failure struct {
	msg   string
	cause error
}

func (f failure) Error() string { return f.msg }

func (f failure) Unwrap() error { return f.cause }

// classify turns a cause into the error type the state machine reacts to. The order
// matters: a rate limit is also a 403, and S3's outright refusals are failed AWS calls too.
func classify(err error) error {
	f := failure{msg: err.Error(), cause: err}
	var apiErr *scm.APIError
	switch {
	case errors.Is(err, reposecret.ErrUnknownHook):
		return &SourceUnauthorized{f}
	case errors.Is(err, sourcearchive.ErrUnsupportedProvider):
		return &SourceInvalidInput{f}
	case errors.Is(err, sourcearchive.ErrRateLimited):
		return &SourceUnavailable{f}
	case errors.Is(err, scm.ErrNotFound):
		return &SourceNotFound{f}
	case errors.Is(err, scm.ErrUnauthorized):
		return &SourceUnauthorized{f}
	case errors.As(err, &apiErr):
		if apiErr.StatusCode >= 500 || apiErr.StatusCode == http.StatusRequestTimeout {
			return &SourceUnavailable{f}
		}
		return &SourceFailed{f}
	case errors.Is(err, sourcearchive.ErrInvalidArchive):
		return &SourceInvalidArchive{f}
	case storeRefused(err):
		return &SourceFailed{f}
	case transient(err):
		return &SourceUnavailable{f}
	}
	return &SourceFailed{f}
}

// storeRefused reports an S3 answer that no retry changes: the bucket is missing or the
// function may not write to it, a deployment error.
func storeRefused(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	case "NoSuchBucket", "AccessDenied", "InvalidBucketName", "AllAccessDisabled":
		return true
	}
	return false
}

// transient reports a failure that may pass: a timeout or cancellation, a download cut
// short, a network error, any failed AWS call not refused outright (throttling, 5xx).
func transient(err error) bool {
	var netErr net.Error
	var opErr *smithy.OperationError
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &netErr) || errors.As(err, &opErr)
}

// errorType is the name aws-lambda-go reports for err (its lambda/errors.go): the type's
// name, without package or pointer.
func errorType(err error) string {
	t := reflect.TypeOf(err)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}
