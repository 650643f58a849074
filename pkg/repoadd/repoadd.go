// Package repoadd registers a repository with a deployed stepline stack: it creates the
// repository's secret in Secrets Manager (pkg/reposecret's format) under a fresh hook id with a
// fresh webhook secret, builds the webhook URL, and, given an API token, creates the webhook
// through the provider's API. Without a token it returns the settings to paste by hand.
package repoadd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/stepline/stepline/pkg/reposecret"
	"github.com/stepline/stepline/pkg/scm"
)

// Errors of a request that cannot be carried out; errors.Is matches them through the
// wrapping, which adds the offending value.
var (
	// ErrUnknownProvider means the provider is not github, bitbucket or bitbucket-server.
	ErrUnknownProvider = errors.New("unknown provider")
	// ErrBadRepository means the repository is not OWNER/REPO (PROJECT/repo on Data Center).
	ErrBadRepository = errors.New("the repository must be OWNER/REPO")
	// ErrNeedAPIURL means Bitbucket Data Center was named without its base URL.
	ErrNeedAPIURL = errors.New("bitbucket-server needs the base URL of the Bitbucket Data Center instance")
	// ErrBadURL means a URL given (webhook or API) is not an absolute http(s) URL.
	ErrBadURL = errors.New("not an absolute http(s) URL")
	// ErrNeedToken means registration through the API was asked for without a token.
	ErrNeedToken = errors.New("registering the webhook through the provider's API needs a token")
)

// ExistsError means the repository already has a secret, and the request did not ask to
// rotate its webhook secret.
type ExistsError struct {
	// Key is provider:owner/repo.
	Key string
	// Secrets names the repository's existing secrets (normally one).
	Secrets []string
}

// Error names the existing secret and the way out.
func (e *ExistsError) Error() string {
	return fmt.Sprintf("%s is already registered (secret %s); use --rotate to add a new webhook secret to it",
		e.Key, strings.Join(e.Secrets, ", "))
}

// Request is one repository to register.
type Request struct {
	// Provider is github, bitbucket or bitbucket-server.
	Provider string
	// Repository is OWNER/REPO: owner/name on GitHub, workspace/repo_slug on Bitbucket Cloud,
	// PROJECT/repo_slug on Data Center (~user/repo_slug for a personal repository).
	Repository string
	// WebhookURL is the stack's WebhookUrl output; the repository's URL is
	// WebhookURL/provider/hook.
	WebhookURL string
	// SecretPrefix is the stack's SecretPrefix output (default reposecret.DefaultPrefix).
	SecretPrefix string
	// Token is the provider API token, stored in the secret; with Register it also creates
	// the webhook.
	Token string
	// APIURL is the provider's API root: required for bitbucket-server (the instance's base
	// URL, stored in the secret); for github a GitHub Enterprise Server API root
	// (https://ghe.example.com/api/v3), stored too; for bitbucket it only redirects the
	// registration call. Empty means the public API.
	APIURL string
	// Register creates (or, when rotating, updates) the webhook through the provider's API.
	Register bool
	// Rotate adds a new webhook secret to the repository's existing secret, keeping the old
	// ones so deliveries signed with them still verify, instead of refusing.
	Rotate bool
}

// String hides the token, so a Request printed by mistake leaks nothing.
func (r Request) String() string {
	return fmt.Sprintf("repoadd.Request{Provider:%q Repository:%q WebhookURL:%q SecretPrefix:%q Token:%t APIURL:%q Register:%t Rotate:%t}",
		r.Provider, r.Repository, r.WebhookURL, r.SecretPrefix, r.Token != "", r.APIURL, r.Register, r.Rotate)
}

// GoString hides the token from %#v too.
func (r Request) GoString() string { return r.String() }

// Result is what Add did.
type Result struct {
	// Key is provider:owner/repo, as the secret's tag holds it.
	Key string
	// SecretName and SecretARN identify the repository's secret.
	SecretName, SecretARN string
	// Hook is the hook id, the last element of URL.
	Hook string
	// URL is where the provider delivers: WebhookURL/provider/hook.
	URL string
	// WebhookSecret is the new webhook secret. It is to be pasted into the provider by hand
	// unless Registered is set.
	WebhookSecret string
	// Rotated is set when the secret existed and WebhookSecret was added to it.
	Rotated bool
	// WebhookSecrets counts the webhook secrets the repository now accepts.
	WebhookSecrets int
	// Settings are the provider's webhook settings.
	Settings Settings
	// Registered is set when the webhook was created or updated through the API.
	Registered *Registration
}

// String hides the webhook secret, so a Result printed by mistake leaks nothing.
func (r Result) String() string {
	return fmt.Sprintf("repoadd.Result{Key:%q SecretName:%q Hook:%q URL:%q Rotated:%t WebhookSecrets:%d Registered:%t}",
		r.Key, r.SecretName, r.Hook, r.URL, r.Rotated, r.WebhookSecrets, r.Registered != nil)
}

// GoString hides the webhook secret from %#v too.
func (r Result) GoString() string { return r.String() }

// Registration is the provider's webhook, created or updated through its API.
type Registration struct {
	// ID is the provider's id of the webhook.
	ID string
	// Updated is set when an existing webhook with the same URL got the new secret.
	Updated bool
}

// Registrar registers repositories. It is safe for concurrent use.
type Registrar struct {
	sm     secretsAPI
	http   *http.Client
	random io.Reader
}

// Option configures a Registrar.
type Option func(*Registrar)

