package iamcheck

import (
	"encoding/json"
	"errors"
	"fmt"
)

// SetManagedPolicies gives the documents of managed policies by ARN, so that RolePolicy
// evaluates a role the template attaches them to: a policy the stack attaches but does not
// define (an operator's, named by a parameter) is read from the file it is created from.
func (t *Template) SetManagedPolicies(docs map[string]Policy) { t.managed = docs }

// ManagedPolicyArns resolves the ARNs of the managed policies attached to a role: its
// ManagedPolicyArns, whose Fn::If and Fn::Split follow the parameters. None is nil.
func (t *Template) ManagedPolicyArns(role string) ([]string, error) {
	props, typ, err := t.resource(role)
	if err != nil {
		return nil, err
	}
	if typ != "AWS::IAM::Role" {
		return nil, fmt.Errorf("%s is a %s, not a role", role, typ)
	}
	arns, err := t.Strings(props["ManagedPolicyArns"], nil)
	if err != nil {
		return nil, fmt.Errorf("%s ManagedPolicyArns: %w", role, err)
	}
	if len(arns) == 0 {
		return nil, nil
	}
	return arns, nil
}

// managedPolicies are the statements of the role's managed policies, from the documents
// given; a policy without one is an error.
func (t *Template) managedPolicies(role string) (Policy, error) {
	arns, err := t.ManagedPolicyArns(role)
	if err != nil {
		return nil, err
	}
	var out Policy
	for _, arn := range arns {
		doc, ok := t.managed[arn]
		if !ok {
			return nil, fmt.Errorf("%s has managed policy %s, whose document iamcheck was not given (SetManagedPolicies)", role, arn)
		}
		out = append(out, doc...)
	}
	return out, nil
}

// ParsePolicy reads an identity policy document in JSON, as `aws iam create-policy
// --policy-document` takes it: Statement is one statement or a list, Action and Resource (and
// their Not forms) a string or a list. Each statement must allow or deny some action on some
// resource.
func ParsePolicy(raw []byte) (Policy, error) {
	var doc struct {
		Version   string          `json:"Version"`
		Statement json.RawMessage `json:"Statement"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("policy document: %w", err)
	}
	if doc.Version != "2012-10-17" {
		// The older version does not read policy variables: ${…} would be literal text.
		return nil, fmt.Errorf("policy document: Version %q, want 2012-10-17", doc.Version)
	}
	var list []any
	if err := json.Unmarshal(doc.Statement, &list); err != nil {
		var one map[string]any
		if err := json.Unmarshal(doc.Statement, &one); err != nil || one == nil {
			return nil, errors.New("policy document: Statement is neither a statement nor a list of them")
		}
		list = []any{one}
	}
	var out Policy
	empty := NewTemplate(nil)
	for i, s := range list {
		m, ok := s.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("policy document: statement %d is not an object", i+1)
		}
		for _, key := range []string{"Action", "NotAction", "Resource", "NotResource"} {
			if v, ok := m[key]; ok && !stringOrStrings(v) {
				return nil, fmt.Errorf("policy document: statement %d: %s is neither a string nor a list of strings", i+1, key)
			}
		}
		st, err := empty.statement(s)
		if err != nil {
			return nil, fmt.Errorf("policy document: statement %d: %w", i+1, err)
		}
		switch {
		case st.Effect != "Allow" && st.Effect != "Deny":
			return nil, fmt.Errorf("policy document: statement %d: Effect %q, want Allow or Deny", i+1, st.Effect)
		case len(st.Action) == 0 && len(st.NotAction) == 0:
			return nil, fmt.Errorf("policy document: statement %d names no Action", i+1)
		case len(st.Resource) == 0 && len(st.NotResource) == 0:
			return nil, fmt.Errorf("policy document: statement %d names no Resource", i+1)
		}
		out = append(out, st)
	}
	if len(out) == 0 {
		return nil, errors.New("policy document: no statement")
	}
	return out, nil
}

func stringOrStrings(v any) bool {
	if _, ok := v.(string); ok {
		return true
	}
	l, ok := v.([]any)
	for _, x := range l {
		if _, s := x.(string); !s {
			return false
		}
	}
	return ok
}
