package commitstatus

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stepline/stepline/pkg/scm"
	"github.com/stepline/stepline/pkg/scm/scmtest"
)

// FuzzPostAnswers answers every provider's status poster with any status and body (any
// Retry-After is the retrier's fuzz target): a post never panics or sleeps for real, a refusal
// is one of the documented errors (*TokenError, ErrRateLimited or *scm.APIError), and no error
// shows the token.
func FuzzPostAnswers(f *testing.F) {
	const token = "fuzz-token-never-shown-0123456789"
	for i := range scmtest.FuzzStatuses {
		for _, body := range []string{`{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}`,
			`{"type":"error","error":{"message":"Token is invalid or not supported for this endpoint."}}`,
			`{"errors":[{"context":null,"message":"Authentication failed. Please check your credentials and try again.","exceptionName":"com.atlassian.bitbucket.auth.IncorrectPasswordAuthenticationException"}]}`,
			`{"state":"success"}`, "", "<html>" + token + "</html>"} {
			for provider := range uint8(3) {
				f.Add(provider, uint8(i), []byte(body))
			}
		}
	}
	reply := scmtest.NewReply(f)
	opts := []Option{WithHTTPClient(reply.Client()),
		WithClock(time.Now, func(context.Context, time.Duration) error { return nil })}
	gh, err := NewGitHub(reply.URL, token, opts...)
	if err != nil {
		f.Fatal(err)
	}
	bb, err := NewBitbucket(reply.URL, token, opts...)
	if err != nil {
		f.Fatal(err)
	}
	dc, err := NewDataCenter(reply.URL, token, opts...)
	if err != nil {
		f.Fatal(err)
	}
	posters := []Poster{gh, bb, dc}
	f.Fuzz(func(t *testing.T, provider, status uint8, body []byte) {
		reply.Set(scmtest.FuzzStatuses[int(status)%len(scmtest.FuzzStatuses)], body)
		err := posters[int(provider)%len(posters)].Post(context.Background(), Status{Repository: "team/app",
			Commit: strings.Repeat("c", 40), Branch: "main", Key: "web", Name: "web", State: Succeeded, URL: "https://example.invalid/run"})
		if err == nil {
			return
		}
		if strings.Contains(err.Error(), token) {
			t.Fatalf("the error shows the token: %v", err)
		}
		var tokenErr *TokenError
		var apiErr *scm.APIError
		if !errors.As(err, &tokenErr) && !errors.Is(err, ErrRateLimited) && !errors.As(err, &apiErr) {
			t.Fatalf("an undocumented refusal: %T %v", err, err)
		}
	})
}
