package buildspec

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// SecretSource fetches the values a buildspec's env.parameter-store and env.secrets-manager
// refer to, as CodeBuild does with the project's service role when a build starts. Locally it
// uses the caller's credentials (see pkg/awssecrets).
type SecretSource interface {
	// Parameter returns the decrypted value of the Systems Manager parameter name.
	Parameter(ctx context.Context, name string) (string, error)
	// Secret returns the value a secrets-manager reference names:
	// secret-id[:json-key[:version-stage[:version-id]]].
	Secret(ctx context.Context, reference string) (string, error)
}

// fetchSecrets resolves the buildspec's parameter-store and secrets-manager variables through
// src, in name order so errors are reproducible. Without a source nothing is fetched.
func fetchSecrets(ctx context.Context, spec *Spec, src SecretSource) ([][2]string, error) {
	if src == nil {
		return nil, nil
	}
	var out [][2]string
	for _, name := range slices.Sorted(maps.Keys(spec.Env.ParameterStore)) {
		v, err := src.Parameter(ctx, spec.Env.ParameterStore[name])
		if err != nil {
			return nil, fmt.Errorf("env.parameter-store %s: %w", name, err)
		}
		out = append(out, [2]string{name, v})
	}
	for _, name := range slices.Sorted(maps.Keys(spec.Env.SecretsManager)) {
		v, err := src.Secret(ctx, spec.Env.SecretsManager[name])
		if err != nil {
			return nil, fmt.Errorf("env.secrets-manager %s: %w", name, err)
		}
		out = append(out, [2]string{name, v})
	}
	return out, nil
}

// secretValues lists the values the build log hides: those of the buildspec's parameter-store
// and secrets-manager variables as the build sees them (fetched, or set by an override), and
// those of Options.Secrets.
func secretValues(spec *Spec, env, secrets []string) []string {
	var out []string
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		_, ssm := spec.Env.ParameterStore[k]
		_, sm := spec.Env.SecretsManager[k]
		if ssm || sm {
			out = append(out, v)
		}
	}
	for _, kv := range secrets {
		_, v, _ := strings.Cut(kv, "=")
		out = append(out, v)
	}
	return out
}
