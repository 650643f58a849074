package deploy_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/deploy"
	"github.com/stepline/stepline/pkg/deploy/deploytest"
)

func TestRequestReadsSettingsAndFiles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	req := deploy.Request{Stage: "Deploy", Action: "Service",
		Config: map[string]any{"cluster": "main", "bake_time": "10m0s", "bad_time": "soon", "count": 3,
			"file": "bin::dir/a.json", "no_path": "bin::", "plain": "a.json", "other": "src::a.json"},
		Inputs: map[string]deploy.Artifact{"bin": deploytest.NewArtifact(t, deploy.Location{Bucket: "b", Key: "k"}, map[string]string{"dir/a.json": "{}"})}}
	assert.Equal(t, "main", req.String("cluster"))
	assert.Empty(t, req.String("count"), "a setting that is not a string")
	assert.Empty(t, req.String("missing"))
	d, err := req.Duration("bake_time")
	require.NoError(t, err)
	assert.Equal(t, 10*time.Minute, d)
	d, err = req.Duration("missing")
	require.NoError(t, err)
	assert.Zero(t, d)
	_, err = req.Duration("bad_time")
	assert.ErrorContains(t, err, "bad_time")

	b, err := req.ReadFile(ctx, "file")
	require.NoError(t, err)
	assert.Equal(t, "{}", string(b))
	for key, msg := range map[string]string{
		"no_path": `no_path: expected "artifact::path", found "bin::"`,
		"plain":   `plain: expected "artifact::path", found "a.json"`,
		"missing": `missing: expected "artifact::path", found ""`,
		"other":   `other: "src" is not an input artifact of action Deploy/Service`,
		"cluster": `cluster: expected "artifact::path", found "main"`,
	} {
		_, err := req.ReadFile(ctx, key)
		assert.ErrorContains(t, err, msg, key)
	}
	req.Config["file"] = "bin::dir/b.json"
	_, err = req.ReadFile(ctx, "file")
	assert.ErrorContains(t, err, "file: read dir/b.json from artifact bin: artifact s3://b/k: open dir/b.json: file does not exist")
}
