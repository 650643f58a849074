package iamcheck

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// managedStack attaches the managed policies a comma-separated parameter names, as the
// stack's BuildPolicyArns does: Fn::If over the parameter's condition, Fn::Split of its list.
func managedStack() map[string]any {
	return map[string]any{
		"Parameters": map[string]any{"Policies": map[string]any{"Type": "String", "Default": ""}},
		"Conditions": map[string]any{"HasPolicies": map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "Policies"}, ""}}}}},
		"Resources": map[string]any{"Role": map[string]any{"Type": "AWS::IAM::Role", "Properties": map[string]any{
			"ManagedPolicyArns": map[string]any{"Fn::If": []any{"HasPolicies",
				map[string]any{"Fn::Split": []any{",", map[string]any{"Ref": "Policies"}}}, map[string]any{"Ref": "AWS::NoValue"}}},
			"Policies": []any{map[string]any{"PolicyDocument": map[string]any{"Statement": []any{
				map[string]any{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::artifacts/runs/*"},
			}}}},
		}}},
	}
}

func TestAManagedPolicyIsEvaluatedFromTheDocumentGiven(t *testing.T) {
	t.Parallel()
	const (
		invalidate = "arn:aws:iam::123456789012:policy/site-build"
		deny       = "arn:aws:iam::123456789012:policy/no-runs"
	)
	docs := map[string]string{
		invalidate: `{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "cloudfront:CreateInvalidation",
			"Resource": "arn:aws:cloudfront::*:distribution/E2QWRUHAPOMQZL"}}`,
		deny: `{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": ["s3:PutObject"], "Resource": ["arn:aws:s3:::artifacts/runs/*"]}]}`,
	}
	policies := map[string]Policy{}
	for arn, raw := range docs {
		p, err := ParsePolicy([]byte(raw))
		require.NoError(t, err, arn)
		policies[arn] = p
	}
	invalidation := Request{Action: "cloudfront:CreateInvalidation", Resource: "arn:aws:cloudfront::123456789012:distribution/E2QWRUHAPOMQZL"}
	upload := Request{Action: "s3:PutObject", Resource: "arn:aws:s3:::artifacts/runs/a/bin.zip"}

	tmpl := NewTemplate(managedStack())
	arns, err := tmpl.ManagedPolicyArns("Role")
	require.NoError(t, err)
	assert.Nil(t, arns, "none attached at the default")
	p, err := tmpl.RolePolicy("Role")
	require.NoError(t, err)
	assert.False(t, p.Allows(invalidation))
	assert.True(t, p.Allows(upload))

	tmpl.SetParameters(map[string]string{"Policies": invalidate + "," + deny})
	arns, err = tmpl.ManagedPolicyArns("Role")
	require.NoError(t, err)
	assert.Equal(t, []string{invalidate, deny}, arns)
	_, err = tmpl.RolePolicy("Role")
	assert.ErrorContains(t, err, "managed policy "+invalidate+", whose document iamcheck was not given",
		"a role whose managed policy is unknown cannot be judged either way")

	tmpl.SetManagedPolicies(policies)
	p, err = tmpl.RolePolicy("Role")
	require.NoError(t, err)
	assert.True(t, p.Allows(invalidation), "the managed policy's grant")
	assert.False(t, p.Allows(Request{Action: "cloudfront:CreateInvalidation", Resource: "arn:aws:cloudfront::123456789012:distribution/EOTHER"}))
	assert.False(t, p.Allows(upload), "a managed policy's Deny wins over the inline Allow")
}

func TestParsePolicyRefusesWhatIsNotAPolicyDocument(t *testing.T) {
	t.Parallel()
	for name, raw := range map[string]string{
		"not JSON":                     `Version: 2012-10-17`,
		"the old version":              `{"Version": "2008-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}`,
		"no statement":                 `{"Version": "2012-10-17", "Statement": []}`,
		"a statement that is a string": `{"Version": "2012-10-17", "Statement": ["allow"]}`,
		"an effect that is neither":    `{"Version": "2012-10-17", "Statement": [{"Effect": "Permit", "Action": "s3:GetObject", "Resource": "*"}]}`,
		"no action":                    `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*"}]}`,
		"no resource":                  `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject"}]}`,
		"an action that is a number":   `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": 3, "Resource": "*"}]}`,
	} {
		_, err := ParsePolicy([]byte(raw))
		assert.Error(t, err, name)
	}
}

// Any bytes: ParsePolicy returns a policy whose every statement allows or denies some action
// on some resource, or an error; it never panics.
func FuzzParsePolicy(f *testing.F) {
	f.Add([]byte(`{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "cloudfront:CreateInvalidation", "Resource": "arn:aws:cloudfront::*:distribution/E2"}}`))
	f.Add([]byte(`{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "NotAction": ["s3:*"], "NotResource": ["*"], "Condition": {"StringLike": {"s3:prefix": ["a/*"]}}}]}`))
	f.Add([]byte(`{"Version": "2012-10-17", "Statement": null}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := ParsePolicy(raw)
		if err != nil {
			return
		}
		require.NotEmpty(t, p)
		for _, s := range p {
			assert.Contains(t, []string{"Allow", "Deny"}, s.Effect)
			assert.True(t, len(s.Action)+len(s.NotAction) > 0 && len(s.Resource)+len(s.NotResource) > 0, "%+v", s)
		}
	})
}
