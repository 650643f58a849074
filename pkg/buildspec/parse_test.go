package buildspec

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden .out files under testdata")

// golden compares got with the file, or rewrites the file under -update.
func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file; run go test ./pkg/buildspec -run %s -update", t.Name())
	assert.Equal(t, string(want), got)
}

func warningLines(ws []Warning) string {
	var sb strings.Builder
	for _, w := range ws {
		sb.WriteString(w.String())
		sb.WriteByte('\n')
	}
	return sb.String()
}

// TestParseAcceptsValidBuildspecs parses real-world shaped buildspecs and pins their warnings:
// every key there is documented in the buildspec reference, so none may be an error.
func TestParseAcceptsValidBuildspecs(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/ok/*.yml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(file)
			require.NoError(t, err)
			spec, warnings, err := Parse(filepath.Base(file), data)
			require.NoError(t, err)
			require.NotNil(t, spec)
			golden(t, strings.TrimSuffix(file, ".yml")+".out", warningLines(warnings))
		})
	}
}

// TestParseReportsProblemsWithPositions pins the exact `file:line:col: message [rule]` output
// for each broken buildspec, so positions and suggestions cannot silently regress.
func TestParseReportsProblemsWithPositions(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/err/*.yml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(file)
			require.NoError(t, err)
			spec, warnings, err := Parse(filepath.Base(file), data)
			require.Error(t, err)
			assert.Nil(t, spec)
			var errs Errors
			require.True(t, errors.As(err, &errs), "error is %T, want Errors", err)
			out := err.Error() + "\n"
			if len(warnings) > 0 {
				out += "-- warnings --\n" + warningLines(warnings)
			}
			golden(t, strings.TrimSuffix(file, ".yml")+".out", out)
		})
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		yaml  string
		check func(t *testing.T, s *Spec, w []Warning)
	}{
		{
			// Buildspec reference, env/variables: values are scalars; the text written is
			// what the shell gets, so 1.10 must not become 1.1.
			name: "numbers and booleans in env.variables keep the text as written",
			yaml: "version: 0.2\nenv:\n  variables:\n    A: 1.10\n    B: true\n    C: 007\n    D:\nphases:\n  build:\n    commands: [x]\n",
			check: func(t *testing.T, s *Spec, _ []Warning) {
				assert.Equal(t, []Variable{{"A", "1.10"}, {"B", "true"}, {"C", "007"}, {"D", ""}}, s.Env.Variables)
			},
		},
		{
			// Buildspec reference, env/shell: the Linux tags are bash and /bin/sh.
			name: "the /bin/sh shell tag selects the POSIX shell",
			yaml: "version: 0.2\nenv:\n  shell: /bin/sh\nphases:\n  build:\n    commands: [x]\n",
			check: func(t *testing.T, s *Spec, _ []Warning) {
				assert.Equal(t, "sh", s.Env.Shell)
			},
		},
		{
			name: "the shell defaults to bash",
			yaml: "version: 0.2\nphases:\n  build:\n    commands: [x]\n",
			check: func(t *testing.T, s *Spec, _ []Warning) {
				assert.Equal(t, "bash", s.Env.Shell)
			},
		},
		{
			// Buildspec reference, phases/*/commands: each scalar is one command, so a block
			// scalar is a single multi-line command.
			name: "a block scalar is one command",
			yaml: "version: 0.2\nphases:\n  build:\n    commands:\n      - |\n        if true; then\n          echo yes\n        fi\n      - echo next\n",
			check: func(t *testing.T, s *Spec, _ []Warning) {
				require.Len(t, s.Phases, 1)
				assert.Equal(t, []string{"if true; then\n  echo yes\nfi\n", "echo next"}, s.Phases[0].Commands)
			},
		},
		{
			name: "phases are kept in run order whatever order the file uses",
			yaml: "version: 0.2\nphases:\n  post_build:\n    commands: [c]\n  install:\n    commands: [a]\n  build:\n    commands: [b]\n",
			check: func(t *testing.T, s *Spec, _ []Warning) {
				var names []PhaseName
				for _, p := range s.Phases {
					names = append(names, p.Name)
				}
				assert.Equal(t, []PhaseName{PhaseInstall, PhaseBuild, PhasePostBuild}, names)
				assert.Nil(t, s.Phase(PhasePreBuild))
			},
		},
		{
			// Buildspec reference, artifacts/secondary-artifacts: same shape as artifacts.
			name: "secondary artifacts keep their order and fields",
			yaml: "version: 0.2\nphases:\n  build:\n    commands: [x]\nartifacts:\n  files: [a]\n  secondary-artifacts:\n    zeta:\n      files: [z]\n      discard-paths: yes\n    alpha:\n      files: [y]\n      base-directory: out\n      exclude-paths: ['*.tmp']\n",
			check: func(t *testing.T, s *Spec, _ []Warning) {
				require.NotNil(t, s.Artifacts)
				assert.Equal(t, []ArtifactSet{
					{Identifier: "zeta", Files: []string{"z"}, DiscardPaths: true},
					{Identifier: "alpha", Files: []string{"y"}, BaseDirectory: "out", ExcludePaths: []string{"*.tmp"}},
				}, s.Artifacts.Secondary)
			},
		},
		{
			// Buildspec reference, reports/<group>/file-format: not case sensitive, default
			// JUNITXML.
			name: "report formats are upper-cased and default to JUNITXML",
			yaml: "version: 0.2\nphases:\n  build:\n    commands: [x]\nreports:\n  a:\n    files: [x.xml]\n  b:\n    files: [c.xml]\n    file-format: cucumberjson\n",
			check: func(t *testing.T, s *Spec, _ []Warning) {
				require.Len(t, s.Reports, 2)
				assert.Equal(t, "JUNITXML", s.Reports[0].FileFormat)
				assert.Equal(t, "CUCUMBERJSON", s.Reports[1].FileFormat)
			},
		},
		{
			// Buildspec reference, env/exported-variables: AWS_ variables and Parameter
			// Store values cannot be exported.
			name: "variables CodeBuild cannot export are dropped with a warning",
			yaml: "version: 0.2\nenv:\n  parameter-store:\n    TOKEN: /x\n  exported-variables: [A, AWS_REGION, TOKEN]\nphases:\n  build:\n    commands: [x]\n",
			check: func(t *testing.T, s *Spec, w []Warning) {
				assert.Equal(t, []string{"A"}, s.Env.ExportedVariables)
				assert.Len(t, w, 3) // parameter-store not local, AWS_REGION, TOKEN
			},
		},
		{
			name: "RETRY with a count and a regex is warned about and treated as ABORT",
			yaml: "version: 0.2\nphases:\n  build:\n    on-failure: RETRY-3-.*timeout.*\n    commands: [x]\n",
			check: func(t *testing.T, s *Spec, w []Warning) {
				assert.Equal(t, OnFailureAbort, s.Phases[0].OnFailure)
				require.Len(t, w, 1)
				assert.Equal(t, ruleOnFailure, w[0].Rule)
			},
		},
		{
			name: "an explicit merge key does not override keys the mapping sets itself",
			yaml: "version: 0.2\nphases:\n  build: &b\n    on-failure: CONTINUE\n    commands: [one]\n  post_build:\n    <<: *b\n    commands: [two]\n",
			check: func(t *testing.T, s *Spec, _ []Warning) {
				post := s.Phase(PhasePostBuild)
				require.NotNil(t, post)
				assert.Equal(t, []string{"two"}, post.Commands)
				assert.Equal(t, OnFailureContinue, post.OnFailure)
			},
		},
		{
			name: "an empty artifacts section means no artifacts",
			yaml: "version: 0.2\nphases:\n  build:\n    commands: [x]\nartifacts:\n",
			check: func(t *testing.T, s *Spec, _ []Warning) {
				assert.Nil(t, s.Artifacts)
			},
		},
		{
			name: "the version may be written as a string",
			yaml: "version: \"0.2\"\nphases:\n  build:\n    commands: [x]\n",
			check: func(t *testing.T, s *Spec, _ []Warning) {
				assert.Equal(t, "0.2", s.Version)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, w, err := Parse("buildspec.yml", []byte(tt.yaml))
			require.NoError(t, err)
			tt.check(t, s, w)
		})
	}
}

func TestErrorsListsEveryProblemOnItsOwnLine(t *testing.T) {
	t.Parallel()
	err := Errors{
		{File: "b.yml", Line: 1, Col: 2, Msg: "one", Rule: "r1"},
		{File: "b.yml", Line: 3, Col: 4, Msg: "two", Rule: "r2"},
	}
	assert.Equal(t, "b.yml:1:2: one [r1]\nb.yml:3:4: two [r2]", err.Error())
}
