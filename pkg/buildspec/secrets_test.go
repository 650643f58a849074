package buildspec

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeSecrets is an in-memory SecretSource: parameters and secrets by reference.
type fakeSecrets struct {
	params, secrets map[string]string
}

func (f fakeSecrets) Parameter(_ context.Context, name string) (string, error) {
	if v, ok := f.params[name]; ok {
		return v, nil
	}
	return "", fmt.Errorf("parameter %s not found", name)
}

func (f fakeSecrets) Secret(_ context.Context, ref string) (string, error) {
	if v, ok := f.secrets[ref]; ok {
		return v, nil
	}
	return "", errors.New("secret not found")
}

const secretSpec = `version: 0.2
env:
  parameter-store:
    DB_PASS: /app/db-pass
  secrets-manager:
    TOKEN: app/token:npm
    KEY: app/deploy-key
phases:
  build:
    commands:
      - echo "token is $TOKEN"
      # The value leaves the shell in two writes, a pause between them.
      - printf 'split %s' "${TOKEN:0:6}"; sleep 0.2; printf '%s end\n' "${TOKEN:6}"
      - echo "db $DB_PASS" >&2
      - printf '%s' "$KEY"
      - echo "extra $EXTRA"
      - echo typed-in-the-buildspec-cli-secret-value-too cli-secret-value
`

// Values fetched for parameter-store and secrets-manager, and values marked secret, never reach
// the log, wherever the writes cut them; CodeBuild shows *** in their place.
func TestSecretValuesAreMaskedInTheBuildLog(t *testing.T) {
	t.Parallel()
	src := fakeSecrets{
		params:  map[string]string{"/app/db-pass": "pa55w0rd-db"},
		secrets: map[string]string{"app/token:npm": "npm_0123456789abcdef", "app/deploy-key": "-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34GkxFhD9\n-----END KEY-----"},
	}
	b := runYAML(t, secretSpec, nil, func(o *Options) {
		o.SecretSource = src
		o.Secrets = []string{"EXTRA=cli-secret-value"}
	})
	require.Equal(t, StatusSucceeded, b.res.Status, b.log)
	for _, v := range []string{"npm_0123456789abcdef", "npm_01", "23456789abcdef", "pa55w0rd-db", "MIIBOgIBAAJBAKj34GkxFhD9", "cli-secret-value"} {
		assert.False(t, strings.Contains(b.log, v), "the log shows %q:\n%s", v, b.log)
	}
	assertLines(t, b.log,
		"token is ***",
		"split *** end",
		"db ***",
		"extra ***",
	)
	assert.Contains(t, b.log, "Running command echo typed-in-the-buildspec-***-too ***")
}

// A value an override gives a secrets-manager variable (no AWS access) is hidden the same way.
func TestAnOverriddenSecretVariableIsMaskedToo(t *testing.T) {
	t.Parallel()
	b := runYAML(t, secretSpec, nil, func(o *Options) {
		o.Env = []string{"TOKEN=override-token-value", "DB_PASS=override-db-value"}
	})
	assert.NotContains(t, b.log, "override-token-value")
	assert.NotContains(t, b.log, "override-db-value")
	assertLines(t, b.log, "token is ***", "db ***")
}

func TestAFetchThatFailsStopsTheBuildBeforeItStarts(t *testing.T) {
	t.Parallel()
	spec, _, err := Parse("buildspec.yml", []byte(secretSpec))
	require.NoError(t, err)
	_, err = Run(context.Background(), spec, Options{SrcDir: t.TempDir(), SecretSource: fakeSecrets{}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "env.parameter-store DB_PASS: parameter /app/db-pass not found")
}
