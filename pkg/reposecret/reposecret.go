// Package reposecret is where a registered repository's credentials live: one Secrets Manager
// secret per repository, named after the repository's webhook id, holding the webhook secrets
// (several during a rotation) and the provider API token. The webhook function reads it on
// every delivery through a TTL cache; the trigger and source functions read the token.
package reposecret

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
)

// DefaultPrefix is the start of every repository secret's name: the rest is the hook id.
const DefaultPrefix = "stepline/repos/"

// ErrUnknownHook means no repository is registered under the hook id. It says nothing about
// why (malformed id, missing secret), so answers built from it reveal nothing.
var ErrUnknownHook = errors.New("no repository is registered for this webhook")

// hookRE is the shape of a hook id: long and random enough to be unguessable, and safe inside
// a secret name and a URL path without escaping.
var hookRE = regexp.MustCompile(`^[A-Za-z0-9_-]{16,128}$`)

// ValidHook reports whether id has the shape of a hook id; anything else is refused before
// any lookup, so a crafted path never reaches Secrets Manager.
func ValidHook(id string) bool { return hookRE.MatchString(id) }

// Secret is the JSON value of one repository secret.
type Secret struct {
	// Provider is github, bitbucket or bitbucket-server.
	Provider string `json:"provider"`
	// Repository is the repository's full name (owner/repo, PROJECT/repo); deliveries for any
	// other repository are refused.
	Repository string `json:"repository"`
	// WebhookSecrets are the HMAC keys deliveries may be signed with; during a rotation the
	// old and the new one are both listed.
	WebhookSecrets []string `json:"webhook_secrets"`
	// Token is the provider API token (read the pipeline file, list changed files, download
	// archives, post commit statuses). Optional for the webhook itself.
	Token string `json:"token,omitempty"`
	// APIURL is the provider's API base URL; required for Bitbucket Data Center, whose host is
	// the customer's own.
	APIURL string `json:"api_url,omitempty"`
}

// String hides the secrets, so a Secret printed by mistake leaks nothing.
func (s Secret) String() string {
	return fmt.Sprintf("reposecret.Secret{Provider:%q Repository:%q WebhookSecrets:%d Token:%t}",
		s.Provider, s.Repository, len(s.WebhookSecrets), s.Token != "")
}

// GoString hides the secrets from %#v too.
func (s Secret) GoString() string { return s.String() }

// Keys returns the webhook secrets as HMAC keys, skipping empty ones.
func (s Secret) Keys() [][]byte {
	out := make([][]byte, 0, len(s.WebhookSecrets))
	for _, k := range s.WebhookSecrets {
		if k != "" {
			out = append(out, []byte(k))
		}
	}
	return out
}

// Parse decodes and checks a secret's JSON value. Errors name the field, never its value.
func Parse(value []byte) (Secret, error) {
	var s Secret
	if err := json.Unmarshal(value, &s); err != nil {
		return Secret{}, errors.New("repository secret: not a JSON object with provider, repository and webhook_secrets")
	}
	if !slices.Contains([]string{"github", "bitbucket", "bitbucket-server"}, s.Provider) {
		return Secret{}, fmt.Errorf("repository secret: provider %q is not github, bitbucket or bitbucket-server", s.Provider)
	}
	if s.Repository == "" {
		return Secret{}, errors.New("repository secret: repository is empty")
	}
	if len(s.Keys()) == 0 {
		return Secret{}, errors.New("repository secret: webhook_secrets has no non-empty secret")
	}
	if s.Provider == "bitbucket-server" && s.APIURL == "" && s.Token != "" {
		return Secret{}, errors.New("repository secret: api_url is required for bitbucket-server when a token is given")
	}
	return s, nil
}
