package approval

import (
	"encoding/base64"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAKeyIsThirtyTwoRandomBytesInUnpaddedBase64URL(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 1000 {
		k := NewKey()
		assert.Regexp(t, regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`), k)
		raw, err := base64.RawURLEncoding.DecodeString(k)
		require.NoError(t, err)
		assert.Len(t, raw, 32)
		assert.False(t, seen[k], "a key is never drawn twice")
		seen[k] = true
	}
}

func TestARequestAdmitsOnlyItsOwnKey(t *testing.T) {
	t.Parallel()
	r := Request{Key: testKey}
	assert.True(t, r.Admits(testKey))
	for _, bad := range []string{"", testKey[:42], testKey + "A", strings.ToUpper(testKey), NewKey()} {
		assert.False(t, r.Admits(bad), bad)
	}
	assert.False(t, Request{}.Admits(""), "a request kept without a key admits nothing, not even no key")
}

func TestTaskKeysAreWhatTheRoutesAccept(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "Release.Approve.1", TaskKey("Release", "Approve", 1))
	assert.True(t, ValidTask(TaskKey("Deploy-prod", "go_live", 12)))
	for _, bad := range []string{"", "Release", "Release.Approve", "Release.Approve.0", "Release.Approve.x",
		"Release/Approve/1", ".Approve.1", "Release..1", "Release.Approve.1#request", "Re lease.Approve.1"} {
		assert.False(t, ValidTask(bad), bad)
	}
	assert.True(t, ValidRun("api-7"))
	for _, bad := range []string{"", "-api", "api/7", "api 7", "..", "api%2F7"} {
		assert.False(t, ValidRun(bad), bad)
	}
}

func TestLinksOpenThePageWithTheKeyAndOnlyPreselectADecision(t *testing.T) {
	t.Parallel()
	for _, base := range []string{"https://abc.execute-api.us-east-1.amazonaws.com", "https://abc.execute-api.us-east-1.amazonaws.com/"} {
		l := LinksFor(base, "api-7", "Release.Approve.1", testKey)
		assert.Equal(t, "https://abc.execute-api.us-east-1.amazonaws.com/approvals/api-7/Release.Approve.1?key="+testKey, l.Review)
		for link, decision := range map[string]string{l.Approve: "approve", l.Reject: "reject"} {
			u, err := url.Parse(link)
			require.NoError(t, err)
			assert.Equal(t, "/approvals/api-7/Release.Approve.1", u.Path)
			assert.Equal(t, testKey, u.Query().Get("key"))
			assert.Equal(t, decision, u.Query().Get("decision"))
		}
	}
}
