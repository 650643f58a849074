package approval

import (
	"net/url"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTheKeyIsAnUnpaddedURLSafeDigestOfTheToken(t *testing.T) {
	t.Parallel()
	k := Key(testToken)
	assert.Len(t, k, 32, "24 bytes of SHA-256 in base64url")
	assert.Regexp(t, regexp.MustCompile(`^[A-Za-z0-9_-]{32}$`), k)
	assert.Equal(t, k, Key(testToken), "the page recomputes it from the stored token")
	assert.NotEqual(t, k, Key(testToken+"x"))
	// The known answer (computed with Python's hashlib) pins base64url(SHA-256("token")[:24]).
	assert.Equal(t, "PEaenWxYddN6Q_NT1PiOYfz4EsZu7jRX", Key("token"))
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
		l := LinksFor(base, "api-7", "Release.Approve.1", Key(testToken))
		assert.Equal(t, "https://abc.execute-api.us-east-1.amazonaws.com/approvals/api-7/Release.Approve.1?key="+Key(testToken), l.Review)
		for link, decision := range map[string]string{l.Approve: "approve", l.Reject: "reject"} {
			u, err := url.Parse(link)
			require.NoError(t, err)
			assert.Equal(t, "/approvals/api-7/Release.Approve.1", u.Path)
			assert.Equal(t, Key(testToken), u.Query().Get("key"))
			assert.Equal(t, decision, u.Query().Get("decision"))
		}
	}
}
