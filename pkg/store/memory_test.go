package store_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/engine"
	"github.com/stepline/stepline/pkg/store"
	"github.com/stepline/stepline/pkg/store/storetest"
)

func TestMemoryMeetsTheStoreContract(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(*testing.T) store.Store { return store.NewMemory() })
}

func TestMemoryFailInjectsAnErrorIntoTheNamedMethod(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	m := store.NewMemory()
	m.Fail = func(method string) error {
		if method == "Acquire" {
			return boom
		}
		return nil
	}

	_, err := m.Acquire(t.Context(), testScope("api"), "Deploy", engine.ModeQueued, "r1", 1)
	require.ErrorIs(t, err, boom)
	_, err = m.Release(t.Context(), testScope("api"), "Deploy", "r1")
	require.NoError(t, err)
}
