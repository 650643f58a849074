package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/scm"
)

// samples are the files of events/source, one per provider.
var samples = map[string]string{
	"github.json":           scm.GitHub,
	"bitbucket.json":        scm.Bitbucket,
	"bitbucket-server.json": scm.BitbucketServer,
	"codecommit.json":       scm.CodeCommit,
}

func readSample(t *testing.T, file string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("../../events/source", file))
	require.NoError(t, err)
	return raw
}

func TestEverySampleEventIsAFileAndEveryFileASample(t *testing.T) {
	files, err := filepath.Glob("../../events/source/*.json")
	require.NoError(t, err)
	require.Len(t, files, len(samples))
	for _, f := range files {
		assert.Contains(t, samples, filepath.Base(f))
	}
}

func TestSampleEventsSurviveAJSONRoundTrip(t *testing.T) {
	for file, provider := range samples {
		t.Run(file, func(t *testing.T) {
			raw := readSample(t, file)
			var in Input
			require.NoError(t, json.Unmarshal(raw, &in))
			assert.Equal(t, provider, in.Provider)
			again, err := json.Marshal(in)
			require.NoError(t, err)
			assert.JSONEq(t, string(raw), string(again), "every field of the sample is a field of Input")
			require.NoError(t, in.validate())
		})
	}
}

func TestEverySampleEventArchivesItsCommit(t *testing.T) {
	for file := range samples {
		t.Run(file, func(t *testing.T) {
			w := newWorld(t)
			raw := readSample(t, file)
			var in Input
			require.NoError(t, json.Unmarshal(raw, &in))
			w.register(t, in.Hook, in.Provider, in.Repository)

			// Through aws-lambda-go's own decoding and encoding, as Lambda runs it.
			reply, err := lambda.NewHandler(w.h.Handle).Invoke(context.Background(), raw)
			require.NoError(t, err)
			var out Output
			require.NoError(t, json.Unmarshal(reply, &out))

			assert.Equal(t, in.Task, out.Task)
			assert.Equal(t, in.Bucket, out.Artifact.Bucket)
			assert.Equal(t, in.Key, out.Artifact.Key)
			zipped := w.object(t, in.Key)
			assert.Equal(t, int64(len(zipped)), out.Artifact.Size)
			var fields struct{ Artifact map[string]any }
			require.NoError(t, json.Unmarshal(reply, &fields))
			assert.Contains(t, fields.Artifact, "checksum_crc32")
			assert.Empty(t, out.Artifact.ChecksumCRC32, "gofakes3 answers no checksum, and none is made up")
			assert.Equal(t, map[string]string{
				"README.md":    "-rw-rw-r--",
				"bin/":         "drwxrwxr-x",
				"bin/build.sh": "-rwxrwxr-x",
				"latest":       "Lrwxrwxrwx",
			}, zipModes(t, zipped), "files at the root, the executable and the link kept")

			logs := w.logs.String()
			assert.Contains(t, logs, `"msg":"source archived"`)
			assert.Contains(t, logs, `"checksum_crc32":`)
			assert.NotContains(t, logs, token)
		})
	}
}

func TestMalformedSourceInputsAreRefusedByName(t *testing.T) {
	w := newWorld(t)
	sample := readSample(t, "github.json")
	with := func(field string, value any) []byte {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sample, &m))
		if value == nil {
			delete(m, field)
		} else {
			m[field] = value
		}
		b, err := json.Marshal(m)
		require.NoError(t, err)
		return b
	}
	cases := []struct {
		name    string
		payload []byte
		errType string
		says    []string
	}{
		{"a commit id that is a number is refused", with("commit", 7), "SourceInvalidInput", []string{"cannot unmarshal number"}},
		{"an empty object names every missing field", []byte(`{}`), "SourceInvalidInput",
			[]string{"task is missing", "provider is missing", "repository is missing", "commit is missing", "hook is missing", "bucket is missing", "key is missing"}},
		{"a branch name instead of a commit is refused", with("commit", "main"), "SourceInvalidInput", []string{`commit "main" is not a full commit id`}},
		{"an abbreviated commit is refused", with("commit", "7fd1a60"), "SourceInvalidInput", []string{"not a full commit id"}},
		{"a CodeCommit source names a repository, not owner/name", with("provider", "codecommit"), "SourceInvalidInput", []string{`repository "octo-org/api" is not a CodeCommit repository name`}},
		{"an unknown provider is refused", with("provider", "gitlab"), "SourceInvalidInput", []string{`provider "gitlab"`}},
		{"a repository path is refused", with("repository", "octo/api/../../admin"), "SourceInvalidInput", []string{"not owner/name"}},
		{"a hook id that is no hook id is refused", with("hook", "../other-secret"), "SourceInvalidInput", []string{"hook is not a hook id"}},
		{"a missing key is refused", with("key", nil), "SourceInvalidInput", []string{"key is missing"}},
		// Step Functions only ever sends JSON; aws-lambda-go answers text with its decoder's error.
		{"text that is not JSON never reaches the handler", []byte(`run=api-12`), "SyntaxError", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := lambda.NewHandler(w.h.Handle).Invoke(context.Background(), c.payload)
			require.Error(t, err)
			assert.Equal(t, c.errType, errorType(err))
			for _, s := range c.says {
				assert.Contains(t, err.Error(), s)
			}
		})
	}
	assert.Zero(t, w.forge.asked(), "a malformed input reaches no provider")
}
