package reposecret

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// secretGetter is the one Secrets Manager call the store makes.
type secretGetter interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

var _ secretGetter = (*secretsmanager.Client)(nil)

// Store reads repository secrets from Secrets Manager and keeps each for a TTL, so a burst of
// deliveries costs one API call and a rotation is picked up within the TTL. It is safe for
// concurrent use.
type Store struct {
	sm      secretGetter
	prefix  string
	ttl     time.Duration
	missTTL time.Duration
	now     func() time.Time

	mu    sync.Mutex
	cache map[string]entry
	// inflight coalesces concurrent lookups of one hook into one call.
	inflight map[string]*call
}

type entry struct {
	secret  Secret
	err     error
	expires time.Time
}

type call struct {
	done chan struct{}
	e    entry
}

// Option configures a Store.
type Option func(*Store)

// WithPrefix sets the secret name prefix (default DefaultPrefix).
func WithPrefix(p string) Option { return func(s *Store) { s.prefix = p } }

// WithTTL sets how long a found secret is kept (default 5 minutes) and how long an unknown
// hook is remembered as unknown (default 30 seconds, so a new registration works quickly).
func WithTTL(found, missing time.Duration) Option {
	return func(s *Store) { s.ttl, s.missTTL = found, missing }
}

// WithClock sets the clock, for tests.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// NewStore returns a Store reading through sm.
func NewStore(sm secretGetter, opts ...Option) *Store {
	s := &Store{sm: sm, prefix: DefaultPrefix, ttl: 5 * time.Minute, missTTL: 30 * time.Second,
		now: time.Now, cache: map[string]entry{}, inflight: map[string]*call{}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Name returns the secret name of hook id.
func (s *Store) Name(hook string) string { return s.prefix + hook }

// Get returns the secret of hook id: ErrUnknownHook when the id is malformed or has no
// secret; any other error (throttling, permissions, a broken value) is returned wrapped and
// not cached, so the provider's retry can succeed.
func (s *Store) Get(ctx context.Context, hook string) (Secret, error) {
	if !ValidHook(hook) {
		return Secret{}, ErrUnknownHook
	}
	s.mu.Lock()
	if e, ok := s.cache[hook]; ok && s.now().Before(e.expires) {
		s.mu.Unlock()
		return e.secret, e.err
	}
	if c, ok := s.inflight[hook]; ok {
		s.mu.Unlock()
		select {
		case <-c.done:
			return c.e.secret, c.e.err
		case <-ctx.Done():
			return Secret{}, ctx.Err()
		}
	}
	c := &call{done: make(chan struct{})}
	s.inflight[hook] = c
	s.mu.Unlock()

	c.e = s.fetch(ctx, hook)
	s.mu.Lock()
	delete(s.inflight, hook)
	if c.e.err == nil || errors.Is(c.e.err, ErrUnknownHook) {
		if len(s.cache) >= maxCached {
			s.evict()
		}
		s.cache[hook] = c.e
	}
	s.mu.Unlock()
	close(c.done)
	return c.e.secret, c.e.err
}

// maxCached bounds the cache: random hook ids from a scanner must not grow it without end.
const maxCached = 10_000

// evict drops expired entries, then, if the cache is still full, the unknown hooks, which
// cost one call each to learn again; called with mu held.
func (s *Store) evict() {
	now := s.now()
	for k, e := range s.cache {
		if !now.Before(e.expires) {
			delete(s.cache, k)
		}
	}
	if len(s.cache) < maxCached {
		return
	}
	for k, e := range s.cache {
		if e.err != nil {
			delete(s.cache, k)
		}
	}
}

func (s *Store) fetch(ctx context.Context, hook string) entry {
	out, err := s.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(s.Name(hook))})
	if err != nil {
		var nf *smtypes.ResourceNotFoundException
		if errors.As(err, &nf) {
			return entry{err: ErrUnknownHook, expires: s.now().Add(s.missTTL)}
		}
		// AWS errors name the secret, hence the whole hook id: keep only its start.
		return entry{err: fmt.Errorf("read the repository secret: %w", redacted{err: err, hook: hook})}
	}
	var value []byte
	switch {
	case out.SecretString != nil:
		value = []byte(*out.SecretString)
	default:
		value = out.SecretBinary
	}
	sec, err := Parse(value)
	if err != nil {
		return entry{err: err}
	}
	return entry{secret: sec, expires: s.now().Add(s.ttl)}
}

// redacted is an AWS error whose text names the secret, and so the whole hook id: it keeps
// the error for errors.Is/As and shows only the id's start.
type redacted struct {
	err  error
	hook string
}

func (r redacted) Error() string { return strings.ReplaceAll(r.err.Error(), r.hook, r.hook[:6]+"…") }
func (r redacted) Unwrap() error { return r.err }
