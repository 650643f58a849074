// Package notifytest holds what tests of notifications share: the validator of AWS Chatbot
// custom notifications against the documented schema.
package notifytest

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
)

// Schema is the subset of JSON Schema pkg/notify/testdata/chatbot-schema.json uses: the
// documented shape of an AWS Chatbot custom notification
// (https://docs.aws.amazon.com/chatbot/latest/adminguide/custom-notifs.html).
type Schema struct {
	Type                 string             `json:"type"`
	Const                *string            `json:"const"`
	MinLength            int                `json:"minLength"`
	Required             []string           `json:"required"`
	Properties           map[string]*Schema `json:"properties"`
	AdditionalProperties json.RawMessage    `json:"additionalProperties"`
	Items                *Schema            `json:"items"`
}

// LoadSchema reads the schema file at path.
func LoadSchema(t testing.TB, path string) *Schema {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s Schema
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

// validate lists every way v (decoded JSON) breaks s, each with its path.
func (s *Schema) validate(path string, v any) []string {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, path+": "+fmt.Sprintf(format, args...)) }
	switch s.Type {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			bad("not an object")
			return errs
		}
		for _, r := range s.Required {
			if _, ok := m[r]; !ok {
				bad("%s is required", r)
			}
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if p, ok := s.Properties[k]; ok {
				errs = append(errs, p.validate(path+"."+k, m[k])...)
				continue
			}
			switch ap := strings.TrimSpace(string(s.AdditionalProperties)); {
			case ap == "false":
				bad("%s is not a field of the schema", k)
			case strings.HasPrefix(ap, "{"):
				var sub Schema
				_ = json.Unmarshal(s.AdditionalProperties, &sub)
				errs = append(errs, sub.validate(path+"."+k, m[k])...)
			}
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			bad("not an array")
			return errs
		}
		for i, e := range a {
			errs = append(errs, s.Items.validate(fmt.Sprintf("%s[%d]", path, i), e)...)
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			bad("not a string")
			return errs
		}
		if s.Const != nil && str != *s.Const {
			bad("%q, must be %q", str, *s.Const)
		}
		if len(str) < s.MinLength {
			bad("empty")
		}
	}
	return errs
}

// Validate lists every way the JSON raw breaks the schema, each with its path; none when it
// is a valid message.
func (s *Schema) Validate(raw []byte) []string {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return []string{err.Error()}
	}
	return s.validate("$", v)
}
