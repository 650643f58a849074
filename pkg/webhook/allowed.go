package webhook

import (
	"fmt"
	"path"
	"strings"

	"github.com/stepline/stepline/pkg/scm"
)

// Allowed is the list of repositories a stack accepts deliveries for, as
// provider:owner/repo patterns in path.Match syntax ("github:acme/*", "bitbucket-server:OPS/deploy").
// A registered hook already names one repository; the list is the stack owner's second
// lock, so a secret created by mistake (or by someone allowed to create secrets but not to
// decide which code runs in this account) starts nothing. An empty list allows every
// repository.
type Allowed []string

// ParseAllowed reads a comma-separated list of patterns (STEPLINE_ALLOWED_REPOS), refusing
// a pattern without a known provider or with a malformed glob, so a typo fails the function's
// start instead of silently refusing every delivery.
func ParseAllowed(s string) (Allowed, error) {
	var out Allowed
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		provider, repo, ok := strings.Cut(p, ":")
		if _, known := scm.HeadersOf(provider); !ok || !known {
			return nil, fmt.Errorf("allowed repository %q: expected provider:owner/repo with provider github, bitbucket or bitbucket-server", p)
		}
		if _, err := path.Match(repo, ""); err != nil || !strings.Contains(repo, "/") {
			return nil, fmt.Errorf("allowed repository %q: %q is not an owner/repo pattern such as acme/* or acme/api", p, repo)
		}
		out = append(out, provider+":"+repo)
	}
	return out, nil
}

// Allows reports whether repository (owner/repo) of provider is on the list. Repository
// names compare case-insensitively, as the providers treat them.
func (a Allowed) Allows(provider, repository string) bool {
	if len(a) == 0 {
		return true
	}
	name := provider + ":" + strings.ToLower(repository)
	for _, p := range a {
		if ok, _ := path.Match(strings.ToLower(p), name); ok {
			return true
		}
	}
	return false
}
