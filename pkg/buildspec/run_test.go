package buildspec

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// syncBuffer is a log sink safe to read while a build writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// build is what a test gets back from running a buildspec.
type testBuild struct {
	res *Result
	log string
	src string
	out string
}

// runYAML parses yaml and runs it in a fresh source directory holding files (a path ending in
// "*" is created executable).
func runYAML(t *testing.T, yaml string, files map[string]string, mod func(*Options)) testBuild {
	t.Helper()
	spec, _, err := Parse("buildspec.yml", []byte(yaml))
	require.NoError(t, err)
	src, out := t.TempDir(), t.TempDir()
	writeFiles(t, src, files)
	var log syncBuffer
	opts := Options{SrcDir: src, OutDir: out, Log: &log, BuildID: "local:test"}
	if mod != nil {
		mod(&opts)
	}
	res, err := Run(context.Background(), spec, opts)
	require.NoError(t, err, "log:\n%s", log.String())
	return testBuild{res: res, log: log.String(), src: src, out: out}
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, "*") {
			name, mode = strings.TrimSuffix(name, "*"), 0o755
		}
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), mode))
	}
}

// phases renders phase statuses compactly: "INSTALL:SUCCEEDED BUILD:FAILED …".
func phases(r *Result) string {
	var parts []string
	for _, p := range r.Phases {
		parts = append(parts, string(p.Name)+":"+string(p.Status))
	}
	return strings.Join(parts, " ")
}

func phase(r *Result, name PhaseName) PhaseResult {
	for _, p := range r.Phases {
		if p.Name == name {
			return p
		}
	}
	return PhaseResult{}
}

// assertLines checks that each wanted line appears as a whole line of the log, in order.
func assertLines(t *testing.T, log string, want ...string) {
	t.Helper()
	lines := strings.Split(log, "\n")
	i := 0
	for _, w := range want {
		for i < len(lines) && lines[i] != w {
			i++
		}
		if i == len(lines) {
			t.Errorf("log lacks line %q (in this order); log:\n%s", w, log)
			return
		}
		i++
	}
}

const allSucceeded = "INSTALL:SUCCEEDED PRE_BUILD:SUCCEEDED BUILD:SUCCEEDED POST_BUILD:SUCCEEDED UPLOAD_ARTIFACTS:SUCCEEDED"

// runCase is one buildspec run and what must come of it.
type runCase struct {
	name        string
	yaml        string
	files       map[string]string
	opts        func(*Options)
	wantStatus  Status
	wantPhases  string
	wantLines   []string
	absentLines []string
	check       func(t *testing.T, b testBuild)
}

func runCases(t *testing.T, tests []runCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := runYAML(t, tt.yaml, tt.files, tt.opts)
			assert.Equal(t, tt.wantStatus, b.res.Status, "log:\n%s", b.log)
			if tt.wantPhases != "" {
				assert.Equal(t, tt.wantPhases, phases(b.res))
			}
			assertLines(t, b.log, tt.wantLines...)
			for _, l := range tt.absentLines {
				assert.NotContains(t, strings.Split(b.log, "\n"), l)
			}
			if tt.check != nil {
				tt.check(t, b)
			}
		})
	}
}

