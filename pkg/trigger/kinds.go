package trigger

import (
	"fmt"
	"slices"
	"strings"

	"github.com/stepline/stepline/pkg/pipeline"
	"github.com/stepline/stepline/pkg/scm"
)

// How far a trigger got before it failed. The deepest failure explains a pipeline that does
// not run: "branch is not included" says more than "this trigger is for pull requests".
const (
	// missKind: the trigger listens to another kind of event.
	missKind = iota
	// missListen: the right kind, but not this sort of it: a tag-only push trigger and a
	// branch push, a pull request action not in events, another image repository or bucket.
	missListen
	// missName: the branch, target branch or tag filter.
	missName
	// missPaths: the paths filter.
	missPaths
)

// result is one trigger's answer for an event.
type result struct {
	ok     bool
	depth  int
	pos    pipeline.Pos
	reason string
}

func miss(depth int, pos pipeline.Pos, reason string) result {
	return result{depth: depth, pos: pos, reason: reason}
}

// hit joins the reasons of every filter that passed, so a run names what let it through.
func hit(parts ...string) result {
	parts = slices.DeleteFunc(parts, func(s string) bool { return s == "" })
	return result{ok: true, reason: strings.Join(parts, "; ")}
}

func matchTrigger(t *pipeline.Trigger, ev scm.Event) result {
	switch {
	case t.On.Value == pipeline.OnPush && (ev.Kind == scm.KindPush || ev.Kind == scm.KindTag):
		return matchPush(t, ev)
	case t.On.Value == pipeline.OnPullRequest && ev.Kind == scm.KindPullRequest:
		return matchPullRequest(t, ev)
	case t.On.Value == pipeline.OnImage && ev.Kind == scm.KindImage:
		return matchImage(t, ev)
	case t.On.Value == pipeline.OnObject && ev.Kind == scm.KindObject:
		return matchObject(t, ev)
	}
	// Schedule triggers land here too: EventBridge starts them, never a webhook.
	return miss(missKind, t.On.Pos, fmt.Sprintf("a %s trigger does not listen to %s", t.On.Value, eventNoun(ev)))
}

// matchPush follows CodePipeline's valid push filter combinations (tags; branches; branches
// and file paths): a trigger with tags listens to tag pushes, one with branches or without
// tags to branch pushes, and paths never apply to a tag, which changes no file.
func matchPush(t *pipeline.Trigger, ev scm.Event) result {
	branch, tag := refNames(ev)
	if ev.Kind == scm.KindTag {
		if t.Tags == nil {
			return miss(missListen, listenPos(t), fmt.Sprintf("tag %q: the trigger has no tags filter, so it listens to branch pushes only", tag))
		}
		v := value("tag", "tags", tag, t.Tags)
		if !v.ok {
			return miss(missName, v.pos, v.reason)
		}
		note := ""
		if t.Paths != nil {
			note = "paths do not apply to tag pushes"
		}
		return hit(v.reason, note)
	}
	if t.Branches == nil && t.Tags != nil {
		return miss(missListen, t.Tags.Pos, fmt.Sprintf("branch %q: the trigger has tags but no branches filter, so it listens to tag pushes only", branch))
	}
	v := value("branch", "branches", branch, t.Branches)
	if !v.ok {
		return miss(missName, v.pos, v.reason)
	}
	pv := paths(ev, t.Paths)
	if !pv.ok {
		return miss(missPaths, pv.pos, pv.reason)
	}
	return hit(v.reason, pv.reason)
}

// listenPos points at what makes a push trigger a branch trigger: its branches filter, or the
// trigger itself when it has none.
func listenPos(t *pipeline.Trigger) pipeline.Pos {
	if t.Branches != nil {
		return t.Branches.Pos
	}
	return t.Pos
}

func matchPullRequest(t *pipeline.Trigger, ev scm.Event) result {
	pr := ev.PullRequest
	if pr == nil {
		pr = &scm.PullRequest{}
	}
	if !slices.ContainsFunc(t.Events, func(e pipeline.String) bool { return e.Value == pr.Action }) {
		reason := fmt.Sprintf("pull request action %q is not one of %s", pr.Action, list(t.Events))
		if len(t.Events) > 0 && t.Events[0].Pos.IsZero() {
			reason += " (the default events)"
		}
		return miss(missListen, eventsPos(t), reason)
	}
	v := value("target branch", "branches", pr.TargetBranch, t.Branches)
	if !v.ok {
		return miss(missName, v.pos, v.reason)
	}
	pv := paths(ev, t.Paths)
	if !pv.ok {
		return miss(missPaths, pv.pos, pv.reason)
	}
	return hit(fmt.Sprintf("action %q is one of %s", pr.Action, list(t.Events)), v.reason, pv.reason)
}

// eventsPos is the first written event; the default events were not written, so the trigger.
func eventsPos(t *pipeline.Trigger) pipeline.Pos {
	if len(t.Events) > 0 && !t.Events[0].Pos.IsZero() {
		return t.Events[0].Pos
	}
	return t.Pos
}

// matchImage compares the ECR repository name exactly: it is a name, not a path to glob.
func matchImage(t *pipeline.Trigger, ev scm.Event) result {
	repo := ev.Repository.FullName
	if repo != t.Repository.Value {
		return miss(missListen, t.Repository.Pos, fmt.Sprintf("image repository %q is not %q", repo, t.Repository.Value))
	}
	if ev.Tag == "" && t.Tags != nil {
		// An image pushed by digest alone has no tag; a tags filter asks for one, and the
		// empty name would otherwise pass patterns such as "*" or an exclude-only filter.
		return miss(missName, t.Tags.Pos, "the image was pushed without a tag, and the trigger filters tags")
	}
	v := value("image tag", "tags", ev.Tag, t.Tags)
	if !v.ok {
		return miss(missName, v.pos, v.reason)
	}
	return hit(fmt.Sprintf("image repository %q", repo), v.reason)
}

// matchObject compares the bucket exactly, as matchImage does the repository, and filters the
// key as a path: "releases/*.zip" stays in one folder, "releases/**" goes down.
func matchObject(t *pipeline.Trigger, ev scm.Event) result {
	obj := ev.Object
	if obj == nil {
		obj = &scm.Object{}
	}
	if obj.Bucket != t.Bucket.Value {
		return miss(missListen, t.Bucket.Pos, fmt.Sprintf("bucket %q is not %q", obj.Bucket, t.Bucket.Value))
	}
	v := value("object key", "keys", obj.Key, t.Keys)
	if !v.ok {
		return miss(missName, v.pos, v.reason)
	}
	return hit(fmt.Sprintf("bucket %q", obj.Bucket), v.reason)
}
