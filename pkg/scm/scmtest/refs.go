package scmtest

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/stepline/stepline/pkg/scm"
)

// RefRefused checks that a parser refused a delivery for a ref or commit git would refuse:
// a *scm.MalformedError (the webhook answers 400) wrapping the *scm.RefError, whose message
// contains want.
func RefRefused(tb testing.TB, err error, want string) {
	tb.Helper()
	var malformed *scm.MalformedError
	var refErr *scm.RefError
	if assert.True(tb, errors.As(err, &malformed), "want a *scm.MalformedError, got %v", err) &&
		assert.True(tb, errors.As(err, &refErr), "want a *scm.RefError inside, got %v", err) {
		assert.Contains(tb, err.Error(), want)
	}
}
