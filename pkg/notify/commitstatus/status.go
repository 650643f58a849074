// Package commitstatus posts a run's result on the commit it built, as each provider shows
// it next to the commit and on its pull requests: GitHub's commit statuses, Bitbucket Cloud's
// commit build statuses and Bitbucket Data Center's build statuses. One Poster per provider,
// authenticated with the repository's registered token (reposecret.Secret); every answer
// other than a success is an error the caller reports, never one that fails the run.
package commitstatus

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/stepline/stepline/pkg/scm"
)

// State is what a status says about the commit, whichever provider shows it.
type State string

// The states of a pipeline's status: in progress when the run starts, then one of the three
// ends. A superseded or canceled run ends Stopped, so no status stays in progress forever.
const (
	InProgress State = "in_progress"
	Succeeded  State = "succeeded"
	Failed     State = "failed"
	Stopped    State = "stopped"
)

// Status is one commit status: the same Key on the same commit replaces the earlier one, so a
// pipeline (and environment) has one status that moves from in progress to its end.
type Status struct {
	// Repository is the provider's full name: owner/name, workspace/slug or PROJECT/slug.
	Repository string
	// Commit is the full commit id the run built.
	Commit string
	// Branch is the branch the run built, "" for none. Bitbucket Cloud shows the status on the
	// pull requests from that branch (its refname); Data Center shows it as refs/heads/<Branch>.
	Branch string
	// Key identifies the status among the commit's: the pipeline name, plus "/" and the
	// environment where the run has one. GitHub calls it the context.
	Key string
	// Name is the title the provider shows; Bitbucket shows it, GitHub shows the Key.
	Name string
	// State is the run's state.
	State State
	// Description says why in one line: the failed stage and action, or how long it took.
	Description string
	// URL links to the run (see notify.RunLink). Bitbucket refuses a status without one.
	URL string
	// Number is the run number, which Data Center shows as the build number; "" to omit.
	Number string
	// Duration is how long the run took, which Data Center shows; zero to omit.
	Duration time.Duration
}

// Poster posts commit statuses to one provider.
type Poster interface {
	// Post creates or replaces s on its commit. A refused token is a *TokenError; a rate limit
	// that outlasts the retries matches ErrRateLimited; other refusals are *scm.APIError.
	Post(ctx context.Context, s Status) error
}

// ErrRateLimited means the provider kept refusing for its rate limit past the retries, or
// asked for a longer wait than the Poster may sleep: worth posting again later (the caller's
// queue redelivers). The error also matches the *scm.APIError of the last answer.
var ErrRateLimited = errors.New("rate limited")

// TokenError says the provider refused the token (401) or refused it this call (403): it is
// wrong, expired, or lacks the permission to post statuses. Retrying cannot help; the caller
// reports it once, in the run's events, and carries on. It matches scm.ErrUnauthorized.
type TokenError struct {
	// Repository is where the status was to be posted.
	Repository string
	// Need says what a token needs to post statuses on this provider.
	Need string
	// API is the provider's answer, its message free of the token.
	API *scm.APIError
}

// Error says the repository, the answer and what the token needs; never the token.
func (e *TokenError) Error() string {
	what := "was refused"
	if e.API.StatusCode == http.StatusForbidden {
		what = "may not post commit statuses"
	}
	return fmt.Sprintf("post a commit status on %s: the token %s (%v); %s", e.Repository, what, e.API, e.Need)
}

// Unwrap returns the provider's answer, which scm.ErrUnauthorized matches.
func (e *TokenError) Unwrap() error { return e.API }

// What a token needs, per provider, to post statuses (cited where each Poster is built).
const (
	needGitHub    = "a fine-grained token needs Commit statuses: read and write on the repository, a classic token the repo:status scope"
	needBitbucket = "a repository, project or workspace access token needs the Repositories scope on the repository"
	needServer    = "an HTTP access token needs read permission on the repository"
)

// maxDescription is GitHub's documented cap on a description; the others allow more, but one
// line of 140 characters reads well everywhere.
const maxDescription = 140

// clip shortens s to n runes, ending in "…" when it cut.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
