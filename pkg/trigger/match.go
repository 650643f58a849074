// Package trigger decides which pipelines of a file a source event starts, and explains each
// decision in terms of the file: the trigger and the exact filter pattern that decided, with
// its position, so that a user can see why a push did or did not build.
//
// The rules are CodePipeline V2's trigger filters (push: branches, tags, file paths; pull
// request: events, target branches, file paths) plus stepline's additions: skip-ci markers,
// image and object triggers and a changed-file list that may be incomplete. docs/pipeline.md (section
// Triggers) states them for users; Match is their only implementation.
package trigger

import (
	"fmt"
	"slices"
	"strings"

	"github.com/stepline/stepline/pkg/pipeline"
	"github.com/stepline/stepline/pkg/scm"
)

// Decision says whether one pipeline runs for an event, and why.
type Decision struct {
	// Pipeline is the pipeline's name.
	Pipeline string `json:"pipeline"`
	// Run is true when a trigger matched the event.
	Run bool `json:"run"`
	// Trigger is the index in the pipeline's triggers of the trigger that decided: the one
	// that matched or, for a pipeline that does not run, the one that came closest to
	// matching. -1 when no trigger decided: a ping, a deletion, an event without a head
	// commit, a skip marker, or no trigger of the event's kind.
	Trigger int `json:"trigger"`
	// On is the deciding trigger's kind (push, pull_request, image, object); empty when
	// Trigger is -1.
	On string `json:"on,omitempty"`
	// Pos is where the decision is written in the file: the matching trigger for a pipeline
	// that runs; otherwise the pattern or key that failed, else the trigger, else (Trigger -1)
	// the pipeline.
	Pos pipeline.Pos `json:"pos"`
	// Reason is one line naming the values and the exact patterns that decided.
	Reason string `json:"reason"`
	// Environment is the name of the environment the run gets, as written in the file. It may
	// hold #{…} variables, which only the run's variables resolve (Pipeline.RunVariables), so
	// the caller expands it. Empty when the pipeline does not run or no environment matches.
	Environment string `json:"environment,omitempty"`
	// Untrusted is true when the run the decision starts is untrusted (docs/trust.md): a
	// pull request from a fork, or a trigger the file marks `trusted: false`. Its builds run
	// apart from the trusted ones, with no repository secrets, and it never deploys.
	Untrusted bool `json:"untrusted,omitempty"`
}

// MatchFile decides every pipeline of f for ev, in file order.
func MatchFile(f *pipeline.File, ev scm.Event) []Decision {
	out := make([]Decision, 0, len(f.Pipelines))
	for _, p := range f.Pipelines {
		out = append(out, Match(p, ev))
	}
	return out
}

// Match decides whether ev starts p. Rules that concern the event alone come first (pings,
// deletions, events without a head commit, skip markers); then the triggers are tried in file
// order and the first that matches decides. When none matches, the reason is the failure of
// the trigger that got furthest (first in file order among equals), since that is the one the
// author most likely meant to match.
func Match(p *pipeline.Pipeline, ev scm.Event) Decision {
	d := Decision{Pipeline: p.Name.Value, Trigger: -1, Pos: p.Pos}
	if reason := gate(ev); reason != "" {
		d.Reason = reason
		return d
	}
	best, bestAt := result{depth: -1}, -1
	for i, t := range p.Triggers {
		r := matchTrigger(t, ev)
		if r.pos.IsZero() {
			r.pos = t.Pos
		}
		if r.ok {
			d.Run, d.Trigger, d.On, d.Pos, d.Reason = true, i, t.On.Value, t.Pos, r.reason
			d.Untrusted = t.Untrusted() || isFork(ev)
			if !isFork(ev) {
				if e := p.Environment(runBranch(ev)); e != nil {
					d.Environment = e.Name.Value
				}
			}
			return d
		}
		if r.depth > best.depth {
			best, bestAt = r, i
		}
	}
	if bestAt < 0 || best.depth == missKind {
		d.Reason = noTrigger(p, ev)
		return d
	}
	d.Trigger, d.On, d.Pos, d.Reason = bestAt, p.Triggers[bestAt].On.Value, best.pos, best.reason
	return d
}

