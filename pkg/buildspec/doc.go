// Package buildspec parses AWS CodeBuild buildspec files (version 0.2) and runs them on the
// local machine the way CodeBuild's agent would: the same phases and phase transitions, one
// shell session for the whole build, the same CODEBUILD_ variables, artifacts and reports laid
// out in a directory instead of uploaded to S3.
//
// Parse reports every problem with its position; Run executes a parsed Spec. What is
// supported, ignored or interpreted differently from CodeBuild is listed in docs/buildspec.md.
package buildspec
