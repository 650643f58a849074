package dynamo

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/store"
)

func TestTaskTokens(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	client, table := newTable(t)
	s := New(client, table, WithClock(clock))
	ctx := t.Context()

	t.Run("a recorded token is returned until it is deleted", func(t *testing.T) {
		require.NoError(t, s.PutToken(ctx, "api-1", "Deploy/Service#1", "AAAAKgAAAAIAAAAAAAAAAQ", now.Add(time.Hour)))
		got, err := s.Token(ctx, "api-1", "Deploy/Service#1")
		require.NoError(t, err)
		assert.Equal(t, "AAAAKgAAAAIAAAAAAAAAAQ", got)

		require.NoError(t, s.DeleteToken(ctx, "api-1", "Deploy/Service#1"))
		_, err = s.Token(ctx, "api-1", "Deploy/Service#1")
		require.ErrorIs(t, err, store.ErrNotFound)
		assert.ErrorContains(t, err, "task token of api-1/Deploy/Service#1")
	})
	t.Run("a second token for the same task replaces the first", func(t *testing.T) {
		require.NoError(t, s.PutToken(ctx, "api-2", "Release/Approve#1", "first", now.Add(time.Hour)))
		require.NoError(t, s.PutToken(ctx, "api-2", "Release/Approve#1", "second", now.Add(time.Hour)))
		got, err := s.Token(ctx, "api-2", "Release/Approve#1")
		require.NoError(t, err)
		assert.Equal(t, "second", got)
	})
	t.Run("tokens of other tasks and runs are separate", func(t *testing.T) {
		require.NoError(t, s.PutToken(ctx, "api-3", "Release/Approve#1", "one", time.Time{}))
		require.NoError(t, s.PutToken(ctx, "api-3", "Release/Approve#2", "two", time.Time{}))
		require.NoError(t, s.PutToken(ctx, "api-30", "Release/Approve#1", "three", time.Time{}))
		for task, want := range map[[2]string]string{
			{"api-3", "Release/Approve#1"}: "one", {"api-3", "Release/Approve#2"}: "two", {"api-30", "Release/Approve#1"}: "three",
		} {
			got, err := s.Token(ctx, task[0], task[1])
			require.NoError(t, err)
			assert.Equal(t, want, got)
		}
	})
	t.Run("an expired token is not found even before DynamoDB deletes it", func(t *testing.T) {
		require.NoError(t, s.PutToken(ctx, "api-4", "Deploy/Stack#1", "tok", now.Add(-time.Second)))
		_, err := s.Token(ctx, "api-4", "Deploy/Stack#1")
		require.ErrorIs(t, err, store.ErrNotFound)
		assert.ErrorContains(t, err, "expired at 2025-06-01T11:59:59Z")
	})
	t.Run("the expiry is stored in whole seconds for the time to live, rounded up", func(t *testing.T) {
		require.NoError(t, s.PutToken(ctx, "api-5", "Deploy/Stack#1", "tok", now.Add(1500*time.Millisecond)))
		item, err := s.get(ctx, "TOKEN#api-5", "TASK#Deploy/Stack#1")
		require.NoError(t, err)
		expires, ok, err := getN(item, TTLAttribute)
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, now.Unix()+2, expires)
	})
	t.Run("a token without an expiry never expires", func(t *testing.T) {
		require.NoError(t, s.PutToken(ctx, "api-6", "Deploy/Stack#1", "tok", time.Time{}))
		item, err := s.get(ctx, "TOKEN#api-6", "TASK#Deploy/Stack#1")
		require.NoError(t, err)
		assert.NotContains(t, item, TTLAttribute)
	})
	t.Run("deleting a token that is not there is not an error", func(t *testing.T) {
		require.NoError(t, s.DeleteToken(ctx, "api-7", "Deploy/Stack#1"))
	})
	t.Run("run, task and token are required", func(t *testing.T) {
		require.Error(t, s.PutToken(ctx, "", "Deploy/Stack#1", "tok", time.Time{}))
		require.Error(t, s.PutToken(ctx, "api-8", "", "tok", time.Time{}))
		require.Error(t, s.PutToken(ctx, "api-8", "Deploy/Stack#1", "", time.Time{}))
		_, err := s.Token(ctx, "", "")
		require.Error(t, err)
		require.NotErrorIs(t, err, store.ErrNotFound, "a malformed request is not a missing token")
	})
}