// isFork reports whether ev is a pull request from a fork: code its author wrote, whoever
// they are, which no pipeline file can make trusted.
func isFork(ev scm.Event) bool { return ev.PullRequest != nil && ev.PullRequest.Fork }

// gate applies the rules that concern the event alone, whatever the triggers say, and
// returns why the event starts nothing, or "".
func gate(ev scm.Event) string {
	switch ev.Kind {
	case scm.KindPing:
		return "a ping starts nothing"
	case scm.KindPush, scm.KindTag, scm.KindPullRequest, scm.KindImage, scm.KindObject:
	default:
		return fmt.Sprintf("event kind %q starts nothing", ev.Kind)
	}
	if ev.Deleted {
		return subject(ev) + " was deleted: a deletion starts nothing"
	}
	if ev.Kind == scm.KindImage || ev.Kind == scm.KindObject {
		// An image or an object is not a commit: heads and commit messages do not apply.
		return ""
	}
	if scm.IsZero(ev.Head()) {
		// GitHub sends a create event without a commit next to the push that carries it;
		// building on the create event would build nothing, or twice.
		return subject(ev) + " names no head commit to build"
	}
	if m := skipMarker(ev.HeadMessage()); m != "" {
		return "head commit message " + m
	}
	return ""
}

// subject names what the event happened to, for reasons.
func subject(ev scm.Event) string {
	branch, tag := refNames(ev)
	switch ev.Kind {
	case scm.KindTag:
		return fmt.Sprintf("tag %q", tag)
	case scm.KindPullRequest:
		if ev.PullRequest != nil {
			return fmt.Sprintf("pull request #%d", ev.PullRequest.Number)
		}
		return "pull request"
	case scm.KindImage:
		return fmt.Sprintf("image %q", ev.Repository.FullName+":"+ev.Tag)
	case scm.KindObject:
		if ev.Object != nil {
			return fmt.Sprintf("object %q", "s3://"+ev.Object.Bucket+"/"+ev.Object.Key)
		}
		return "object"
	}
	return fmt.Sprintf("branch %q", branch)
}

// refNames returns the event's branch and tag, falling back to its ref for providers that
// fill only the ref.
func refNames(ev scm.Event) (branch, tag string) {
	branch, tag = ev.Branch, ev.Tag
	if ev.Ref != "" && branch == "" && tag == "" {
		branch, tag = scm.ShortRef(ev.Ref)
	}
	return branch, tag
}

// runBranch is the branch a run of ev builds, the one its environment is chosen by: a pull
// request builds its source branch. A fork's pull request gets no environment at all: its
// branch names a branch of the fork, not of this repository.
func runBranch(ev scm.Event) string {
	branch, _ := refNames(ev)
	if branch == "" && ev.PullRequest != nil {
		return ev.PullRequest.SourceBranch
	}
	return branch
}

// noTrigger explains a pipeline none of whose triggers is of the event's kind.
func noTrigger(p *pipeline.Pipeline, ev scm.Event) string {
	if len(p.Triggers) == 0 {
		return "the pipeline has no triggers: it starts only by hand"
	}
	var kinds []string
	for _, t := range p.Triggers {
		if !slices.Contains(kinds, t.On.Value) {
			kinds = append(kinds, t.On.Value)
		}
	}
	return fmt.Sprintf("no trigger listens to %s (the pipeline's triggers: %s)", eventNoun(ev), strings.Join(kinds, ", "))
}

func eventNoun(ev scm.Event) string {
	switch ev.Kind {
	case scm.KindTag:
		return "tag pushes"
	case scm.KindPullRequest:
		return "pull requests"
	case scm.KindImage:
		return "image pushes"
	case scm.KindObject:
		return "object creations"
	}
	return "branch pushes"
}
