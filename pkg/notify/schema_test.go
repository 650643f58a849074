package notify

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// schema is the subset of JSON Schema testdata/chatbot-schema.json uses.
type schema struct {
	Type                 string             `json:"type"`
	Const                *string            `json:"const"`
	MinLength            int                `json:"minLength"`
	Required             []string           `json:"required"`
	Properties           map[string]*schema `json:"properties"`
	AdditionalProperties json.RawMessage    `json:"additionalProperties"`
	Items                *schema            `json:"items"`
}

func loadSchema(t *testing.T) *schema {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "chatbot-schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s schema
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

// validate lists every way v (decoded JSON) breaks s, each with its path.
func (s *schema) validate(path string, v any) []string {
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
				var sub schema
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

// validateMessage checks a message's JSON against the documented schema.
func validateMessage(t *testing.T, s *schema, raw []byte) []string {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return []string{err.Error()}
	}
	return s.validate("$", v)
}

// The validator itself must refuse what the documentation refuses, or a passing message
// proves nothing.
func TestTheSchemaValidatorRefusesWhatTheDocumentationRefuses(t *testing.T) {
	t.Parallel()
	s := loadSchema(t)
	for name, raw := range map[string]string{
		"a version other than 1.0":          `{"version":"2.0","source":"custom","content":{"description":"x"}}`,
		"a source other than custom":        `{"version":"1.0","source":"stepline","content":{"description":"x"}}`,
		"no content":                        `{"version":"1.0","source":"custom"}`,
		"another text type":                 `{"version":"1.0","source":"custom","content":{"textType":"markdown","description":"x"}}`,
		"next steps that are no list":       `{"version":"1.0","source":"custom","content":{"description":"x","nextSteps":"do it"}}`,
		"a field Chatbot does not know":     `{"version":"1.0","source":"custom","content":{"description":"x","body":"y"}}`,
		"a context value that is no string": `{"version":"1.0","source":"custom","content":{"description":"x"},"metadata":{"additionalContext":{"n":1}}}`,
	} {
		if errs := validateMessage(t, s, []byte(raw)); len(errs) == 0 {
			t.Errorf("%s: accepted", name)
		}
	}
	if errs := validateMessage(t, s, []byte(`{"version":"1.0","source":"custom","content":{"textType":"client-markdown","title":"t","description":"d"}}`)); len(errs) > 0 {
		t.Errorf("the documented minimal message is refused: %v", errs)
	}
}
