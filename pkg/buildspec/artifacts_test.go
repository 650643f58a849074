package buildspec

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRunCollectsArtifacts covers UPLOAD_ARTIFACTS: matching, layout and reports.
func TestRunCollectsArtifacts(t *testing.T) {
	t.Parallel()
	runCases(t, []runCase{
		{
			// Buildspec reference, artifacts/base-directory: files are relative to it and the
			// base directory itself is not part of the artifact.
			name:       "artifact files are taken relative to base-directory",
			yaml:       "version: 0.2\nphases:\n  build:\n    commands: [\"true\"]\nartifacts:\n  files: ['**/*']\n  base-directory: build\n",
			files:      map[string]string{"build/app/bin": "b", "build/app/lib/x.so": "x", "other.txt": "o"},
			wantStatus: StatusSucceeded,
			check: func(t *testing.T, b testBuild) {
				require.Len(t, b.res.Artifacts, 1)
				assert.Equal(t, []string{"app/bin", "app/lib/x.so"}, b.res.Artifacts[0].Files)
				assertFile(t, filepath.Join(b.out, "artifacts", "artifact", "app", "lib", "x.so"), "x")
			},
		},
		{
			// Buildspec reference, artifacts/base-directory: the documented example with a
			// `*/my-file3.txt` pattern.
			name:       "a single star in files does not cross directories",
			yaml:       "version: 0.2\nphases:\n  build:\n    commands: [\"true\"]\nartifacts:\n  files: ['*/my-file3.txt', 'my-subdirectory/*']\n  base-directory: my-build2\n",
			files:      map[string]string{"my-build1/my-file1.txt": "1", "my-build2/my-file2.txt": "2", "my-build2/my-subdirectory/my-file3.txt": "3", "my-build2/my-subdirectory/deep/my-file4.txt": "4"},
			wantStatus: StatusSucceeded,
			check: func(t *testing.T, b testBuild) {
				assert.Equal(t, []string{"my-subdirectory/my-file3.txt"}, b.res.Artifacts[0].Files)
			},
		},
		{
			// Buildspec reference, artifacts/base-directory: 'my-build*' with discard-paths
			// gives my-file1.txt, my-file2.txt and my-file3.txt.
			name:       "a base-directory glob takes every matching top-level directory",
			yaml:       "version: 0.2\nphases:\n  build:\n    commands: [\"true\"]\nartifacts:\n  files: ['**/*']\n  base-directory: 'my-build*'\n  discard-paths: yes\n",
			files:      map[string]string{"my-build1/my-file1.txt": "1", "my-build2/my-file2.txt": "2", "my-build2/my-subdirectory/my-file3.txt": "3", "other/x.txt": "x"},
			wantStatus: StatusSucceeded,
			check: func(t *testing.T, b testBuild) {
				assert.Equal(t, []string{"my-file1.txt", "my-file2.txt", "my-file3.txt"}, b.res.Artifacts[0].Files)
			},
		},
		{
			// Buildspec reference, artifacts/discard-paths: com/mycompany/app/HelloWorld.java
			// is placed at /HelloWorld.java.
			name:       "discard-paths flattens the artifact",
			yaml:       "version: 0.2\nphases:\n  build:\n    commands: [\"true\"]\nartifacts:\n  files: ['com/**/*']\n  discard-paths: yes\n",
			files:      map[string]string{"com/mycompany/app/HelloWorld.java": "j", "com/mycompany/Other.java": "o"},
			wantStatus: StatusSucceeded,
			check: func(t *testing.T, b testBuild) {
				assert.Equal(t, []string{"HelloWorld.java", "Other.java"}, b.res.Artifacts[0].Files)
				assertFile(t, filepath.Join(b.out, "artifacts", "artifact", "HelloWorld.java"), "j")
			},
		},
		{
			// Buildspec reference, artifacts/exclude-paths: paths relative to base-directory,
			// with * and ** as in files.
			name:       "exclude-paths removes matching files and whole directories",
			yaml:       "version: 0.2\nphases:\n  build:\n    commands: [\"true\"]\nartifacts:\n  files: ['**/*']\n  base-directory: web\n  exclude-paths: ['**/*.map', node_modules]\n",
			files:      map[string]string{"web/index.html": "i", "web/js/app.js": "a", "web/js/app.js.map": "m", "web/node_modules/x/index.js": "n"},
			wantStatus: StatusSucceeded,
			check: func(t *testing.T, b testBuild) {
				assert.Equal(t, []string{"index.html", "js/app.js"}, b.res.Artifacts[0].Files)
			},
		},
		{
			// Buildspec reference, artifacts/name (evaluated with the shell at build time) and
			// secondary-artifacts (one output per identifier).
			name: "the primary artifact is named by the shell and secondary artifacts by identifier",
			yaml: `version: 0.2
phases:
  build:
    commands:
      - VERSION=1.2
artifacts:
  files: [bin/app]
  name: app-$VERSION
  secondary-artifacts:
    docs:
      files: ['**/*.md']
      base-directory: docs
    checksums:
      files: [SHA256SUMS]
`,
			files:      map[string]string{"bin/app*": "#!/bin/sh\n", "docs/a.md": "a", "docs/sub/b.md": "b", "SHA256SUMS": "s"},
			wantStatus: StatusSucceeded,
			check: func(t *testing.T, b testBuild) {
				require.Len(t, b.res.Artifacts, 3)
				assert.Equal(t, ArtifactResult{Name: "app-1.2", Dir: filepath.Join(b.out, "artifacts", "app-1.2"), Files: []string{"bin/app"}}, b.res.Artifacts[0])
				assert.Equal(t, ArtifactResult{Name: "docs", Dir: filepath.Join(b.out, "artifacts", "docs"), Files: []string{"a.md", "sub/b.md"}}, b.res.Artifacts[1])
				assert.Equal(t, "checksums", b.res.Artifacts[2].Name)
				fi, err := os.Stat(filepath.Join(b.out, "artifacts", "app-1.2", "bin", "app"))
				require.NoError(t, err)
				assert.Equal(t, os.FileMode(0o755), fi.Mode().Perm(), "file mode is preserved")
			},
		},
		{
			// CodeBuild fails UPLOAD_ARTIFACTS with CLIENT_ERROR "no matching artifact paths
			// found" when the file list is empty (see docs/buildspec.md for the log it matches).
			name:       "artifact files that match nothing fail the upload and the build",
			yaml:       "version: 0.2\nphases:\n  build:\n    commands: [\"true\"]\nartifacts:\n  files: [missing.txt]\n",
			wantStatus: StatusFailed,
			wantPhases: "INSTALL:SUCCEEDED PRE_BUILD:SUCCEEDED BUILD:SUCCEEDED POST_BUILD:SUCCEEDED UPLOAD_ARTIFACTS:FAILED",
			wantLines:  []string{},
			check: func(t *testing.T, b testBuild) {
				up := phase(b.res, PhaseUploadArtifacts)
				assert.Equal(t, "no matching artifact paths found", up.Message)
				assert.Equal(t, codeClientError, up.Code)
				assert.Contains(t, b.log, "Skipping invalid file path missing.txt\n")
				assert.Contains(t, b.log, "Phase context status code: CLIENT_ERROR Message: no matching artifact paths found\n")
			},
		},
		{
			// The agent skips a path that matches nothing and fails only when nothing at all
			// matched.
			name:       "a path that matches nothing is skipped when another path matches",
			yaml:       "version: 0.2\nphases:\n  build:\n    commands: [\"true\"]\nartifacts:\n  files: [missing.txt, a.txt]\n",
			files:      map[string]string{"a.txt": "a"},
			wantStatus: StatusSucceeded,
			wantPhases: allSucceeded,
		},
		{
			name:       "a literal directory in files takes the whole directory",
			yaml:       "version: 0.2\nphases:\n  build:\n    commands: [\"true\"]\nartifacts:\n  files: [dist]\n",
			files:      map[string]string{"dist/a.js": "a", "dist/css/b.css": "b"},
			wantStatus: StatusSucceeded,
			check: func(t *testing.T, b testBuild) {
				assert.Equal(t, []string{"dist/a.js", "dist/css/b.css"}, b.res.Artifacts[0].Files)
			},
		},
		{
			// Buildspec reference, artifacts/enable-symlinks: with yes, symbolic links are
			// kept as links.
			name:       "enable-symlinks keeps links as links",
			yaml:       "version: 0.2\nphases:\n  build:\n    commands: [\"ln -s target.txt link.txt\"]\nartifacts:\n  files: ['*.txt']\n  enable-symlinks: yes\n",
			files:      map[string]string{"target.txt": "t"},
			wantStatus: StatusSucceeded,
			check: func(t *testing.T, b testBuild) {
				link, err := os.Readlink(filepath.Join(b.out, "artifacts", "artifact", "link.txt"))
				require.NoError(t, err)
				assert.Equal(t, "target.txt", link)
			},
		},
		{
			name:       "without enable-symlinks a link is copied as the file it points to",
			yaml:       "version: 0.2\nphases:\n  build:\n    commands: [\"ln -s target.txt link.txt\"]\nartifacts:\n  files: ['*.txt']\n",
			files:      map[string]string{"target.txt": "t"},
			wantStatus: StatusSucceeded,
			check: func(t *testing.T, b testBuild) {
				fi, err := os.Lstat(filepath.Join(b.out, "artifacts", "artifact", "link.txt"))
				require.NoError(t, err)
				assert.True(t, fi.Mode().IsRegular())
				assertFile(t, filepath.Join(b.out, "artifacts", "artifact", "link.txt"), "t")
			},
		},
		{
			// Buildspec reference, reports: files relative to base-directory, one report group
			// each; a report group name may be an ARN.
			name: "reports are collected per group and a group without files is a warning",
			yaml: `version: 0.2
phases:
  build:
    commands: ["true"]
reports:
  arn:aws:codebuild:eu-west-1:123456789012:report-group/unit:
    files: ['**/*.xml']
    base-directory: reports
  coverage:
    files: [coverage.xml]
    file-format: COBERTURAXML
`,
			files:      map[string]string{"reports/a.xml": "a", "reports/sub/b.xml": "b"},
			wantStatus: StatusSucceeded,
			wantPhases: allSucceeded,
			check: func(t *testing.T, b testBuild) {
				require.Len(t, b.res.Reports, 1)
				assert.Equal(t, ReportResult{
					Name:       "arn:aws:codebuild:eu-west-1:123456789012:report-group/unit",
					Dir:        filepath.Join(b.out, "reports", "unit"),
					Files:      []string{"a.xml", "sub/b.xml"},
					FileFormat: "JUNITXML",
				}, b.res.Reports[0])
				assert.Equal(t, []string{"report group coverage: no matching artifact paths found"}, b.res.Warnings)
			},
		},
		{
			name:       "without an output directory artifacts are matched but not copied",
			yaml:       "version: 0.2\nphases:\n  build:\n    commands: [\"true\"]\nartifacts:\n  files: [a.txt]\n",
			files:      map[string]string{"a.txt": "a"},
			opts:       func(o *Options) { o.OutDir = "" },
			wantStatus: StatusSucceeded,
			check: func(t *testing.T, b testBuild) {
				assert.Equal(t, []ArtifactResult{{Name: "artifact", Files: []string{"a.txt"}}}, b.res.Artifacts)
			},
		},
		{
			name:       "an output directory inside the source is never packed into the artifact",
			yaml:       "version: 0.2\nphases:\n  build:\n    commands: [\"true\"]\nartifacts:\n  files: ['**/*']\n",
			files:      map[string]string{"a.txt": "a", "out/artifacts/artifact/old.txt": "stale"},
			opts:       func(o *Options) { o.OutDir = filepath.Join(o.SrcDir, "out") },
			wantStatus: StatusSucceeded,
			check: func(t *testing.T, b testBuild) {
				assert.Equal(t, []string{"a.txt"}, b.res.Artifacts[0].Files)
			},
		},
	})
}
