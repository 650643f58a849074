package lambdaenv

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTheFirstMissingRequiredSettingIsReported(t *testing.T) {
	env := map[string]string{"A": "a", "C": "c"}
	r := New(func(k string) string { return env[k] })
	assert.Equal(t, "a", r.Required("A"))
	assert.Empty(t, r.Required("B"))
	assert.Empty(t, r.Required("D"))
	assert.EqualError(t, r.Err(), "B must be set")
}

func TestAllRequiredSettingsSetIsNoError(t *testing.T) {
	r := New(func(k string) string { return "v" })
	assert.Equal(t, "v", r.Required("A"))
	require.NoError(t, r.Err())
}
