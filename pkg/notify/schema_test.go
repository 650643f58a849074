package notify

import (
	"path/filepath"
	"testing"

	"github.com/stepline/stepline/pkg/notify/notifytest"
)

func loadSchema(t *testing.T) *notifytest.Schema {
	t.Helper()
	return notifytest.LoadSchema(t, filepath.Join("testdata", "chatbot-schema.json"))
}

// validateMessage checks a message's JSON against the documented schema.
func validateMessage(t *testing.T, s *notifytest.Schema, raw []byte) []string {
	t.Helper()
	return s.Validate(raw)
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
