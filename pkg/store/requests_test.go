package store_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/store"
)

func TestRequestsAreTakenOnceInOrderPerRun(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "history.db")
	for name, pair := range map[string][2]store.Requests{
		// Two Bolts on one file stand for two processes: `stepline approve` and the driver.
		"bolt": {store.NewBolt(path), store.NewBolt(path)},
		"memory": func() [2]store.Requests {
			m := store.NewMemory()
			return [2]store.Requests{m, m}
		}(),
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			asker, driver := pair[0], pair[1]
			none, err := driver.TakeRequests(ctx, "app-1")
			require.NoError(t, err)
			assert.Empty(t, none, "an empty history has no requests")
			require.NoError(t, asker.PutRequest(ctx, "app-1", engine.Input{Kind: engine.KindStop, Who: "ana"}))
			require.NoError(t, asker.PutRequest(ctx, "app-10", engine.Input{Kind: engine.KindCancel}))
			require.NoError(t, asker.PutRequest(ctx, "app-1", engine.Input{Kind: engine.KindApproval, Stage: "S", Action: "A", Status: engine.Succeeded}))
			got, err := driver.TakeRequests(ctx, "app-1")
			require.NoError(t, err)
			require.Len(t, got, 2, "app-10's request is not app-1's although its id starts alike")
			assert.Equal(t, engine.KindStop, got[0].Kind)
			assert.Equal(t, "ana", got[0].Who)
			assert.Equal(t, engine.KindApproval, got[1].Kind)
			again, err := driver.TakeRequests(ctx, "app-1")
			require.NoError(t, err)
			assert.Empty(t, again, "a request is taken once")
			other, err := driver.TakeRequests(ctx, "app-10")
			require.NoError(t, err)
			assert.Len(t, other, 1)
		})
	}
}
