package lambdatest

import (
	"maps"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ConfigCheck sets the SDK's region and credentials, so that loading the AWS configuration
// cannot fail on this machine, and returns a check that runs a function's build, as a subtest
// called name, on env: with err "" it must give a handler, otherwise an error containing err.
func ConfigCheck(t *testing.T, build func(env func(string) string) (any, error)) func(name string, env map[string]string, err string) {
	t.Helper()
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "testing")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "testing")
	return func(name string, env map[string]string, want string) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			h, err := build(func(k string) string { return env[k] })
			if want == "" {
				require.NoError(t, err)
				assert.NotNil(t, h)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), want)
		})
	}
}

// Without returns a copy of env without key.
func Without(env map[string]string, key string) map[string]string {
	m := maps.Clone(env)
	delete(m, key)
	return m
}

// With returns a copy of env with key set to value.
func With(env map[string]string, key, value string) map[string]string {
	m := maps.Clone(env)
	m[key] = value
	return m
}
