// Package awssecrets fetches what a buildspec's env.parameter-store and env.secrets-manager
// name, with the caller's credentials, so a local build gets the values a CodeBuild build
// would (buildspec.SecretSource). The references follow the buildspec reference
// (https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html, env/parameter-store
// and env/secrets-manager): a parameter name, and secret-id:json-key:version-stage:version-id.
package awssecrets

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/stepline/stepline/pkg/buildspec"
)

// parameterGetter is the Systems Manager call a parameter-store variable needs.
type parameterGetter interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, optFns ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

// secretGetter is the Secrets Manager call a secrets-manager variable needs.
type secretGetter interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

var (
	_ parameterGetter = (*ssm.Client)(nil)
	_ secretGetter    = (*secretsmanager.Client)(nil)
)

// Source fetches parameters and secrets.
type Source struct {
	ssm parameterGetter
	sm  secretGetter
}

var _ buildspec.SecretSource = (*Source)(nil)

// New returns a Source reading through the given clients.
func New(params parameterGetter, secrets secretGetter) *Source {
	return &Source{ssm: params, sm: secrets}
}

// Parameter returns the parameter's value, decrypted when it is a SecureString, as CodeBuild
// passes it to the build.
func (s *Source) Parameter(ctx context.Context, name string) (string, error) {
	out, err := s.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
	if err != nil {
		return "", fmt.Errorf("get parameter %s: %w", name, err)
	}
	if out.Parameter == nil || out.Parameter.Value == nil {
		return "", fmt.Errorf("get parameter %s: no value", name)
	}
	return *out.Parameter.Value, nil
}

// Reference is a parsed secrets-manager reference.
type Reference struct {
	// SecretID is the secret's name or ARN.
	SecretID string
	// JSONKey, when set, names the field of a JSON secret to take; otherwise the whole
	// secret string is the value.
	JSONKey      string
	VersionStage string
	VersionID    string
}

// ParseReference reads secret-id[:json-key[:version-stage[:version-id]]]. A secret id that is
// an ARN holds colons itself: its seven fields (arn:partition:secretsmanager:region:account:
// secret:name) are taken whole.
func ParseReference(ref string) (Reference, error) {
	parts := strings.Split(ref, ":")
	idFields := 1
	if parts[0] == "arn" {
		idFields = 7
	}
	if len(parts) < idFields || len(parts) > idFields+3 {
		return Reference{}, fmt.Errorf("secrets-manager reference %q: want secret-id:json-key:version-stage:version-id", ref)
	}
	r := Reference{SecretID: strings.Join(parts[:idFields], ":")}
	rest := append(parts[idFields:], "", "", "")
	r.JSONKey, r.VersionStage, r.VersionID = rest[0], rest[1], rest[2]
	if r.SecretID == "" || strings.HasSuffix(r.SecretID, ":") {
		return Reference{}, fmt.Errorf("secrets-manager reference %q: no secret id", ref)
	}
	if r.VersionStage != "" && r.VersionID != "" {
		return Reference{}, fmt.Errorf("secrets-manager reference %q: give a version stage or a version id, not both", ref)
	}
	return r, nil
}

// Secret returns the value reference names: the secret string, or one field of it.
func (s *Source) Secret(ctx context.Context, reference string) (string, error) {
	r, err := ParseReference(reference)
	if err != nil {
		return "", err
	}
	in := &secretsmanager.GetSecretValueInput{SecretId: aws.String(r.SecretID)}
	if r.VersionStage != "" {
		in.VersionStage = aws.String(r.VersionStage)
	}
	if r.VersionID != "" {
		in.VersionId = aws.String(r.VersionID)
	}
	out, err := s.sm.GetSecretValue(ctx, in)
	if err != nil {
		return "", fmt.Errorf("get secret %s: %w", r.SecretID, err)
	}
	if out.SecretString == nil {
		return "", fmt.Errorf("secret %s holds no string (a binary secret cannot be an environment variable)", r.SecretID)
	}
	if r.JSONKey == "" {
		return *out.SecretString, nil
	}
	var fields map[string]any
	if err := json.Unmarshal([]byte(*out.SecretString), &fields); err != nil {
		return "", fmt.Errorf("secret %s: json-key %s given, but the secret is not a JSON object", r.SecretID, r.JSONKey)
	}
	v, ok := fields[r.JSONKey]
	if !ok {
		return "", fmt.Errorf("secret %s has no key %s", r.SecretID, r.JSONKey)
	}
	switch v := v.(type) {
	case string:
		return v, nil
	case nil:
		return "", fmt.Errorf("secret %s: key %s is null", r.SecretID, r.JSONKey)
	default:
		b, _ := json.Marshal(v)
		return string(b), nil
	}
}