func TestPipelineRegistry(t *testing.T) {
	t.Parallel()
	client, table := newTable(t)
	s := New(client, table)
	ctx := t.Context()
	file := []byte("version: 1\npipelines:\n  - name: api\n    stages: []\n")

	t.Run("a recorded file comes back with its commit", func(t *testing.T) {
		require.NoError(t, s.PutPipelineFile(ctx, "octo/app", "main", file, "0123abcd"))
		got, commit, err := s.PipelineFile(ctx, "octo/app", "main")
		require.NoError(t, err)
		assert.Equal(t, file, got)
		assert.Equal(t, "0123abcd", commit)
	})
	t.Run("a newer push replaces the file", func(t *testing.T) {
		require.NoError(t, s.PutPipelineFile(ctx, "octo/web", "main", file, "1111"))
		require.NoError(t, s.PutPipelineFile(ctx, "octo/web", "main", []byte("version: 1\n"), "2222"))
		got, commit, err := s.PipelineFile(ctx, "octo/web", "main")
		require.NoError(t, err)
		assert.Equal(t, "version: 1\n", string(got))
		assert.Equal(t, "2222", commit)
	})
	t.Run("branches and repositories are separate", func(t *testing.T) {
		require.NoError(t, s.PutPipelineFile(ctx, "octo/cli", "main", []byte("main"), "m"))
		require.NoError(t, s.PutPipelineFile(ctx, "octo/cli", "release/1", []byte("release"), "r"))
		require.NoError(t, s.PutPipelineFile(ctx, "octo/cli2", "main", []byte("other repo"), "o"))
		got, _, err := s.PipelineFile(ctx, "octo/cli", "release/1")
		require.NoError(t, err)
		assert.Equal(t, "release", string(got))
		got, _, err = s.PipelineFile(ctx, "octo/cli", "main")
		require.NoError(t, err)
		assert.Equal(t, "main", string(got))
	})
	t.Run("an empty file is a file", func(t *testing.T) {
		require.NoError(t, s.PutPipelineFile(ctx, "octo/empty", "main", nil, "e"))
		got, commit, err := s.PipelineFile(ctx, "octo/empty", "main")
		require.NoError(t, err)
		assert.Empty(t, got)
		assert.Equal(t, "e", commit)
	})
	t.Run("a branch never recorded is not found", func(t *testing.T) {
		_, _, err := s.PipelineFile(ctx, "octo/app", "develop")
		require.ErrorIs(t, err, store.ErrNotFound)
		assert.ErrorContains(t, err, "pipeline file of octo/app@develop")
	})
	t.Run("the file is stored compressed", func(t *testing.T) {
		item, err := s.get(ctx, "REPO#octo/app", "BRANCH#main")
		require.NoError(t, err)
		body, err := getB(item, attrFile)
		require.NoError(t, err)
		assert.Equal(t, []byte{0x1f, 0x8b}, body[:2], "gzip magic")
	})
}

func TestMarks(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	client, table := newTable(t)
	s := New(client, table, WithClock(func() time.Time { return now }))
	ctx := t.Context()

	t.Run("a key is marked once Mark recorded it, and no other key is", func(t *testing.T) {
		got, err := s.Marked(ctx, "sent/evt-1/topic")
		require.NoError(t, err)
		assert.False(t, got)
		require.NoError(t, s.Mark(ctx, "sent/evt-1/topic", now.Add(time.Hour)))
		got, err = s.Marked(ctx, "sent/evt-1/topic")
		require.NoError(t, err)
		assert.True(t, got)
		got, err = s.Marked(ctx, "sent/evt-1/topic2")
		require.NoError(t, err)
		assert.False(t, got)
	})
	t.Run("an expired mark is not marked even before DynamoDB deletes it", func(t *testing.T) {
		require.NoError(t, s.Mark(ctx, "problem/api-1", now.Add(-time.Second)))
		got, err := s.Marked(ctx, "problem/api-1")
		require.NoError(t, err)
		assert.False(t, got)
	})
	t.Run("a mark carries the time to live attribute", func(t *testing.T) {
		require.NoError(t, s.Mark(ctx, "problem/api-2", now.Add(1500*time.Millisecond)))
		item, err := s.get(ctx, "MARK#problem/api-2", "MARK")
		require.NoError(t, err)
		v, ok, err := getN(item, TTLAttribute)
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, now.Add(2*time.Second).Unix(), v)
	})
	t.Run("an empty key is refused", func(t *testing.T) {
		require.Error(t, s.Mark(ctx, "", now))
		_, err := s.Marked(ctx, "")
		require.Error(t, err)
	})
}
