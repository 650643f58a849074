package notify

import (
	"net/url"
	"strconv"
	"time"

	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/store"
)

// Run is what a notification says about the run a change belongs to, read from its record.
type Run struct {
	// ID is the run's id; Number its run number ("" when unknown).
	ID, Number string
	// Pipeline and Environment name what ran; Environment is "" without environments.
	Pipeline, Environment string
	// Provider, Repository, Branch and Commit name the source; Provider is the SCM provider
	// (github, bitbucket, bitbucket-server) or the AWS source (codecommit, ecr, s3).
	Provider, Repository, Branch, Commit string
	// Message and Author are the commit's first line and author, "" when unknown.
	Message, Author string
	// Started is when the run started, zero when it has not.
	Started time.Time
	// Failure is the failed action of a failed run, or nil.
	Failure *Failure
	// Refs maps "Stage/Action" to the action's latest executor reference (a CodeBuild build
	// id), for the log link of an action that failed.
	Refs map[string]string
	// URL is the address of the run's environment (the pipeline file's environment url, its
	// variables resolved): an absolute http(s) URL, or "" when the run has none, or when it
	// does not resolve yet or to such an address.
	URL string
}

// Failure is the action that failed a run (or a stage).
type Failure struct {
	Stage, Action string
	// Attempt is the action's attempt number.
	Attempt int
	// Message is the action's own explanation.
	Message string
	// Provider is the action's provider (codebuild, ecs, …) and External its reference
	// (a CodeBuild build id), from which Links builds the log link.
	Provider, External string
}

// RunOf reads rec: the source variables the trigger recorded (#{source.*}), the environment,
// and the first action that failed for good, in stage order.
func RunOf(rec store.Record) Run {
	st := rec.State
	src, env := st.Namespace("source"), st.Namespace("env")
	r := Run{ID: st.Run, Pipeline: st.Pipeline, Environment: env["name"], Provider: rec.Provider,
		Repository: rec.Repo, Branch: rec.Branch, Commit: rec.Commit,
		Message: src["commit_message"], Author: src["author"]}
	if st.Seq > 0 {
		r.Number = strconv.FormatInt(st.Seq, 10)
	}
	if r.Provider == "" {
		r.Provider = src["provider"]
	}
	if st.Started > 0 {
		r.Started = engine.Time(st.Started)
	}
	r.Failure = failure(rec)
	if u, ok := st.EnvironmentURL(); ok && webAddress(u) {
		r.URL = u
	}
	for i, sg := range st.Stages {
		for j, as := range sg.Actions {
			if as.External != "" && i < len(rec.Definition.Stages) && j < len(rec.Definition.Stages[i].Actions) {
				if r.Refs == nil {
					r.Refs = map[string]string{}
				}
				r.Refs[rec.Definition.Stages[i].Name+"/"+rec.Definition.Stages[i].Actions[j].Name] = as.External
			}
		}
	}
	return r
}

// failure finds the failed action of the first failed stage. An action failed during a
// rollback is the one that counts when the stage rolled back, as in the engine's message.
func failure(rec store.Record) *Failure {
	for i, sg := range rec.State.Stages {
		if sg.Status != engine.Failed || i >= len(rec.Definition.Stages) {
			continue
		}
		def := rec.Definition.Stages[i]
		for j, as := range sg.Actions {
			if as.Status != engine.Failed || as.Rollback != sg.RollingBack || j >= len(def.Actions) {
				continue
			}
			return &Failure{Stage: def.Name, Action: def.Actions[j].Name, Attempt: as.Attempt, Message: as.Message,
				Provider: def.Actions[j].Provider, External: as.External}
		}
		return &Failure{Stage: def.Name, Message: sg.Message}
	}
	return nil
}

// Key is the commit status key of the run: the pipeline, and "/" and the environment where
// the run has one, so a pipeline deploying main to prod and a branch to its own environment
// keeps one status per target.
func (r Run) Key() string {
	if r.Environment == "" {
		return r.Pipeline
	}
	return r.Pipeline + "/" + r.Environment
}

// Title names the run for people: "api #42 (prod)".
func (r Run) Title() string {
	s := r.Pipeline
	if r.Number != "" {
		s += " #" + r.Number
	}
	if r.Environment != "" {
		s += " (" + r.Environment + ")"
	}
	return s
}

// ShortCommit is the commit's first seven characters.
func (r Run) ShortCommit() string { return r.Commit[:min(len(r.Commit), 7)] }

// webAddress reports whether s is an absolute http or https URL without credentials: what a
// commit status may link to. An environment url is checked here because its variables (a
// stack's output) are only known at the end of the run.
func webAddress(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.User == nil
}
