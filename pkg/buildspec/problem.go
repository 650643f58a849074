package buildspec

import "github.com/stepline/stepline/pkg/diag"

// Problem is one reason a buildspec cannot be used (see diag.Problem).
type Problem = diag.Problem

// Warning is something in a buildspec that is valid but has no effect locally (or a different
// one than on CodeBuild); it is positioned and printed like a Problem.
type Warning = diag.Problem

// Errors is every problem found in a buildspec. Parse reports all of them at once so a user
// fixes a file in one round instead of one error per run.
type Errors = diag.Problems
