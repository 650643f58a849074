package pipeline

import "github.com/stepline/stepline/pkg/diag"

// Rule names, printed in brackets after each problem so that a reader (or a test) can tell
// which check fired without parsing the message.
const (
	RuleSyntax     = "syntax"
	RuleUnknownKey = "unknown-key"
	RuleType       = "type"
	RuleRequired   = "required"
	RuleDuplicate  = "duplicate"
	RuleArtifact   = "artifact"
	RuleProvider   = "provider"
	RuleGlob       = "glob"
	RuleDuration   = "duration"
	RuleVariable   = "variable"
	RuleCycle      = "cycle"
	RuleValue      = "value"
	RuleWave       = "wave"
	RuleSize       = "size"
	RuleSecret     = "secret"
	// RuleRunnable: a pipeline whose actions can never all run in one place.
	RuleRunnable = "runnable"
)

// Problem is one thing wrong with a pipeline file (see diag.Problem).
type Problem = diag.Problem

// Problems is every problem found in one file; Parse returns it as its error.
type Problems = diag.Problems
