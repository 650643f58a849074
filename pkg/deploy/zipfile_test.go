package deploy_test

import (
	"archive/zip"
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/deploy"
	"github.com/stepline/stepline/pkg/deploy/deploytest"
)

// A zip on disk reads one file through its directory, names what it has when a file is
// missing, refuses a file over the limit, and hands the s3 provider the zip itself.
func TestAZipFileReadsOneFileOfTheArtifact(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "image.zip")
	require.NoError(t, os.WriteFile(path, deploytest.Zip(t, map[string]string{
		"imagedefinitions.json": `[{"name":"app","imageUri":"r/app:2"}]`, "deploy/taskdef.json": "{}"}), 0o644))
	loc := deploy.Location{Bucket: "artifacts", Key: "runs/r/image.zip"}
	z, err := deploy.OpenZip(path, loc)
	require.NoError(t, err)
	defer z.Close()
	assert.Equal(t, loc, z.Location())

	b, err := z.ReadFile(ctx, "./imagedefinitions.json")
	require.NoError(t, err)
	assert.JSONEq(t, `[{"name":"app","imageUri":"r/app:2"}]`, string(b))

	_, err = z.ReadFile(ctx, "appspec.yaml")
	require.ErrorIs(t, err, fs.ErrNotExist)
	assert.ErrorContains(t, err, "artifact "+path+": no file appspec.yaml (it has deploy/taskdef.json, imagedefinitions.json)")

	ra, size, err := z.Zip(ctx)
	require.NoError(t, err)
	zr, err := zip.NewReader(ra, size)
	require.NoError(t, err)
	assert.Len(t, zr.File, 2)

	_, err = deploy.OpenZip(filepath.Join(dir, "missing.zip"), deploy.Location{})
	assert.ErrorIs(t, err, fs.ErrNotExist)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "not.zip"), []byte("plain text"), 0o644))
	_, err = deploy.OpenZip(filepath.Join(dir, "not.zip"), deploy.Location{})
	assert.ErrorContains(t, err, "not a zip")
}

// The limit holds whatever the zip's directory claims about a file's size.
func TestReadZipEntryRefusesAFileOverTheLimit(t *testing.T) {
	t.Parallel()
	b := deploytest.Zip(t, map[string]string{"big.json": string(bytes.Repeat([]byte("x"), 2048))})
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	_, err = deploy.ReadZipEntry(zr, "big.json", 1024)
	assert.ErrorContains(t, err, "big.json is 2048 bytes, more than the 1024 a deploy reads")
	got, err := deploy.ReadZipEntry(zr, "big.json", 4096)
	require.NoError(t, err)
	assert.Len(t, got, 2048)
}
