package dynamo

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/store"
)

func TestDeployWaitsByKey(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	client, table := newTable(t)
	s := New(client, table, WithClock(func() time.Time { return now }))
	ctx := t.Context()

	t.Run("a wait is found by its key until it is deleted", func(t *testing.T) {
		w := Waiting{Run: "api-1", Task: "Deploy/Service#1", Token: "tok", Wait: `{"provider":"ecs"}`, Expires: now.Add(time.Hour)}
		require.NoError(t, s.PutWaiting(ctx, "ecs:ecs-svc/1", w))
		got, err := s.Waiting(ctx, "ecs:ecs-svc/1")
		require.NoError(t, err)
		assert.Equal(t, w, got)
		require.NoError(t, s.DeleteWaiting(ctx, "ecs:ecs-svc/1"))
		_, err = s.Waiting(ctx, "ecs:ecs-svc/1")
		require.ErrorIs(t, err, store.ErrNotFound)
		require.NoError(t, s.DeleteWaiting(ctx, "ecs:ecs-svc/1"), "deleting twice is no error")
	})
	t.Run("a newer wait under the same key replaces the older", func(t *testing.T) {
		require.NoError(t, s.PutWaiting(ctx, "cloudformation:stack/a", Waiting{Run: "api-1", Task: "D/S#1", Token: "old"}))
		require.NoError(t, s.PutWaiting(ctx, "cloudformation:stack/a", Waiting{Run: "api-2", Task: "D/S#1", Token: "new"}))
		got, err := s.Waiting(ctx, "cloudformation:stack/a")
		require.NoError(t, err)
		assert.Equal(t, "new", got.Token)
		assert.Equal(t, "api-2", got.Run)
	})
	t.Run("an expired wait is not found even before DynamoDB deletes it", func(t *testing.T) {
		require.NoError(t, s.PutWaiting(ctx, "codedeploy:d-1", Waiting{Run: "api-1", Task: "D/S#1", Token: "tok", Expires: now.Add(-time.Second)}))
		_, err := s.Waiting(ctx, "codedeploy:d-1")
		require.ErrorIs(t, err, store.ErrNotFound)
	})
	t.Run("key, run, task and token are required", func(t *testing.T) {
		require.Error(t, s.PutWaiting(ctx, "", Waiting{Run: "r", Task: "t", Token: "x"}))
		require.Error(t, s.PutWaiting(ctx, "k", Waiting{Task: "t", Token: "x"}))
		require.Error(t, s.PutWaiting(ctx, "k", Waiting{Run: "r", Token: "x"}))
		require.Error(t, s.PutWaiting(ctx, "k", Waiting{Run: "r", Task: "t"}))
	})
}
