package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/stepline/stepline/pkg/changes"
	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/notify"
	"github.com/stepline/stepline/pkg/notify/commitstatus"
	"github.com/stepline/stepline/pkg/reposecret"
	"github.com/stepline/stepline/pkg/scm"
	"github.com/stepline/stepline/pkg/store"
)

// statusTokenEnv holds the token local runs post commit statuses with.
const statusTokenEnv = "STEPLINE_STATUS_TOKEN"

// statusOptions are the flags of `run` and `serve` that post commit statuses.
type statusOptions struct {
	token, provider, repository, apiURL, link string
}

func (o *statusOptions) flags(f *pflag.FlagSet, serve bool) {
	f.StringVar(&o.token, "status-token", "", "post a commit status per pipeline with this provider API token (default: $"+statusTokenEnv+"); nothing is posted without one")
	if !serve {
		f.StringVar(&o.provider, "status-provider", "", "with a status token: github, bitbucket or bitbucket-server (default: from the origin remote's host)")
		f.StringVar(&o.repository, "status-repo", "", "with a status token: the repository as owner/name (default: from the origin remote)")
	}
	f.StringVar(&o.apiURL, "status-api-url", "", "with a status token: the provider's API root (GitHub Enterprise Server, Bitbucket Data Center)")
	f.StringVar(&o.link, "status-link", "", "with a status token: the run link statuses carry, \"{run}\" replaced by the run id (default: the commit's page on github.com or bitbucket.org)")
}

// tokenOrEnv is the status token: the flag, else the environment.
func (o statusOptions) tokenOrEnv() string {
	if o.token != "" {
		return o.token
	}
	return os.Getenv(statusTokenEnv)
}

// statusTarget is where a local run's statuses go.
type statusTarget struct {
	secret     reposecret.Secret
	repository string
	links      notify.Links
	// commitPage is the run link when no --status-link is given: the commit on its forge.
	commitPage string
}

// target resolves where statuses go: the flags, else the provider and repository of the
// origin remote. ok is false without a token; an error says what is missing.
func (o statusOptions) target(provider, repository, origin string) (statusTarget, bool, error) {
	token := o.tokenOrEnv()
	if token == "" {
		return statusTarget{}, false, nil
	}
	if o.provider != "" {
		provider = o.provider
	}
	if o.repository != "" {
		repository = o.repository
	}
	if provider == "" || repository == "" {
		p, r, ok := parseRemote(origin)
		if !ok {
			return statusTarget{}, false, errors.New("commit statuses: the repository is unknown (no github.com or bitbucket.org origin remote); give --status-provider and --status-repo")
		}
		provider, repository = cmp(provider, p), cmp(repository, r)
	}
	switch provider {
	case scm.GitHub, scm.Bitbucket:
	case scm.BitbucketServer:
		if o.apiURL == "" {
			return statusTarget{}, false, errors.New("commit statuses: Bitbucket Data Center needs --status-api-url")
		}
	default:
		return statusTarget{}, false, fmt.Errorf("commit statuses: no statuses for provider %q (github, bitbucket or bitbucket-server)", provider)
	}
	t := statusTarget{secret: reposecret.Secret{Provider: provider, Repository: repository, Token: token, APIURL: o.apiURL},
		repository: repository, links: notify.Links{Dashboard: o.link}}
	if o.apiURL == "" {
		switch provider {
		case scm.GitHub:
			t.commitPage = "https://github.com/" + repository + "/commit/"
		case scm.Bitbucket:
			t.commitPage = "https://bitbucket.org/" + repository + "/commits/"
		}
	}
	return t, true, nil
}

func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// remoteRE reads the host and path of a remote URL: scheme://[user@]host[:port]/path or
// the scp form [user@]host:path.
var remoteRE = regexp.MustCompile(`^(?:[a-z+]+://(?:[^@/]+@)?([^/:]+)(?::\d+)?/|(?:[^@/]+@)?([^/:]+):)([^/]+/[^/]+?)(?:\.git)?/?$`)

// parseRemote returns the provider and owner/name of a github.com or bitbucket.org remote.
func parseRemote(origin string) (provider, repository string, ok bool) {
	m := remoteRE.FindStringSubmatch(strings.TrimSpace(origin))
	if m == nil {
		return "", "", false
	}
	host := strings.ToLower(m[1] + m[2])
	switch host {
	case "github.com", "ssh.github.com":
		return scm.GitHub, m[3], true
	case "bitbucket.org":
		return scm.Bitbucket, m[3], true
	}
	return "", "", false
}

// statusSink posts the commit status each pipeline change sets (notify.StatusFor), in order,
// from its own goroutine so a slow provider never holds the run up. A status that cannot be
// posted never fails the run: the first failure is one warning, and a refused token stops
// the posting.
type statusSink struct {
	poster commitstatus.Poster
	def    engine.Definition
	rec    store.Record
	target statusTarget
	warn   io.Writer

	queue chan commitstatus.Status
	done  chan struct{}
	once  sync.Once
}

// newStatusSink starts posting the statuses of a run of def building commit on branch.
func newStatusSink(t statusTarget, providers commitstatus.Providers, def engine.Definition, branch, commit string, warn io.Writer) (*statusSink, error) {
	if t.secret.Provider == scm.Bitbucket && t.secret.APIURL != "" {
		providers.BitbucketURL = t.secret.APIURL
	}
	p, err := providers.For(t.secret)
	if err != nil {
		return nil, err
	}
	s := &statusSink{poster: p, def: def, target: t, warn: warn,
		rec:   store.Record{Definition: def, Repo: t.repository, Branch: branch, Commit: commit, Provider: t.secret.Provider},
		queue: make(chan commitstatus.Status, 64), done: make(chan struct{})}
	go s.post()
	return s, nil
}

// Event turns a pipeline change into its status and queues it.
func (s *statusSink) Event(e engine.Event, st engine.State) {
	rec := s.rec
	rec.State = st
	typ, d := changes.Envelope(rec, e)
	run := notify.RunOf(rec)
	link := s.target.links.Run(run.ID)
	if link == "" && s.target.commitPage != "" {
		link = s.target.commitPage + rec.Commit
	}
	if status, ok := notify.StatusFor(notify.Change{DetailType: typ, Time: e.Time, State: d}, run, link); ok {
		s.queue <- status
	}
}

func (s *statusSink) post() {
	defer close(s.done)
	// Statuses are posted even after Ctrl-C: a canceled run ends as stopped, not pending.
	ctx := context.Background()
	stopped := false
	for status := range s.queue {
		if stopped {
			continue
		}
		err := s.poster.Post(ctx, status)
		if err == nil {
			continue
		}
		var te *commitstatus.TokenError
		stopped = errors.As(err, &te)
		s.once.Do(func() {
			fmt.Fprintf(s.warn, "warning: the commit status of %s on %s %s was not posted: %v (the run goes on without it)\n",
				status.Key, s.target.secret.Provider, s.target.repository, err)
		})
	}
}

// Close waits, at most wait, for the queued statuses to be posted.
func (s *statusSink) Close(wait time.Duration) {
	close(s.queue)
	select {
	case <-s.done:
	case <-time.After(wait):
		fmt.Fprintf(s.warn, "warning: gave up waiting for the commit statuses on %s %s\n", s.target.secret.Provider, s.target.repository)
	}
}
