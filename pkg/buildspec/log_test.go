package buildspec

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The local log mirrors CodeBuild's agent lines so that a build log reads, and greps, the same
// locally and in CloudWatch. The clock is fixed so the whole log can be pinned.
func TestRunWritesACodeBuildStyleLog(t *testing.T) {
	t.Parallel()
	spec, _, err := Parse("buildspec.yml", []byte(`version: 0.2
phases:
  install:
    commands:
      - echo installing
  build:
    commands:
      - echo out; echo err >&2
      - exit 1
    finally:
      - echo cleanup
  post_build:
    commands:
      - echo "succeeding=$CODEBUILD_BUILD_SUCCEEDING"
artifacts:
  files:
    - missing.txt
    - a.txt
`))
	require.NoError(t, err)
	src := t.TempDir()
	writeFiles(t, src, map[string]string{"a.txt": "a"})
	clock := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	var log bytes.Buffer
	_, err = Run(context.Background(), spec, Options{SrcDir: src, Log: &log, Now: func() time.Time { return clock }})
	require.NoError(t, err)
	golden(t, "testdata/log/failed-build.log", log.String())
}
