package store

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Scope is what a run's stage locks, run numbers and rollback targets belong to: a
// repository, a pipeline of it, and the environment the run deploys to, or its branch when
// the pipeline gives the run no environment. Runs of one scope share lanes and "the last
// successful run"; runs of different scopes never do, so a feature branch's run neither
// queues behind main nor supersedes it, a rollback never redeploys another environment's
// artifacts, and two repositories with a pipeline of the same name never meet, although one
// DynamoDB table serves them all. Record.Scope computes it; nothing else should.
type Scope struct {
	// Provider and Repository name the repository: the SCM provider and the repository's full
	// name on AWS; locally the provider is empty and the repository is its directory.
	Provider   string
	Repository string
	Pipeline   string
	// Environment is the name of the run's environment (#{env.name}); empty when it has none.
	Environment string
	// Branch is the run's branch when it has no environment, empty otherwise: runs that
	// deploy to one environment share its lanes whatever branch they come from.
	Branch string
	// Fork marks an untrusted run (Record.Trusted): a pull request from a fork, whose branch
	// is the fork's, or a run of a trigger marked `trusted: false`. Its runs must never share
	// lanes or rollback targets with this repository's trusted runs of the same branch, nor
	// take an environment's: an untrusted success must never become a rollback target.
	Fork bool
}

// Scope returns the scope of the run: its repository, pipeline, and environment or branch.
func (r Record) Scope() Scope {
	s := Scope{Provider: r.Provider, Repository: r.Repo, Pipeline: r.Pipeline()}
	trusted := r.Trusted()
	if env, _ := r.State.Variable("env", "name"); env != "" && trusted {
		s.Environment = env
		return s
	}
	s.Branch = r.Branch
	s.Fork = !trusted
	return s
}

// Counter returns the scope run numbers are counted in: the repository and pipeline only.
// One sequence per repository and pipeline keeps a number meaningful across branches (run 12
// is newer than run 11, whichever branch each built), and RunID makes it unique in a table.
func (s Scope) Counter() Scope {
	return Scope{Provider: s.Provider, Repository: s.Repository, Pipeline: s.Pipeline}
}

// Key encodes the scope as the stores key it. Every field is written as its length in
// decimal, a colon and its bytes, so no two scopes encode alike whatever their names hold
// (`/`, `#`, `:`, digits), and no key is a prefix of another's: a store may append to it.
func (s Scope) Key() string {
	var b strings.Builder
	fork := ""
	if s.Fork {
		fork = "fork"
	}
	for _, f := range []string{s.Provider, s.Repository, s.Pipeline, s.Environment, s.Branch, fork} {
		b.WriteString(strconv.Itoa(len(f)))
		b.WriteByte(':')
		b.WriteString(f)
	}
	return b.String()
}

// String names the scope for messages: "api of github:acme/shop on branch main".
func (s Scope) String() string {
	var b strings.Builder
	b.WriteString(s.Pipeline)
	if s.Repository != "" || s.Provider != "" {
		b.WriteString(" of ")
		if s.Provider != "" {
			b.WriteString(s.Provider + ":")
		}
		b.WriteString(s.Repository)
	}
	switch {
	case s.Environment != "":
		b.WriteString(" in environment " + s.Environment)
	case s.Fork:
		b.WriteString(" on branch " + s.Branch + " (untrusted)")
	case s.Branch != "":
		b.WriteString(" on branch " + s.Branch)
	}
	return b.String()
}

// check refuses scopes no store can key: every run belongs to a pipeline, and a NUL would let
// Bolt's index keys run into each other.
func (s Scope) check() error {
	if s.Pipeline == "" {
		return errors.New("the scope names no pipeline")
	}
	if strings.Contains(s.Key(), "\x00") {
		return fmt.Errorf("scope %s: names hold a NUL byte", s)
	}
	return nil
}

// RunID names run number seq of the scope's repository and pipeline: `<pipeline>-<n>-<tag>`,
// tag being eight hex digits of a hash of the repository. Numbers are counted per repository
// and pipeline (Scope.Counter), so the pipeline and number alone would collide between two
// repositories sharing a table; the tag keeps ids unique while leaving them readable, and
// `stepline show api-12` still finds run 12 by prefix. Two repositories whose tags collide
// (one chance in four billion per pair) are caught by the trigger, which refuses to take over
// a record of another repository.
func RunID(s Scope, seq int64) string {
	sum := sha256.Sum256([]byte(Scope{Provider: s.Provider, Repository: s.Repository}.Key()))
	return fmt.Sprintf("%s-%d-%s", s.Pipeline, seq, hex.EncodeToString(sum[:4]))
}
