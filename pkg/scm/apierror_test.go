package scm

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestAPIErrorMatchesTheSentinelsByStatus(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name         string
		status       int
		notFound     bool
		unauthorized bool
	}{
		{"a 404 is not found", 404, true, false},
		{"a 401 is unauthorized", 401, false, true},
		{"a 403 is unauthorized too", 403, false, true},
		{"a 500 is neither", 500, false, false},
		{"a 400 is neither", 400, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := fmt.Errorf("compare o/r: %w", &APIError{Provider: "bitbucket", StatusCode: c.status})
			assert.Equal(t, c.notFound, errors.Is(err, ErrNotFound))
			assert.Equal(t, c.unauthorized, errors.Is(err, ErrUnauthorized))
		})
	}
}

func TestAPIErrorSaysTheProviderStatusAndMessage(t *testing.T) {
	t.Parallel()
	err := &APIError{Provider: "bitbucket data center", StatusCode: 404, Message: "Commit abc does not exist"}
	assert.Equal(t, "bitbucket data center answered 404 Not Found: Commit abc does not exist", err.Error())
	err.Message = ""
	assert.Equal(t, "bitbucket data center answered 404 Not Found", err.Error())
}

func TestAPIErrorKeepsTheLibrarysErrorInTheChainWithoutRepeatingIt(t *testing.T) {
	t.Parallel()
	lib := errors.New("GET https://api.example.com/x: 404 Not Found")
	err := &APIError{Provider: "github", StatusCode: 404, Message: "Not Found", Err: lib}
	assert.ErrorIs(t, err, lib)
	assert.ErrorIs(t, err, ErrNotFound)
	assert.Equal(t, "github answered 404 Not Found: Not Found", err.Error())
}
