package bitbucket

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/scm"
)

// handledKeys are the event keys Parse reads a body for.
var handledKeys = []string{"repo:push", "pullrequest:created", "pullrequest:updated", "pullrequest:fulfilled", "pullrequest:rejected"}

// sameShape reports whether a body of key a may pass for one of key b: pullrequest:created
// and :updated send the same pull request, in the same state, and Bitbucket signs nothing
// that tells them apart.
func sameShape(a, b string) bool {
	open := map[string]bool{"pullrequest:created": true, "pullrequest:updated": true}
	return a == b || open[a] && open[b]
}

func TestABodyParsedUnderAnotherKeyThanItsOwnIsRefused(t *testing.T) {
	t.Parallel()
	for _, f := range allFixtures(t) {
		for _, key := range handledKeys {
			if sameShape(key, f.Event) {
				continue
			}
			t.Run(f.Name+" sent as "+key+" starts nothing", func(t *testing.T) {
				t.Parallel()
				got, err := Parse(key, delivery, f.Body)
				assert.Nil(t, got)
				var ig *scm.IgnoredError
				var mal *scm.MalformedError
				require.True(t, errors.As(err, &ig) || errors.As(err, &mal), "a %s body under %s answered %v", f.Event, key, err)
			})
		}
	}
}

func TestAnOpenPullRequestBodyUnderItsSiblingKeyChangesOnlyTheAction(t *testing.T) {
	t.Parallel()
	sibling := map[string]string{"pullrequest:created": "pullrequest:updated", "pullrequest:updated": "pullrequest:created"}
	seen := 0
	for _, f := range allFixtures(t) {
		other, ok := sibling[f.Event]
		if !ok {
			continue
		}
		own, ownErr := Parse(f.Event, delivery, f.Body)
		got, err := Parse(other, delivery, f.Body)
		if ownErr != nil {
			assert.Error(t, err, "%s: refused under its own key, so under %s too", f.Name, other)
			continue
		}
		seen++
		require.NoError(t, err, f.Name)
		require.Len(t, got, 1)
		assert.Equal(t, map[string]string{"pullrequest:created": scm.PRUpdated, "pullrequest:updated": scm.PROpened}[f.Event], got[0].PullRequest.Action)
		got[0].PullRequest.Action = own[0].PullRequest.Action
		assert.Equal(t, own, got, "%s: nothing but the action depends on the unsigned key", f.Name)
	}
	assert.Positive(t, seen, "some fixture is an open pull request")
}
