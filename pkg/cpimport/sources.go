package cpimport

import (
	"fmt"
	"strings"
)

// Source actions: the repository source becomes stepline's implicit Source stage, ECR and S3
// sources become triggers, V2 trigger configurations push and pull_request triggers.

// Source variables of each kind of source action, by their stepline names. Names with no
// stepline equivalent (AuthorDate, ConnectionArn, RegistryId, …) are absent: an action using
// one is not imported.
var (
	// CodeCommit, CodeStarSourceConnection and GitHub (version 1) source actions.
	gitVars = map[string]string{"CommitId": "commit_id", "CommitMessage": "commit_message",
		"BranchName": "branch", "RepositoryName": "repository", "FullRepositoryName": "repository"}
	ecrVars = map[string]string{"RepositoryName": "image_repository", "ImageTag": "image_tag",
		"ImageDigest": "image_digest", "ImageURI": "image_uri"}
	s3Vars = map[string]string{"ETag": "object_etag", "VersionId": "object_version"}
)

// sourceKind says what a source action becomes: "git" (the implicit Source stage and push or
// pull request triggers), "ecr" (an image trigger), "s3" (an object trigger), or "".
func sourceKind(a *cpAction) string {
	switch {
	case a.category != "Source":
		return ""
	case a.provider == "CodeStarSourceConnection" || a.provider == "CodeCommit" || (a.owner == "ThirdParty" && a.provider == "GitHub"):
		return "git"
	case a.provider == "ECR":
		return "ecr"
	case a.provider == "S3":
		return "s3"
	}
	return ""
}

// source is a source action the import understood.
type source struct {
	a       *cpAction
	kind    string
	primary bool
	config  map[string]string
}

// sources maps the source actions: the first git source is the pipeline's Source; ECR and S3
// sources become triggers; others are not imported.
func (t *translation) sources(actions []*cpAction) []*source {
	var out []*source
	var primary *source
	for _, a := range actions {
		kind := sourceKind(a)
		if a.category != "Source" {
			continue
		}
		if kind == "" {
			t.im.report(a.from, RuleNotImported, "source action %s/%s (%s %s) is not imported: stepline starts runs from GitHub, Bitbucket and CodeCommit pushes and pull requests, ECR image pushes and S3 objects", a.stage, a.name, a.owner, a.provider)
			continue
		}
		s := &source{a: a, kind: kind, config: map[string]string{}}
		for _, f := range a.config.fields() {
			s.config[f.key] = t.im.text(f.val)
		}
		switch {
		case kind == "git" && primary == nil:
			s.primary = true
			primary = s
			a.orig.fixed = "Source/Source"
			t.vars[a.namespace] = gitVars
			for _, o := range a.outputs {
				t.artifacts[o] = "source"
			}
			repo := firstOf(s.config, "FullRepositoryId", "RepositoryName")
			if s.config["Owner"] != "" {
				repo = s.config["Owner"] + "/" + s.config["Repo"]
			}
			t.p.header = append(t.p.header, fmt.Sprintf("Source: %s repository %s, branch %s. Commit this file as .stepline.yml in that repository and register it (stepline repo add).",
				a.provider, repo, firstOf(s.config, "BranchName", "Branch")))
			if f := s.config["OutputArtifactFormat"]; f == "CODEBUILD_CLONE_REF" {
				t.im.report(a.config.field("OutputArtifactFormat"), RuleChanged, "full clone (CODEBUILD_CLONE_REF) is not imported: stepline's source artifact holds the commit's files without git history")
			}
		case kind == "git":
			t.im.report(a.from, RuleNotImported, "second repository source %s/%s is not imported: a stepline pipeline has one repository, its own; actions reading its artifact %s are not imported either", a.stage, a.name, strings.Join(a.outputs, ", "))
			continue
		case kind == "ecr":
			a.orig.fixed = "trigger"
			t.vars[a.namespace] = ecrVars
		case kind == "s3":
			a.orig.fixed = "trigger"
			t.vars[a.namespace] = s3Vars
		}
		out = append(out, s)
	}
	// Without a repository source, an S3 source's object stands where the source was.
	if primary == nil {
		for _, s := range out {
			if s.kind == "s3" {
				for _, o := range s.a.outputs {
					t.artifacts[o] = "source"
				}
				t.im.report(s.a.from, RuleChanged, "the S3 source's artifact is the repository's files at its default branch in stepline, not the object %s: a build reads the object from #{source.object_bucket}/#{source.object_key}", s.config["S3ObjectKey"])
				break
			}
		}
	}
	for _, s := range out {
		if s.kind == "ecr" {
			t.imageDetail(s)
		}
	}
	return out
}

func firstOf(m map[string]string, keys ...string) string {
	for _, k := range keys {
		if m[k] != "" {
			return m[k]
		}
	}
	return ""
}

