package commitstatus

import (
	"errors"
	"fmt"

	"github.com/stepline/stepline/pkg/reposecret"
	"github.com/stepline/stepline/pkg/scm"
)

// ErrUnsupportedProvider means the provider has no commit statuses stepline can post
// (CodeCommit, image and object triggers).
var ErrUnsupportedProvider = errors.New("no commit statuses for this provider")

// Providers builds the Poster of a registered repository from its secret, as
// sourcearchive.Providers and triggerstep.Providers build the other API clients. The zero
// value talks to api.github.com and api.bitbucket.org.
type Providers struct {
	// GitHubURL is the REST API root used when the secret names none; a secret's api_url
	// (GitHub Enterprise Server) wins over it.
	GitHubURL string
	// BitbucketURL is Bitbucket Cloud's 2.0 API root (default DefaultBitbucketURL).
	BitbucketURL string
	// Options apply to every Poster (HTTP client, retries, clock, logger).
	Options []Option
}

// For returns the Poster of secret's provider, authenticated with its token. Bitbucket Data
// Center needs the secret's api_url.
func (p Providers) For(s reposecret.Secret) (Poster, error) {
	switch s.Provider {
	case scm.GitHub:
		base := s.APIURL
		if base == "" {
			base = p.GitHubURL
		}
		return NewGitHub(base, s.Token, p.Options...)
	case scm.Bitbucket:
		return NewBitbucket(p.BitbucketURL, s.Token, p.Options...)
	case scm.BitbucketServer:
		return NewDataCenter(s.APIURL, s.Token, p.Options...)
	}
	return nil, fmt.Errorf("%w: %q", ErrUnsupportedProvider, s.Provider)
}
