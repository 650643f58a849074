package reposecret

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzParse throws any value at the repository secret parser: it never panics, a value it
// accepts has a known provider, a repository and a key, and no error shows a webhook secret or
// the token (errors name the field, never its value).
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"provider":"github","repository":"octo/app","webhook_secrets":["s3cr3t-value"],"token":"ghp_token-value"}`))
	f.Add([]byte(`{"provider":"bitbucket-server","repository":"PROJ/app","webhook_secrets":["old-secret","new-secret"],"token":"bbs-token","api_url":"https://git.example.com"}`))
	f.Add([]byte(`{"provider":"bitbucket","repository":"","webhook_secrets":[""]}`))
	f.Add([]byte(`"webhook_secrets"`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := Parse(raw)
		if err != nil {
			for _, v := range secretsIn(raw) {
				if strings.Contains(err.Error(), v) {
					t.Fatalf("error %q shows a secret value", err)
				}
			}
			return
		}
		if s.Provider != "github" && s.Provider != "bitbucket" && s.Provider != "bitbucket-server" {
			t.Fatalf("accepted provider %q", s.Provider)
		}
		if s.Repository == "" || len(s.Keys()) == 0 {
			t.Fatalf("accepted %s without a repository or key", s)
		}
		for _, v := range secretsIn(raw) {
			if strings.Contains(s.String()+s.GoString(), v) {
				t.Fatalf("%s shows a secret value", s)
			}
		}
	})
}

// secretsIn returns the token and webhook secrets raw holds, when it decodes at all, leaving out
// values short enough to appear in any error's wording and those the provider or repository
// (which may be shown) hold.
func secretsIn(raw []byte) []string {
	var s Secret
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil
	}
	var out []string
	for _, v := range append([]string{s.Token}, s.WebhookSecrets...) {
		if len(v) >= 8 && !strings.Contains(s.Provider+" "+s.Repository, v) {
			out = append(out, v)
		}
	}
	return out
}