// imageDetail stands in for an ECR source's artifact, imageDetail.json ({"ImageURI": …}):
// a build writes it from the pushed image's URI (pinned by digest), under the same name.
func (t *translation) imageDetail(s *source) {
	if len(s.a.outputs) == 0 {
		return
	}
	a := &outAction{name: "ImageDetail", provider: "codebuild", inputs: []string{"source"},
		outputs: []string{s.a.outputs[0]}, env: []kv{{"IMAGE_URI", "#{source.image_uri}"}},
		config: []setting{{"buildspec", "version: 0.2\nphases:\n  build:\n    commands:\n      - printf '{\"ImageURI\":\"%s\"}' \"$IMAGE_URI\" > imageDetail.json\nartifacts:\n  files:\n    - imageDetail.json\n"}}}
	a.from = s.a.from
	t.artifacts[s.a.outputs[0]] = s.a.outputs[0]
	t.imageActions = append(t.imageActions, a)
	t.im.report(s.a.from, RuleChanged, "the ECR source's artifact %s (imageDetail.json) is written by the added build Image/ImageDetail from #{source.image_uri}, which only a run an image push started has", s.a.outputs[0])
}

// triggers maps V2 trigger configurations, or the primary source's change detection, and the
// ECR and S3 sources.
func (t *translation) triggers(decl node, sources []*source) {
	var primary *source
	for _, s := range sources {
		if s.primary {
			primary = s
		}
	}
	declared := decl.field("triggers").items()
	for _, tr := range declared {
		git := tr.field("gitConfiguration")
		name := t.im.text(git.field("sourceActionName"))
		if primary == nil || name != primary.a.name {
			t.im.report(tr, RuleNotImported, "trigger on source action %q is not imported: only the pipeline's repository source (%s) starts stepline runs", name, primaryName(primary))
			continue
		}
		for _, push := range git.field("push").items() {
			ot := &outTrigger{on: "push", branches: t.filter(push.field("branches")), tags: t.filter(push.field("tags")), paths: t.filter(push.field("filePaths"))}
			ot.from = push
			if ot.branches == nil && ot.tags == nil {
				// CodePipeline needs a branch or tag filter; a bare push trigger listens to every branch.
				ot.comment = "every branch"
			}
			t.p.triggers = append(t.p.triggers, ot)
		}
		for _, pr := range git.field("pullRequest").items() {
			ot := &outTrigger{on: "pull_request", branches: t.filter(pr.field("branches")), paths: t.filter(pr.field("filePaths"))}
			ot.from = pr
			events := pr.field("events").items()
			if len(events) == 0 {
				ot.events = []string{"opened", "updated", "closed", "merged"}
			}
			for _, e := range events {
				switch ev := strings.ToUpper(t.im.text(e)); ev {
				case "OPEN":
					ot.events = appendNew(ot.events, "opened")
				case "UPDATED":
					ot.events = appendNew(ot.events, "updated")
				case "CLOSED":
					// CodePipeline's CLOSED is any closed pull request, merged or not.
					ot.events = appendNew(ot.events, "closed", "merged")
				default:
					t.im.report(e, RuleNotImported, "pull request event %q is not one of OPEN, UPDATED, CLOSED", ev)
				}
			}
			if len(ot.events) == 0 {
				ot.drop = "no pull request event left"
			}
			t.p.triggers = append(t.p.triggers, ot)
		}
	}
	if len(declared) == 0 && primary != nil && detectsChanges(primary) {
		branch := firstOf(primary.config, "BranchName", "Branch")
		ot := &outTrigger{on: "push", comment: "the source action's branch, as CodePipeline's change detection"}
		ot.from = primary.a.from
		if branch != "" {
			ot.branches = &filter{include: []string{branch}}
		}
		t.p.triggers = append(t.p.triggers, ot)
	}
	for _, s := range sources {
		switch s.kind {
		case "ecr":
			tag := s.config["ImageTag"]
			if tag == "" {
				tag = "latest" // the ECR source action's default
			}
			ot := &outTrigger{on: "image", repository: s.config["RepositoryName"], tags: &filter{include: []string{tag}}}
			ot.from = s.a.from
			t.p.triggers = append(t.p.triggers, ot)
		case "s3":
			ot := &outTrigger{on: "object", bucket: s.config["S3Bucket"]}
			if k := s.config["S3ObjectKey"]; k != "" {
				ot.keys = &filter{include: []string{k}}
			}
			ot.from = s.a.from
			t.p.triggers = append(t.p.triggers, ot)
		}
	}
}

func primaryName(s *source) string {
	if s == nil {
		return "none"
	}
	return s.a.name
}

// detectsChanges reports whether a repository source starts the pipeline by itself:
// DetectChanges (connections) defaults to true; CodeCommit and GitHub start it through
// events or polling either way.
func detectsChanges(s *source) bool {
	return !strings.EqualFold(s.config["DetectChanges"], "false")
}

func appendNew(list []string, items ...string) []string {
	for _, it := range items {
		found := false
		for _, l := range list {
			found = found || l == it
		}
		if !found {
			list = append(list, it)
		}
	}
	return list
}

func (t *translation) filter(v node) *filter {
	if !v.ok() {
		return nil
	}
	f := &filter{}
	for _, i := range v.field("includes").items() {
		f.include = append(f.include, t.im.text(i))
	}
	for _, e := range v.field("excludes").items() {
		f.exclude = append(f.exclude, t.im.text(e))
	}
	if len(f.include) == 0 && len(f.exclude) == 0 {
		return nil
	}
	return f
}
