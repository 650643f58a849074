package buildspec

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hostSecret is the content of a host file no artifact or report may ever contain.
const hostSecret = "HOST-ONLY-CONTENT"

// assertNothingFromTheHost fails if any file under dir holds the host file's content.
func assertNothingFromTheHost(t *testing.T, dir string) {
	t.Helper()
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			b, _ := os.ReadFile(p)
			assert.NotContains(t, string(b), hostSecret, "%s was copied from the host", p)
		}
		return nil
	})
}

// base-directory and files are confined to the source directory: neither a path that climbs
// out nor a symbolic link the build planted can make UPLOAD_ARTIFACTS collect host files.
func TestArtifactsAndReportsStayInsideTheSourceDirectory(t *testing.T) {
	t.Parallel()
	host := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(host, "secret.txt"), []byte(hostSecret), 0o644))
	// The build plants links to the host directory and file, as a hostile commit could.
	spec := func(artifacts string) string {
		return fmt.Sprintf(`version: 0.2
phases:
  build:
    commands:
      - ln -s %[1]q hostlink
      - ln -s %[1]q/secret.txt passwd
      - echo own > own.txt
%[2]s`, host, artifacts)
	}
	tests := []struct {
		name      string
		artifacts string
		wantMsg   string // the UPLOAD_ARTIFACTS failure; empty when it succeeds
		wantFiles []string
		wantLine  string
	}{
		{name: "a base-directory climbing out with ..", artifacts: "artifacts:\n  files: ['**/*']\n  base-directory: ../\n",
			wantMsg: "base-directory ../ leaves the source directory"},
		{name: "a base-directory climbing out from a subdirectory", artifacts: "artifacts:\n  files: ['**/*']\n  base-directory: a/../../x\n",
			wantMsg: "base-directory a/../../x leaves the source directory"},
		{name: "an absolute base-directory", artifacts: fmt.Sprintf("artifacts:\n  files: ['**/*']\n  base-directory: %q\n", host),
			wantMsg: "base-directory " + host + " leaves the source directory"},
		{name: "a base-directory that is a link leading out", artifacts: "artifacts:\n  files: ['**/*']\n  base-directory: hostlink\n",
			wantMsg: "base-directory hostlink is a symbolic link leading outside the source directory"},
		{name: "a base-directory glob matching a link leading out", artifacts: "artifacts:\n  files: ['**/*']\n  base-directory: 'host*'\n",
			wantMsg: "base-directory hostlink is a symbolic link leading outside the source directory"},
		{name: "a file named through a linked directory", artifacts: "artifacts:\n  files: [hostlink/secret.txt]\n",
			wantMsg: "no matching artifact paths found", wantLine: "Skipping hostlink/secret.txt: it leads outside the source directory through a symbolic link"},
		{name: "a linked directory named whole", artifacts: "artifacts:\n  files: [hostlink]\n",
			wantMsg: "no matching artifact paths found"},
		{name: "a glob under a linked directory", artifacts: "artifacts:\n  files: ['hostlink/**/*']\n",
			wantMsg: "no matching artifact paths found"},
		{name: "a link to a host file among the files", artifacts: "artifacts:\n  files: ['**/*']\n",
			wantFiles: []string{"own.txt"}, wantLine: "Skipping symbolic link passwd: it leads outside the source directory"},
		{name: "links kept as links with enable-symlinks", artifacts: "artifacts:\n  files: ['**/*']\n  enable-symlinks: yes\n",
			wantFiles: []string{"hostlink", "own.txt", "passwd"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := runYAML(t, spec(tt.artifacts), nil, nil)
			up := phase(b.res, PhaseUploadArtifacts)
			if tt.wantMsg != "" {
				assert.Equal(t, StatusFailed, up.Status, "log:\n%s", b.log)
				assert.Equal(t, tt.wantMsg, up.Message)
			} else {
				require.Equal(t, StatusSucceeded, up.Status, "log:\n%s", b.log)
				require.Len(t, b.res.Artifacts, 1)
				assert.Equal(t, tt.wantFiles, b.res.Artifacts[0].Files)
			}
			if tt.wantLine != "" {
				assert.Contains(t, b.log, tt.wantLine)
			}
			assertNothingFromTheHost(t, b.out)
		})
	}

	t.Run("a report group whose base-directory leaves is a warning and collects nothing", func(t *testing.T) {
		t.Parallel()
		b := runYAML(t, spec("reports:\n  unit:\n    files: ['**/*']\n    base-directory: hostlink\n  up:\n    files: ['**/*']\n    base-directory: ..\n"), nil, nil)
		assert.Equal(t, StatusSucceeded, b.res.Status)
		assert.Empty(t, b.res.Reports)
		warnings := strings.Join(b.res.Warnings, "\n")
		assert.Contains(t, warnings, "report group unit: base-directory hostlink is a symbolic link leading outside the source directory")
		assert.Contains(t, warnings, "report group up: base-directory .. leaves the source directory")
		assertNothingFromTheHost(t, b.out)
	})
}