// TestRun covers the shell session, the environment and the phase transitions.
func TestRun(t *testing.T) {
	t.Parallel()
	runCases(t, []runCase{
		{
			// Buildspec reference, phases: in 0.2 a command may rely on the state of previous
			// commands, such as variables set, across commands and phases.
			name: "variables set by one command are seen by later commands and phases",
			yaml: `version: 0.2
phases:
  install:
    commands:
      - A=one
      - export B=two
  build:
    commands:
      - echo "A=$A B=$B"
      - sh -c 'echo "child B=$B A=${A:-unset}"'
`,
			wantStatus: StatusSucceeded,
			wantPhases: allSucceeded,
			wantLines:  []string{"A=one B=two", "child B=two A=unset"},
		},
		{
			// Buildspec reference, phases: 0.2 keeps changing directories across commands.
			name: "a cd in one phase sets the directory of the later phases",
			yaml: `version: 0.2
phases:
  install:
    commands:
      - mkdir -p sub/deeper && cd sub
  pre_build:
    commands:
      - cd deeper
  build:
    commands:
      - echo "dir=${PWD#$CODEBUILD_SRC_DIR}"
`,
			wantStatus: StatusSucceeded,
			wantLines:  []string{"dir=/sub/deeper"},
		},
		{
			name: "a shell function defined in install can be called in post_build",
			yaml: `version: 0.2
phases:
  install:
    commands:
      - greet() { echo "hello $1"; }
  post_build:
    commands:
      - greet world
`,
			wantStatus: StatusSucceeded,
			wantLines:  []string{"hello world"},
		},
		{
			// Buildspec reference, commands: CodeBuild skips the remaining commands of a phase
			// after one fails. A command that exits the shell must not lose the state that
			// later phases depend on.
			name: "exit inside a command fails it and later phases keep the variables and directory",
			yaml: `version: 0.2
phases:
  build:
    commands:
      - mkdir sub; X=kept; cd sub
      - exit 3
      - echo not-run
  post_build:
    commands:
      - echo "X=$X dir=$(basename "$PWD") succeeding=$CODEBUILD_BUILD_SUCCEEDING"
`,
			wantStatus:  StatusFailed,
			wantPhases:  "INSTALL:SUCCEEDED PRE_BUILD:SUCCEEDED BUILD:FAILED POST_BUILD:SUCCEEDED UPLOAD_ARTIFACTS:SUCCEEDED",
			wantLines:   []string{"X=kept dir=sub succeeding=0"},
			absentLines: []string{"not-run"},
			check: func(t *testing.T, b testBuild) {
				assert.Equal(t, "Error while executing command: exit 3. Reason: exit status 3", phase(b.res, PhaseBuild).Message)
				assert.Equal(t, codeCommandError, phase(b.res, PhaseBuild).Code)
			},
		},
		{
			name: "set -e ends a command at its first failing line and the next phase still runs",
			yaml: `version: 0.2
phases:
  build:
    commands:
      - set -e
      - Y=before; false; echo not-run
  post_build:
    commands:
      - echo "Y=$Y"
`,
			wantStatus:  StatusFailed,
			wantPhases:  "INSTALL:SUCCEEDED PRE_BUILD:SUCCEEDED BUILD:FAILED POST_BUILD:SUCCEEDED UPLOAD_ARTIFACTS:SUCCEEDED",
			wantLines:   []string{"Y=before"},
			absentLines: []string{"not-run"},
			check: func(t *testing.T, b testBuild) {
				assert.Equal(t, "Error while executing command: Y=before; false; echo not-run. Reason: exit status 1", phase(b.res, PhaseBuild).Message)
			},
		},
		{
			// Build phase transitions: a failed INSTALL goes to FINALIZING; pre_build, build,
			// post_build and UPLOAD_ARTIFACTS do not run.
			name:        "a failure in install skips every later phase including the upload",
			yaml:        "version: 0.2\nphases:\n  install:\n    commands: [\"false\"]\n  pre_build:\n    commands: [echo not-run]\n  build:\n    commands: [echo not-run]\n  post_build:\n    commands: [echo not-run]\nartifacts:\n  files: [a.txt]\n",
			files:       map[string]string{"a.txt": "a"},
			wantStatus:  StatusFailed,
			wantPhases:  "INSTALL:FAILED PRE_BUILD:SKIPPED BUILD:SKIPPED POST_BUILD:SKIPPED UPLOAD_ARTIFACTS:SKIPPED",
			absentLines: []string{"not-run"},
			check: func(t *testing.T, b testBuild) {
				assert.Empty(t, b.res.Artifacts)
			},
		},
		{
			// Build phase transitions: a failed PRE_BUILD also goes straight to FINALIZING.
			name:        "a failure in pre_build skips build, post_build and the upload",
			yaml:        "version: 0.2\nphases:\n  pre_build:\n    commands: [\"exit 7\"]\n  build:\n    commands: [echo not-run]\n  post_build:\n    commands: [echo not-run]\nartifacts:\n  files: [a.txt]\n",
			files:       map[string]string{"a.txt": "a"},
			wantStatus:  StatusFailed,
			wantPhases:  "INSTALL:SUCCEEDED PRE_BUILD:FAILED BUILD:SKIPPED POST_BUILD:SKIPPED UPLOAD_ARTIFACTS:SKIPPED",
			absentLines: []string{"not-run"},
		},
		{
			// Build phase transitions: a failed BUILD goes on to POST_BUILD, and
			// UPLOAD_ARTIFACTS "is always attempted, even if the BUILD phase fails";
			// CODEBUILD_BUILD_SUCCEEDING is 0 once the build is failing.
			name: "a failure in build still runs post_build with CODEBUILD_BUILD_SUCCEEDING=0 and uploads artifacts",
			yaml: `version: 0.2
phases:
  pre_build:
    commands:
      - echo "pre=$CODEBUILD_BUILD_SUCCEEDING"
  build:
    commands:
      - echo partial > a.txt
      - exit 1
  post_build:
    commands:
      - echo "post=$CODEBUILD_BUILD_SUCCEEDING"
artifacts:
  files: [a.txt]
`,
			wantStatus: StatusFailed,
			wantPhases: "INSTALL:SUCCEEDED PRE_BUILD:SUCCEEDED BUILD:FAILED POST_BUILD:SUCCEEDED UPLOAD_ARTIFACTS:SUCCEEDED",
			wantLines:  []string{"pre=1", "post=0"},
			check: func(t *testing.T, b testBuild) {
				require.Len(t, b.res.Artifacts, 1)
				assert.Equal(t, []string{"a.txt"}, b.res.Artifacts[0].Files)
				assertFile(t, filepath.Join(b.out, "artifacts", "artifact", "a.txt"), "partial\n")
			},
		},
		{
			// Build phase transitions: a failed POST_BUILD still goes to UPLOAD_ARTIFACTS.
			name:       "a failure in post_build still uploads artifacts",
			yaml:       "version: 0.2\nphases:\n  post_build:\n    commands: [\"false\"]\nartifacts:\n  files: [a.txt]\n",
			files:      map[string]string{"a.txt": "a"},
			wantStatus: StatusFailed,
			wantPhases: "INSTALL:SUCCEEDED PRE_BUILD:SUCCEEDED BUILD:SUCCEEDED POST_BUILD:FAILED UPLOAD_ARTIFACTS:SUCCEEDED",
			check: func(t *testing.T, b testBuild) {
				require.Len(t, b.res.Artifacts, 1)
			},
		},
		{
			// Buildspec reference, finally: "if the commands block contains three commands
			// and the first fails, CodeBuild skips the remaining two commands and runs any
			// commands in the finally block".
			name: "finally runs after a failed command and sees the build failing",
			yaml: `version: 0.2
phases:
  build:
    commands:
      - echo first
      - "false"
      - echo not-run
    finally:
      - echo "finally=$CODEBUILD_BUILD_SUCCEEDING"
      - echo finally-2
`,
			wantStatus:  StatusFailed,
			wantLines:   []string{"first", "finally=0", "finally-2"},
			absentLines: []string{"not-run"},
			check: func(t *testing.T, b testBuild) {
				assert.Equal(t, "Error while executing command: false. Reason: exit status 1", phase(b.res, PhaseBuild).Message)
			},
		},
		{
			// Buildspec reference, finally: the phase succeeds only when all commands in the
			// commands and finally blocks succeed.
			name: "a failing finally command fails a phase whose commands succeeded",
			yaml: `version: 0.2
phases:
  build:
    commands:
      - echo ok
    finally:
      - exit 2
      - echo not-run
  post_build:
    commands:
      - echo post-ran
`,
			wantStatus:  StatusFailed,
			wantPhases:  "INSTALL:SUCCEEDED PRE_BUILD:SUCCEEDED BUILD:FAILED POST_BUILD:SUCCEEDED UPLOAD_ARTIFACTS:SUCCEEDED",
			wantLines:   []string{"ok", "post-ran"},
			absentLines: []string{"not-run"},
		},
		{
			// Buildspec reference, on-failure: CONTINUE continues to the next phase. The
			// failed phase still fails the build.
			name: "on-failure CONTINUE in install runs the later phases but the build fails",
			yaml: `version: 0.2
phases:
  install:
    on-failure: CONTINUE
    commands:
      - "false"
  build:
    commands:
      - echo "build-ran succeeding=$CODEBUILD_BUILD_SUCCEEDING"
artifacts:
  files: [a.txt]
`,
			files:      map[string]string{"a.txt": "a"},
			wantStatus: StatusFailed,
			wantPhases: "INSTALL:FAILED PRE_BUILD:SUCCEEDED BUILD:SUCCEEDED POST_BUILD:SUCCEEDED UPLOAD_ARTIFACTS:SUCCEEDED",
			wantLines:  []string{"build-ran succeeding=0"},
		},
		{
			// Buildspec reference, on-failure: ABORT aborts the build, unlike an absent
			// on-failure, which would go on to post_build after a build failure.
			name:        "on-failure ABORT in build skips post_build and the upload",
			yaml:        "version: 0.2\nphases:\n  build:\n    on-failure: ABORT\n    commands: [\"false\"]\n  post_build:\n    commands: [echo not-run]\nartifacts:\n  files: [a.txt]\n",
			files:       map[string]string{"a.txt": "a"},
			wantStatus:  StatusFailed,
			wantPhases:  "INSTALL:SUCCEEDED PRE_BUILD:SUCCEEDED BUILD:FAILED POST_BUILD:SKIPPED UPLOAD_ARTIFACTS:SKIPPED",
			absentLines: []string{"not-run"},
		},
		{
			name:        "on-failure RETRY runs once and then aborts like ABORT, with a warning",
			yaml:        "version: 0.2\nphases:\n  build:\n    on-failure: RETRY-2\n    commands: [\"echo attempt\", \"false\"]\n  post_build:\n    commands: [echo not-run]\n",
			wantStatus:  StatusFailed,
			wantPhases:  "INSTALL:SUCCEEDED PRE_BUILD:SUCCEEDED BUILD:FAILED POST_BUILD:SKIPPED UPLOAD_ARTIFACTS:SKIPPED",
			absentLines: []string{"not-run"},
			check: func(t *testing.T, b testBuild) {
				assert.Equal(t, 1, strings.Count(b.log, "\nattempt\n"))
				require.Len(t, b.res.Warnings, 1)
				assert.Contains(t, b.res.Warnings[0], "retries are not supported locally")
			},
		},
		{
			// Buildspec reference, env/variables: the start build call takes precedence over
			// the buildspec's declaration.
			name: "environment overrides win over env.variables",
			yaml: `version: 0.2
env:
  variables:
    A: from-spec
    B: from-spec
phases:
  build:
    commands:
      - echo "A=$A B=$B C=$C"
`,
			opts:       func(o *Options) { o.Env = []string{"A=from-override", "C=only-override"} },
			wantStatus: StatusSucceeded,
			wantLines:  []string{"A=from-override B=from-spec C=only-override"},
		},
		{
			// Buildspec reference, env/variables: a value such as $PATH:/x replaces PATH with
			// the literal text; it is not expanded.
			name:       "env.variables values are literal text, not shell expansions",
			yaml:       "version: 0.2\nenv:\n  variables:\n    P: \"$HOME/x\"\nphases:\n  build:\n    commands:\n      - echo \"P=$P\"\n",
			wantStatus: StatusSucceeded,
			wantLines:  []string{"P=$HOME/x"},
		},
		{
			// Buildspec reference, env/exported-variables: values can change until post_build
			// ends, then they are fixed.
			name: "exported variables take their values from the end of post_build",
			yaml: `version: 0.2
env:
  exported-variables: [VERSION, LATE, NEVER]
phases:
  build:
    commands:
      - export VERSION=1.0
  post_build:
    commands:
      - VERSION=1.2; LATE="two words"
`,
			wantStatus: StatusSucceeded,
			check: func(t *testing.T, b testBuild) {
				assert.Equal(t, map[string]string{"VERSION": "1.2", "LATE": "two words", "NEVER": ""}, b.res.Exported)
				assert.Equal(t, []string{"exported variable NEVER was not set when the build ended; exported as an empty string"}, b.res.Warnings)
			},
		},
		{
			// Environment variables in build environments: the CODEBUILD_ variables a build
			// script may use.
			name: "the CODEBUILD_ variables describe the local build",
			yaml: `version: 0.2
phases:
  build:
    commands:
      - echo "id=$CODEBUILD_BUILD_ID number=$CODEBUILD_BUILD_NUMBER initiator=$CODEBUILD_INITIATOR"
      - echo "arn=$CODEBUILD_BUILD_ARN image=$CODEBUILD_BUILD_IMAGE local=$CODEBUILD_LOCAL_BUILD"
      - echo "resolved=$CODEBUILD_RESOLVED_SOURCE_VERSION source=$CODEBUILD_SOURCE_VERSION"
      - test "$CODEBUILD_SRC_DIR" = "$PWD" && echo src-dir-ok
      - case $CODEBUILD_START_TIME in *[!0-9]*|'') echo bad-start ;; *) echo start-ok ;; esac
`,
			opts: func(o *Options) {
				o.SourceVersion = "abc123"
				o.BuildNumber = 7
			},
			wantStatus: StatusSucceeded,
			wantLines: []string{
				"id=local:test number=7 initiator=stepline",
				"arn=arn:aws:codebuild:local:000000000000:build/local:test image=local local=1",
				"resolved=abc123 source=abc123",
				"src-dir-ok",
				"start-ok",
			},
		},
		{
			// Commands get no terminal input on CodeBuild; locally stdin is /dev/null so a
			// command that reads it cannot swallow the commands queued after it.
			name: "a command reading stdin sees end of file and later commands still run",
			yaml: `version: 0.2
phases:
  build:
    commands:
      - cat
      - read -r line || echo stdin-eof
      - echo after
`,
			wantStatus: StatusSucceeded,
			wantLines:  []string{"stdin-eof", "after"},
		},
		{
			name: "a block scalar runs as a single command",
			yaml: `version: 0.2
phases:
  build:
    commands:
      - |
        for i in 1 2; do
          echo "item $i"
        done
        if [ -n "$CODEBUILD_SRC_DIR" ]; then echo multi-line-ok; fi
`,
			wantStatus: StatusSucceeded,
			wantLines:  []string{"item 1", "item 2", "multi-line-ok"},
		},
		{
			// Only a failing command ends a phase's commands; exit 0 is a command that
			// succeeded, so the commands after it still run, in the state it left.
			name: "exit 0 ends the shell but not the phase: later commands run with the saved state",
			yaml: `version: 0.2
phases:
  build:
    commands:
      - A=kept
      - exit 0
      - echo "after A=$A"
`,
			wantStatus: StatusSucceeded,
			wantPhases: allSucceeded,
			wantLines:  []string{"after A=kept"},
		},
		{
			// A phase's commands are sent to the shell together; far more than a pipe
			// buffer holds must still arrive whole and in order.
			name:       "a phase's commands larger than a pipe buffer arrive whole",
			yaml:       "version: 0.2\nphases:\n  build:\n    commands:\n      - X=" + strings.Repeat("x", 200_000) + "\n      - echo \"len=${#X}\"\n",
			wantStatus: StatusSucceeded,
			wantLines:  []string{"len=200000"},
		},
		{
			// Not CodeBuild behaviour to mirror but a property of the runner: whatever a
			// command does to the shell around it, the build goes on.
			name: "a stray break, continue or printf function in a command does not derail the session",
			yaml: `version: 0.2
phases:
  build:
    commands:
      - X=kept; break
      - continue
      - printf() { :; }
      - echo "after X=$X"
`,
			wantStatus: StatusSucceeded,
			wantLines:  []string{"after X=kept"},
			check: func(t *testing.T, b testBuild) {
				assert.Empty(t, b.res.Warnings)
			},
		},
		{
			name:       "a command that replaces the shell with exec is warned about",
			yaml:       "version: 0.2\nphases:\n  build:\n    commands:\n      - X=lost; exec true\n      - echo \"X=${X:-unset}\"\n",
			wantStatus: StatusSucceeded,
			wantLines:  []string{"X=unset"},
			check: func(t *testing.T, b testBuild) {
				require.Len(t, b.res.Warnings, 1)
				assert.Contains(t, b.res.Warnings[0], "without saving its state")
			},
		},
		{
			name:       "a multi-line command is logged without its trailing newline",
			yaml:       "version: 0.2\nphases:\n  build:\n    commands:\n      - |\n        echo one\n        false\n",
			wantStatus: StatusFailed,
			check: func(t *testing.T, b testBuild) {
				assert.Contains(t, b.log, "Running command echo one\nfalse\none\n[Container]")
				assert.Equal(t, "Error while executing command: echo one\nfalse. Reason: exit status 1", phase(b.res, PhaseBuild).Message)
			},
		},
		{
			// Output is forwarded as it comes, and an agent line always starts a new line.
			name:       "output without a final newline does not run into the next log line",
			yaml:       "version: 0.2\nphases:\n  build:\n    commands:\n      - printf partial\n",
			wantStatus: StatusSucceeded,
			check: func(t *testing.T, b testBuild) {
				assert.Contains(t, b.log, "partial\n[Container] ")
			},
		},
		{
			// Buildspec reference, env/shell: /bin/sh is a supported shell. It has no
			// declare, so exported variables and the directory carry over an exit.
			name: "with /bin/sh, exported variables and the directory survive an exit",
			yaml: `version: 0.2
env:
  shell: /bin/sh
phases:
  build:
    commands:
      - export KEEP=yes; mkdir d; cd d
      - exit 5
  post_build:
    commands:
      - echo "KEEP=$KEEP dir=$(basename "$PWD")"
`,
			wantStatus: StatusFailed,
			wantLines:  []string{"KEEP=yes dir=d"},
		},
	})
}

func assertFile(t *testing.T, path, want string) {
	t.Helper()
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, want, string(got))
}
