package buildspec

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Run returns an error only when the build cannot run at all; these are those cases.
func TestRunRejectsASetupItCannotUse(t *testing.T) {
	t.Parallel()
	spec, _, err := Parse("buildspec.yml", []byte("version: 0.2\nphases:\n  build:\n    commands: [\"true\"]\n"))
	require.NoError(t, err)
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	readOnly := filepath.Join(dir, "ro")
	require.NoError(t, os.Mkdir(readOnly, 0o555))

	tests := []struct {
		name    string
		spec    *Spec
		opts    Options
		wantErr string
	}{
		{name: "no buildspec", opts: Options{SrcDir: dir}, wantErr: "no buildspec"},
		{name: "no source directory", spec: spec, opts: Options{}, wantErr: "SrcDir is required"},
		{name: "a source directory that does not exist", spec: spec, opts: Options{SrcDir: filepath.Join(dir, "nope")}, wantErr: "no such file"},
		{name: "a source directory that is a file", spec: spec, opts: Options{SrcDir: file}, wantErr: "is not a directory"},
		{name: "an output directory that is a file", spec: spec, opts: Options{SrcDir: dir, OutDir: file}, wantErr: "output directory"},
		{name: "a shell that does not exist", spec: spec, opts: Options{SrcDir: dir, Shell: filepath.Join(dir, "nope", "bash")}, wantErr: "shell"},
		{name: "an environment override without =", spec: spec, opts: Options{SrcDir: dir, Env: []string{"JUSTANAME"}}, wantErr: "not NAME=value"},
	}
	if os.Geteuid() != 0 {
		// root writes through directory permissions, so this case only means something for
		// other users.
		tests = append(tests, struct {
			name    string
			spec    *Spec
			opts    Options
			wantErr string
		}{name: "an output directory that is not writable", spec: spec, opts: Options{SrcDir: dir, OutDir: readOnly}, wantErr: "permission denied"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := Run(context.Background(), tt.spec, tt.opts)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.Nil(t, res)
		})
	}
}
