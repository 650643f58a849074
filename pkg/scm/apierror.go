package scm

import (
	"errors"
	"net/http"
	"strconv"
)

// Errors a FileLister's answer can be matched against with errors.Is, whichever provider
// gave it. The error in the chain is an *APIError carrying the status and the provider's
// message.
var (
	// ErrNotFound means the provider answered 404: the repository or a commit does not
	// exist, or the credentials may not see it (GitHub and Bitbucket hide private
	// repositories that way).
	ErrNotFound = errors.New("not found")
	// ErrUnauthorized means the provider refused the credentials: missing, wrong or expired
	// (401), or without permission to read the repository (403).
	ErrUnauthorized = errors.New("unauthorized")
)

// APIError is an answer of a provider's REST API that is not a success.
type APIError struct {
	// Provider names the API in the message, such as "bitbucket data center".
	Provider string
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// Message is the provider's own explanation, one line and free of the credentials, or "".
	Message string
	// Err is the API library's own error for the same answer, if one was used, kept in the
	// chain for errors.As; Error does not repeat it.
	Err error
}

// Error says the provider, the status and the provider's message, never the credentials.
func (e *APIError) Error() string {
	s := e.Provider + " answered " + strconv.Itoa(e.StatusCode) + " " + http.StatusText(e.StatusCode)
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Is matches ErrNotFound on a 404, and ErrUnauthorized on a 401 or a 403.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden
	}
	return false
}

// Unwrap returns Err.
func (e *APIError) Unwrap() error { return e.Err }
