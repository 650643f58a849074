package trigger

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/stepline/stepline/pkg/pipeline"
	"github.com/stepline/stepline/pkg/scm"
)

// verdict is one filter's answer: whether it passed, the pattern (or filter) that decided,
// and a reason naming both the value and the pattern.
type verdict struct {
	ok     bool
	pos    pipeline.Pos
	reason string
}

// value applies a branches or tags filter to one name. Excludes are checked first because
// they win over includes (CodePipeline: "excludes take priority over includes"); names are
// matched as paths, so "release/*" does not match "release/1/2".
func value(what, key, v string, f *pipeline.Filter) verdict {
	if f == nil {
		return verdict{ok: true, reason: fmt.Sprintf("%s %q (no %s filter)", what, v, key)}
	}
	if s, ok := firstMatch(f.Exclude, v); ok {
		return verdict{pos: s.Pos, reason: fmt.Sprintf("%s %q is excluded by %q", what, v, s.Value)}
	}
	if len(f.Include) == 0 {
		return verdict{ok: true, pos: f.Pos, reason: fmt.Sprintf("%s %q is not excluded by %s", what, v, list(f.Exclude))}
	}
	if s, ok := firstMatch(f.Include, v); ok {
		return verdict{ok: true, pos: s.Pos, reason: fmt.Sprintf("%s %q matches %q", what, v, s.Value)}
	}
	return verdict{pos: f.Include[0].Pos, reason: fmt.Sprintf("%s %q is not included by %s", what, v, list(f.Include))}
}

// paths applies a paths filter to the event's changed files: it passes when at least one file
// is included and not excluded. An incomplete list passes, because a provider that lists only
// some files (or none) must not silently drop a build that may concern this pipeline.
func paths(ev scm.Event, f *pipeline.Filter) verdict {
	if f == nil {
		return verdict{ok: true}
	}
	if !ev.FilesComplete {
		return verdict{ok: true, pos: f.Pos, reason: "file list incomplete: paths filter assumed to match"}
	}
	var excluded, notIncluded int
	var exFile, niFile string
	var exBy pipeline.String
	for _, file := range ev.ChangedFiles {
		if s, ok := firstMatch(f.Exclude, file); ok {
			if excluded == 0 {
				exFile, exBy = file, s
			}
			excluded++
			continue
		}
		if len(f.Include) == 0 {
			return verdict{ok: true, pos: f.Pos, reason: fmt.Sprintf("path %q is not excluded by %s", file, list(f.Exclude))}
		}
		if s, ok := firstMatch(f.Include, file); ok {
			return verdict{ok: true, pos: s.Pos, reason: fmt.Sprintf("path %q matches %q", file, s.Value)}
		}
		if notIncluded == 0 {
			niFile = file
		}
		notIncluded++
	}
	n := len(ev.ChangedFiles)
	switch {
	case n == 0:
		return verdict{pos: f.Pos, reason: "no file changed, so none passes the paths filter"}
	case notIncluded == 0 && n == 1:
		return verdict{pos: exBy.Pos, reason: fmt.Sprintf("path %q is excluded by %q", exFile, exBy.Value)}
	case notIncluded == 0:
		return verdict{pos: exBy.Pos, reason: fmt.Sprintf("all %d changed files are excluded, e.g. path %q by %q", n, exFile, exBy.Value)}
	case excluded == 0 && n == 1:
		return verdict{pos: f.Include[0].Pos, reason: fmt.Sprintf("path %q is not included by %s", niFile, list(f.Include))}
	case excluded == 0:
		return verdict{pos: f.Include[0].Pos, reason: fmt.Sprintf("none of the %d changed files is included by %s, e.g. path %q", n, list(f.Include), niFile)}
	}
	return verdict{pos: exBy.Pos, reason: fmt.Sprintf("none of the %d changed files passes the paths filter: %d excluded, e.g. path %q by %q; %d not included by %s, e.g. path %q",
		n, excluded, exFile, exBy.Value, notIncluded, list(f.Include), niFile)}
}

// firstMatch returns the first pattern matching v. A malformed pattern matches nothing: the
// parser reports it as a glob problem, so it only reaches here in a file that was not checked.
func firstMatch(patterns []pipeline.String, v string) (pipeline.String, bool) {
	for _, p := range patterns {
		if ok, err := doublestar.Match(p.Value, v); ok && err == nil {
			return p, true
		}
	}
	return pipeline.String{}, false
}

// list shows patterns as a YAML flow list, quoting only those that would be ambiguous there.
func list(ss []pipeline.String) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = s.Value
		if s.Value == "" || strings.ContainsAny(s.Value, " ,[]\"'") || strings.ContainsFunc(s.Value, notPrintable) {
			parts[i] = strconv.Quote(s.Value)
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func notPrintable(r rune) bool { return !unicode.IsPrint(r) }