// WithHTTPClient sets the client of the provider API calls (default: a 30-second timeout).
func WithHTTPClient(c *http.Client) Option {
	return func(r *Registrar) {
		if c != nil {
			r.http = c
		}
	}
}

// WithRandom sets the source of hook ids and webhook secrets (default crypto/rand), for tests.
func WithRandom(rd io.Reader) Option { return func(r *Registrar) { r.random = rd } }

// DefaultBitbucketURL is Bitbucket Cloud's API root; GitHub's is go-github's default,
// https://api.github.com/.
const DefaultBitbucketURL = "https://api.bitbucket.org/2.0"

// New returns a Registrar writing secrets through sm.
func New(sm secretsAPI, opts ...Option) *Registrar {
	r := &Registrar{sm: sm, http: &http.Client{Timeout: 30 * time.Second}, random: rand.Reader}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Add registers req's repository: it creates its secret (or, with Rotate, adds a webhook
// secret to the existing one) and, with Register, the provider's webhook. When the secret
// was written but the registration failed, Add returns the Result together with the error,
// so the caller can still show what to paste by hand.
func (r *Registrar) Add(ctx context.Context, req Request) (Result, error) {
	req, err := check(req, true)
	if err != nil {
		return Result{}, err
	}
	secret, err := r.newWebhookSecret()
	if err != nil {
		return Result{}, err
	}
	set, _ := SettingsOf(req.Provider)
	res := Result{Key: tagValue(req.Provider, req.Repository), WebhookSecret: secret, Settings: set}

	existing, err := r.find(ctx, req)
	if err != nil {
		return Result{}, err
	}
	switch {
	case len(existing) > 1:
		return Result{}, fmt.Errorf("%s has %d secrets (%s); remove all but one, then run again",
			res.Key, len(existing), strings.Join(names(existing), ", "))
	case len(existing) == 1 && !req.Rotate:
		return Result{}, &ExistsError{Key: res.Key, Secrets: names(existing)}
	case len(existing) == 1:
		if err := r.rotate(ctx, req, existing[0], &res); err != nil {
			return Result{}, err
		}
	default:
		if err := r.create(ctx, req, &res); err != nil {
			return Result{}, err
		}
	}
	res.URL = strings.TrimRight(req.WebhookURL, "/") + "/" + req.Provider + "/" + res.Hook

	if !req.Register {
		return res, nil
	}
	reg, err := r.register(ctx, req, res)
	if err != nil {
		return res, err
	}
	res.Registered = &reg
	return res, nil
}

// Check reports what is wrong with req without calling anything, so a command can refuse
// bad arguments before it loads credentials. An empty WebhookURL passes, since it may come
// from the stack's outputs later; Add refuses it. The error matches one of the Err variables.
func Check(req Request) error {
	_, err := check(req, req.WebhookURL != "")
	return err
}

// check validates req and fills its defaults; withURL checks the webhook URL too.
func check(req Request, withURL bool) (Request, error) {
	if _, ok := settings[req.Provider]; !ok {
		return req, fmt.Errorf("%w %q: use %s", ErrUnknownProvider, req.Provider, strings.Join(scm.Providers(), ", "))
	}
	if !validRepository(req.Provider, req.Repository) {
		return req, fmt.Errorf("%w, not %q", ErrBadRepository, req.Repository)
	}
	if withURL {
		if err := absoluteURL("webhook URL", req.WebhookURL); err != nil {
			return req, err
		}
	}
	if req.SecretPrefix == "" {
		req.SecretPrefix = reposecret.DefaultPrefix
	}
	if req.Provider == scm.BitbucketServer && req.APIURL == "" {
		return req, ErrNeedAPIURL
	}
	if req.APIURL != "" {
		if err := absoluteURL("API URL", req.APIURL); err != nil {
			return req, err
		}
	}
	if req.Register && req.Token == "" {
		return req, ErrNeedToken
	}
	return req, nil
}

func absoluteURL(what, s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%s %q: %w", what, s, ErrBadURL)
	}
	if u.User != nil {
		return fmt.Errorf("%s %s carries credentials; give the token with --token", what, u.Redacted())
	}
	return nil
}

// validRepository accepts OWNER/REPO with the characters all three providers allow in names
// (and a leading ~ for a Data Center personal project), and nothing that could climb out of
// an API path.
func validRepository(provider, repo string) bool {
	owner, name, ok := strings.Cut(repo, "/")
	return ok && validName(owner, provider == scm.BitbucketServer) && validName(name, false)
}

func validName(s string, tilde bool) bool {
	if s == "" || s == "." || s == ".." || len(s) > 128 {
		return false
	}
	for i, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		case c == '~' && tilde && i == 0 && len(s) > 1:
		default:
			return false
		}
	}
	return true
}

// newWebhookSecret returns 32 random bytes in hex: every provider's form takes it as typed.
func (r *Registrar) newWebhookSecret() (string, error) {
	return r.randomHex(32)
}

// newHook returns a hook id of 16 random bytes in hex, the shape reposecret.ValidHook wants.
func (r *Registrar) newHook() (string, error) {
	h, err := r.randomHex(16)
	if err == nil && !reposecret.ValidHook(h) {
		err = errors.New("generated an invalid hook id")
	}
	return h, err
}

func (r *Registrar) randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(r.random, b); err != nil {
		return "", fmt.Errorf("read random bytes: %w", err)
	}
	return hex.EncodeToString(b), nil
}
